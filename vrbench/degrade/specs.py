"""What one degradation stage may hold, per operation: card specs, manifest entries, and their one-line description.

Pure functions over plain dicts (no NumPy arrays, no torch): `ops.py` puts them in the operation table beside the
samplers and the batched operators. Cards are validated on load so a bad range fails with the offending value, not
halfway through a benchmark; manifests are validated before a replay.
"""

from __future__ import annotations

import math

from vrbench.degrade.kernels import KERNEL_KINDS, SUBNORMAL_TAPS, filter_taps
from vrbench.errors import InputError

CODECS = ("libx264", "h264", "mpeg4")
INTERPOLATIONS = ("area", "bilinear", "bicubic", "bicubic_aa")


# ---- card stage specs ---------------------------------------------------------------------------------------------
def check_range(stage: dict, key: str, where: str, low: float, high: float) -> None:
    """`stage[key]` must be [lo, hi] with low <= lo <= hi <= high."""
    value = stage.get(key)
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and low <= value[0] <= value[1] <= high
    if not ok:
        raise InputError(f"bad range '{key}'", file=where, expected=f"[lo, hi] within [{low}, {high}]", found=value)


def check_probs(stage: dict, key: str, where: str, allowed: tuple[str, ...]) -> None:
    """`stage[key]` must map allowed names to probabilities summing to 1 (within 1e-3)."""
    probs = stage.get(key)
    ok = isinstance(probs, dict) and probs and set(probs) <= set(allowed) and all(p >= 0 for p in probs.values())
    if not ok or abs(sum(probs.values()) - 1) > 1e-3:
        raise InputError(f"bad probabilities '{key}'", file=where,
                         expected=f"a mapping over {allowed} summing to 1", found=probs)


def check_prob(stage: dict, key: str, where: str) -> None:
    value = stage.get(key)
    if not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise InputError(f"bad probability '{key}'", file=where, expected="a number in [0, 1]", found=value)


def check_steps(stage: dict, where: str, keys: tuple[str, ...]) -> None:
    steps = stage.get("steps", {}) or {}
    bad = {k: v for k, v in steps.items() if k not in keys or not isinstance(v, (int, float)) or v < 0}
    if bad:
        raise InputError("bad random-walk steps", file=where, expected=f"non-negative numbers for {keys}", found=bad)


def check_usm(stage: dict, where: str) -> None:
    size, weight, threshold = stage.get("size"), stage.get("weight"), stage.get("threshold")
    if not isinstance(size, int) or size < 1 or size % 2 == 0 or not 0 <= weight <= 10 or not 0 <= threshold <= 255:
        raise InputError("bad USM settings", file=where, expected="odd size, weight in [0, 10], threshold in [0, 255]",
                         found=(size, weight, threshold))


def check_blur(stage: dict, where: str) -> None:
    check_prob(stage, "prob", where)
    sizes = stage.get("sizes")
    if not sizes or any(not isinstance(k, int) or k < 1 or k % 2 == 0 or k > 63 for k in sizes):
        raise InputError("bad kernel sizes", file=where, expected="odd integers in [1, 63]", found=sizes)
    check_probs(stage, "kinds", where, KERNEL_KINDS)
    gaussian_like = [k for k in stage["kinds"] if k != "sinc"]
    if gaussian_like:
        check_range(stage, "sigma_x", where, 1e-3, 100)
    if any(k.endswith("aniso") for k in gaussian_like):
        check_range(stage, "sigma_y", where, 1e-3, 100)
        check_range(stage, "theta", where, -2 * math.pi, 2 * math.pi)
    if any(k.startswith("generalized") for k in gaussian_like):
        check_range(stage, "beta_generalized", where, 1e-3, 100)
    if any(k.startswith("plateau") for k in gaussian_like):
        check_range(stage, "beta_plateau", where, 1e-3, 100)
    if "sinc" in stage["kinds"] and stage.get("omega") is not None:
        check_range(stage, "omega", where, 1e-3, math.pi + 1e-3)
    check_steps(stage, where, ("sigma", "theta", "beta_generalized", "beta_plateau", "omega"))
    if stage.get("subnormal_taps", "keep") not in SUBNORMAL_TAPS:
        raise InputError("bad blur 'subnormal_taps'", file=where, expected=SUBNORMAL_TAPS,
                         found=stage["subnormal_taps"])


def check_resize(stage: dict, where: str) -> None:
    check_probs(stage, "interpolation", where, INTERPOLATIONS)
    target = stage.get("target")
    if target not in ("scale", "output"):
        raise InputError("bad resize target", file=where, expected=("scale", "output"), found=target)
    if target == "output":
        return
    if stage.get("relative_to") not in ("current", "output"):
        raise InputError("bad resize 'relative_to'", file=where, expected=("current", "output"),
                         found=stage.get("relative_to"))
    check_probs(stage, "probs", where, ("up", "down", "keep"))
    check_range(stage, "up", where, 1.0, 16.0)
    check_range(stage, "down", where, 1e-3, 1.0)
    if not isinstance(stage.get("step", 0), (int, float)) or stage.get("step", 0) < 0:
        raise InputError("bad resize step", file=where, expected=">= 0", found=stage.get("step"))


