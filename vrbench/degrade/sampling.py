"""Draw every parameter of a preset for one clip, in a fixed order, from one seeded generator: the samplers of the
operation table (`ops.py` holds the table and walks a card's stages through it).

The result is the list of manifest stages: each per-frame stage holds one entry per frame (None where the stage
does not run on that frame), clip-level stages (video compression) hold their parameters directly. Executing the
stages needs nothing else, so replaying a manifest never touches this module's RNG.

Draw order: stages in card order; inside a stage, the per-clip choices first, then the per-frame values frame by
frame. In `independent` mode every frame repeats the whole draw of a stage; in `constant` mode continuous values
are drawn once; in `drift` mode they random-walk: p_{i+1} = clip(p_i + U(-step, step), range) [RealBasicVSR paper
and MMA@725289f4 mmedit/datasets/pipelines/random_degradations.py].
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from vrbench.degrade.kernels import opencv_gaussian_sigma
from vrbench.errors import InputError
from vrbench.seeds import SEED_BITS

Size = tuple[int, int]


@dataclass
class Context:
    """What a stage sampler needs besides its spec: the generator, temporal mode, scale and current frame sizes."""

    rng: np.random.Generator
    temporal: str
    scale: int
    output_size: Size
    sizes: list[Size] = field(default_factory=list)


def choose(rng: np.random.Generator, probs: dict) -> str:
    """One name from a {name: probability} mapping (probabilities renormalised), one uniform draw."""
    names = list(probs)
    p = np.array([probs[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def walk(ctx: Context, first: float, bounds: tuple[float, float], step: float, n: int) -> list[float]:
    """Values of one continuous parameter over n frames: constant, or a clipped random walk in drift mode."""
    values = [float(first)]
    for _ in range(n - 1):
        if ctx.temporal == "drift" and step > 0:
            values.append(float(np.clip(values[-1] + ctx.rng.uniform(-step, step), *bounds)))
        else:
            values.append(values[-1])
    return values


def default_omega_range(size: int) -> tuple[float, float]:
    """Sinc cut-off range when the card gives none: k < 13 -> [pi/3, pi], else [pi/5, pi] [RE dataset]."""
    return (math.pi / 3, math.pi) if size < 13 else (math.pi / 5, math.pi)


def draw_beta(rng: np.random.Generator, low: float, high: float) -> float:
    """w.p. 1/2 beta ~ U(low, 1), else U(1, high) [BSR random_bivariate_*]; with low = 1 (plateau) this gives
    beta = 1 exactly half the time, a property of the published pipeline that we keep."""
    a, b = (low, min(1.0, high)) if rng.random() < 0.5 else (max(1.0, low), high)
    return float(rng.uniform(a, b)) if a <= b else float(rng.uniform(low, high))


# ---- per-stage samplers: each returns one entry per frame of `frames` (one clip-long draw) ---------------------
def sample_blur(ctx: Context, spec: dict, frames: list[int]) -> list[dict | None]:
    rng, steps, n = ctx.rng, spec.get("steps") or {}, len(frames)
    if not rng.random() < spec["prob"]:
        return [None] * n
    size, kind = int(rng.choice(spec["sizes"])), choose(rng, spec["kinds"])
    taps = {"subnormal_taps": spec["subnormal_taps"]} if "subnormal_taps" in spec else {}  # a setting, not drawn
    entries: list[dict] = [{"kind": kind, "size": size, **taps} for _ in range(n)]
    if kind == "sinc":
        bounds = tuple(spec.get("omega") or default_omega_range(size))
        put(entries, "omega", walk(ctx, rng.uniform(*bounds), bounds, steps.get("omega", 0), n))
        return entries
    put(entries, "sigma_x", walk(ctx, rng.uniform(*spec["sigma_x"]), spec["sigma_x"], steps.get("sigma", 0), n))
    if kind.endswith("aniso"):
        put(entries, "sigma_y", walk(ctx, rng.uniform(*spec["sigma_y"]), spec["sigma_y"], steps.get("sigma", 0), n))
        put(entries, "theta", walk(ctx, rng.uniform(*spec["theta"]), spec["theta"], steps.get("theta", 0), n))
    family = "generalized" if kind.startswith("generalized") else "plateau" if kind.startswith("plateau") else ""
    if family:
        bounds = spec[f"beta_{family}"]
        put(entries, "beta", walk(ctx, draw_beta(rng, *bounds), bounds, steps.get(f"beta_{family}", 0), n))
    return entries


def sample_resize(ctx: Context, spec: dict, frames: list[int]) -> list[dict]:
    rng, n = ctx.rng, len(frames)
    if spec["target"] == "output":
        mode = choose(rng, spec["interpolation"])
        return [{"mode": mode, "height": ctx.output_size[0], "width": ctx.output_size[1]} for _ in frames]
    direction = choose(rng, spec["probs"])
    first = 1.0 if direction == "keep" else rng.uniform(*spec[direction])
    bounds = (min(spec["down"][0], 1.0), max(spec["up"][1], 1.0))
    scales = walk(ctx, first, bounds, spec.get("step", 0), n)
    mode = choose(rng, spec["interpolation"])
    entries = []
    for i, s in zip(frames, scales, strict=True):
        base = ctx.sizes[i] if spec["relative_to"] == "current" else ctx.output_size
        height, width = scaled_size(base, s, spec.get("even", False))
        entries.append({"mode": mode, "direction": direction, "scale": s, "height": height, "width": width})
    return entries


def scaled_size(base: Size, s: float, even: bool) -> Size:
    """floor(side * s) as F.interpolate(scale_factor=s) gives; rounded down to even (min 2) when asked."""
    sides = [max(int(side * s), 1) for side in base]
    if even:
        sides = [max(2 * (side // 2), 2) for side in sides]
    return sides[0], sides[1]


def sample_noise(ctx: Context, spec: dict, frames: list[int]) -> list[dict]:
    rng, steps, n = ctx.rng, spec.get("steps") or {}, len(frames)
    gaussian = rng.random() < spec["gaussian_prob"]
    gray = bool(rng.random() < spec["gray_prob"])
    key, name = ("gaussian_sigma", "sigma") if gaussian else ("poisson_scale", "scale")
    levels = walk(ctx, rng.uniform(*spec[key]), spec[key], steps.get(key, 0), n)
    seeds = rng.integers(0, 2**SEED_BITS, size=n)
    kind = "gaussian" if gaussian else "poisson"
    return [{"kind": kind, name: v, "gray": gray, "seed": int(s)} for v, s in zip(levels, seeds, strict=True)]


def sample_jpeg(ctx: Context, spec: dict, frames: list[int]) -> list[dict]:
    bounds, n = spec["quality"], len(frames)
    qualities = walk(ctx, ctx.rng.uniform(*bounds), bounds, spec.get("step", 0), n)
    # libjpeg takes an integer quality; the walk stays continuous and is rounded per frame [MMA@725289f4]
    return [{"quality": int(round(q)), "quality_walk": q} for q in qualities]


def sample_video(ctx: Context, spec: dict) -> dict:
    from vrbench.degrade.codec import encoder_options, resolve_encoder

    codec = choose(ctx.rng, spec["codecs"])
    low, high = spec["bitrate"]
    bitrate = int(ctx.rng.integers(int(low), int(high) + 1))  # uniform integer bit/s [MMA RandomVideoCompression]
    encoder = resolve_encoder(codec)
    return {"op": "video", "codec": codec, "encoder": encoder, "options": encoder_options(encoder),
            "bitrate": bitrate, "container": "mp4", "fps": 1, "pix_fmt": "yuv420p"}


def align_sizes(ctx: Context) -> list[dict]:
    """A resize stage bringing every frame to frame 0's size before video compression, or nothing if they agree.

    Frames whose size drifted would be rescaled by PyAV with swscale SWS_BILINEAR [MMA@725289f4]; we make
    that step an explicit bilinear resize of our own so it is recorded and does not depend on swscale.
    """
    height, width = ctx.sizes[0]
    entries = [None if size == (height, width) else {"mode": "bilinear", "height": height, "width": width}
               for size in ctx.sizes]
    ctx.sizes = [(height, width)] * len(ctx.sizes)
    return [{"op": "resize", "purpose": "align", "frames": entries}] if any(entries) else []


def put(entries: list[dict], key: str, values: list[float]) -> None:
    for entry, value in zip(entries, values, strict=True):
        entry[key] = value


def sample_usm(ctx: Context, spec: dict, frames: list[int]) -> list[dict]:
    return [{"op": "usm", "size": spec["size"], "sigma": opencv_gaussian_sigma(spec["size"]),
             "weight": spec["weight"], "threshold": spec["threshold"]}]


def sample_quantize(ctx: Context, spec: dict, frames: list[int]) -> list[dict]:
    return [{"op": "quantize"}]


def sample_video_stage(ctx: Context, spec: dict, frames: list[int]) -> list[dict]:
    return [*align_sizes(ctx), sample_video(ctx, spec)]


def sample_subsample(ctx: Context, spec: dict, frames: list[int]) -> list[dict]:
    offset = spec.get("offset", 0)
    if offset >= ctx.scale:
        raise InputError("subsample offset must be smaller than the scale", expected=f"< {ctx.scale}", found=offset)
    ctx.sizes = [(-(-(h - offset) // ctx.scale), -(-(w - offset) // ctx.scale)) for h, w in ctx.sizes]
    return [{"op": "subsample", "step": ctx.scale, "offset": offset}]
