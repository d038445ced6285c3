"""Degradation presets: named, versioned YAML cards in `vrbench/degrade/cards/`, loaded into `Preset`.

A card lists stages in order (`usm`, `blur`, `resize`, `noise`, `jpeg`, `video`, `subsample`, `quantize`, and
`shuffle` holding two groups of stages run in random order) and a temporal mode: `drift` (per-clip draws that
random-walk per frame with the card's step sizes, RealBasicVSR), `constant` (per-clip draws held fixed, DOVE) or
`independent` (every frame draws all of its parameters, the image pipelines). Cards are validated on load so a bad
range fails here, with the offending value, and not halfway through a benchmark.
"""

from __future__ import annotations

import difflib
import hashlib
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from vrbench.degrade.kernels import KERNEL_KINDS
from vrbench.errors import InputError, UnknownNameError

TEMPORAL_MODES = ("drift", "constant", "independent")
CODECS = ("libx264", "h264", "mpeg4")
INTERPOLATIONS = ("area", "bilinear", "bicubic", "bicubic_aa")


@dataclass(frozen=True)
class Preset:
    """One degradation card: identity (name, version, hash), temporal mode, allowed scales and the stage list."""

    name: str
    version: str
    kind: str
    description: str
    sources: tuple[str, ...]
    temporal: str
    scale: int
    scales: tuple[int, ...]
    stages: tuple[dict, ...]
    sha256: str

    def as_dict(self) -> dict:
        """The card as plain JSON-serialisable data (what goes into a manifest)."""
        return {
            "name": self.name, "version": self.version, "kind": self.kind, "description": self.description,
            "sources": list(self.sources), "temporal": self.temporal, "scale": self.scale,
            "scales": list(self.scales), "stages": [dict(s) for s in self.stages], "sha256": self.sha256,
        }


def cards_folder() -> Path:
    return Path(str(resources.files("vrbench.degrade") / "cards"))


def list_presets() -> list[str]:
    """Names of the bundled presets, sorted."""
    return sorted(p.stem for p in cards_folder().glob("*.yaml"))


def load_preset(name: str) -> Preset:
    """Load a bundled preset by name, or a card from a `.yaml` path; unknown names list close matches."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return preset_from_text(path.read_text(), source=str(path))
    names = list_presets()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else f"known presets: {', '.join(names)}"
        raise UnknownNameError(f"unknown degradation preset '{name}'; {hint}")
    return preset_from_text((cards_folder() / f"{name}.yaml").read_text(), source=f"{name}.yaml")


def preset_from_text(text: str, source: str = "card") -> Preset:
    """Parse and validate a card's YAML text."""
    import yaml

    card = yaml.safe_load(text)
    if not isinstance(card, dict):
        raise InputError("degradation card is not a mapping", file=source, found=type(card).__name__)
    missing = [k for k in ("name", "version", "temporal", "scale", "stages") if k not in card]
    if missing:
        raise InputError("degradation card lacks required fields", file=source, expected=missing, found=sorted(card))
    if card["temporal"] not in TEMPORAL_MODES:
        raise InputError("unknown temporal mode", file=source, expected=TEMPORAL_MODES, found=card["temporal"])
    scales = tuple(int(s) for s in card.get("scales", [card["scale"]]))
    if any(s < 1 for s in scales) or int(card["scale"]) not in scales:
        raise InputError("bad scales in card", file=source, expected="positive integers containing 'scale'",
                         found=(card["scale"], scales))
    stages = tuple(check_stage(s, f"{source} stage {i}") for i, s in enumerate(card["stages"]))
    return Preset(
        name=str(card["name"]), version=str(card["version"]), kind=str(card.get("kind", "video")),
        description=" ".join(str(card.get("description", "")).split()), sources=tuple(card.get("sources", [])),
        temporal=card["temporal"], scale=int(card["scale"]), scales=scales, stages=stages,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


# ---- validation -------------------------------------------------------------------------------------------------
def check_stage(stage: dict, where: str) -> dict:
    """Validate one stage spec and return it; raise InputError naming the stage and value otherwise."""
    op = stage.get("op") if isinstance(stage, dict) else None
    checks = {"usm": check_usm, "blur": check_blur, "resize": check_resize, "noise": check_noise,
              "jpeg": check_jpeg, "video": check_video, "shuffle": check_shuffle, "subsample": check_subsample,
              "quantize": lambda s, w: None}
    if op not in checks:
        raise InputError("unknown stage op", file=where, expected=sorted(checks), found=op)
    checks[op](stage, where)
    return stage


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


def check_shuffle(stage: dict, where: str) -> None:
    groups = stage.get("groups")
    if not isinstance(groups, list) or len(groups) != 2 or not all(isinstance(g, list) and g for g in groups):
        raise InputError("shuffle needs exactly two non-empty groups of stages", file=where,
                         found=groups if not isinstance(groups, list) else f"{len(groups)} groups")
    for g, group in enumerate(groups):
        for i, sub in enumerate(group):
            check_stage(sub, f"{where} group {g} stage {i}")
            if sub["op"] == "shuffle":
                raise InputError("shuffles cannot nest", file=f"{where} group {g} stage {i}")