def check_noise(stage: dict, where: str) -> None:
    check_prob(stage, "gaussian_prob", where)
    check_prob(stage, "gray_prob", where)
    check_range(stage, "gaussian_sigma", where, 0.0, 255.0)
    check_range(stage, "poisson_scale", where, 0.0, 100.0)
    check_steps(stage, where, ("gaussian_sigma", "poisson_scale"))


def check_jpeg(stage: dict, where: str) -> None:
    check_range(stage, "quality", where, 1, 100)
    if not isinstance(stage.get("step", 0), (int, float)) or stage.get("step", 0) < 0:
        raise InputError("bad JPEG quality step", file=where, expected=">= 0", found=stage.get("step"))


def check_video(stage: dict, where: str) -> None:
    check_probs(stage, "codecs", where, CODECS)
    check_range(stage, "bitrate", where, 1000, 1e9)


def check_subsample(stage: dict, where: str) -> None:
    offset = stage.get("offset", 0)
    if not isinstance(offset, int) or offset < 0:
        raise InputError("bad subsample offset", file=where, expected="an integer >= 0", found=offset)


def check_nothing(stage: dict, where: str) -> None:
    """Stages without settings (quantize)."""


# ---- manifest entries (per-frame stages: one entry per frame; clip-level stages: the stage itself) --------------
def is_number(value: object, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def check_blur_entry(entry: dict, where: str) -> None:
    if entry.get("subnormal_taps", "keep") not in SUBNORMAL_TAPS:
        raise InputError("bad blur 'subnormal_taps'", file=where, expected=SUBNORMAL_TAPS,
                         found=entry["subnormal_taps"])
    try:
        filter_taps(entry)
    except KeyError as e:
        raise InputError("blur entry lacks a parameter", file=where, expected=str(e), found=sorted(entry)) from e


def check_resize_entry(entry: dict, where: str) -> None:
    ok = entry.get("mode") in INTERPOLATIONS and all(isinstance(entry.get(k), int) and entry[k] >= 1
                                                     for k in ("height", "width"))
    if not ok:
        raise InputError("bad resize entry", file=where, expected=f"mode in {INTERPOLATIONS}, height/width >= 1",
                         found=entry)


def check_noise_entry(entry: dict, where: str) -> None:
    level = "sigma" if entry.get("kind") == "gaussian" else "scale"
    ok = (entry.get("kind") in ("gaussian", "poisson") and is_number(entry.get(level), 0, 1e4)
          and isinstance(entry.get("seed"), int) and entry["seed"] >= 0 and isinstance(entry.get("gray"), bool))
    if not ok:
        raise InputError("bad noise entry", file=where, expected="kind, sigma/scale >= 0, integer seed, gray flag",
                         found=entry)


def check_jpeg_entry(entry: dict, where: str) -> None:
    if not (isinstance(entry.get("quality"), int) and 1 <= entry["quality"] <= 100):
        raise InputError("bad JPEG quality", file=where, expected="an integer in [1, 100]", found=entry.get("quality"))


def check_video_entry(stage: dict, where: str) -> None:
    if not (isinstance(stage.get("codec"), str) and is_number(stage.get("bitrate"), 1000, 1e9)):
        raise InputError("bad video stage", file=where, expected="codec name and bitrate in [1e3, 1e9]",
                         found={k: stage.get(k) for k in ("codec", "bitrate")})


# ---- description (contact sheets) -----------------------------------------------------------------------------
def describe_usm(stage: dict, frame: int) -> str:
    return f"usm k={stage['size']} weight={stage['weight']} threshold={stage['threshold']}"


def describe_blur(stage: dict, frame: int) -> str:
    entry = stage["frames"][frame]
    if entry is None:
        return "blur: skipped"
    if entry["kind"] == "sinc":
        return f"blur sinc k={entry['size']} omega={entry['omega']:.2f}"
    shape = "".join(f" {k}={entry[k]:.2f}" for k in ("sigma_x", "sigma_y", "theta", "beta") if k in entry)
    return f"blur {entry['kind']} k={entry['size']}{shape}"


def describe_resize(stage: dict, frame: int) -> str:
    entry = stage["frames"][frame]
    if stage.get("purpose") == "align":
        return "align to frame 0 size" + ("" if entry is None else f" -> {entry['width']}x{entry['height']}")
    if entry is None:
        return "resize: skipped"
    scale = f" x{entry['scale']:.2f}" if "scale" in entry else ""
    return f"resize {entry['mode']}{scale} -> {entry['width']}x{entry['height']}"


def describe_noise(stage: dict, frame: int) -> str:
    entry = stage["frames"][frame]
    if entry is None:
        return "noise: skipped"
    level = f"sigma={entry['sigma']:.1f}" if entry["kind"] == "gaussian" else f"scale={entry['scale']:.2f}"
    return f"noise {entry['kind']} {level}{' gray' if entry['gray'] else ''}"


def describe_jpeg(stage: dict, frame: int) -> str:
    entry = stage["frames"][frame]
    return "jpeg: skipped" if entry is None else f"jpeg q={entry['quality']}"


def describe_video(stage: dict, frame: int) -> str:
    return f"video {stage['encoder']} ({stage['codec']}) {stage['bitrate'] / 1000:.0f} kbit/s"


def describe_name(stage: dict, frame: int) -> str:
    """Stages whose name says it all (quantize, subsample)."""
    return stage["op"]
