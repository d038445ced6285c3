"""The degradation operations as one table: `OPS[name] -> Op(check, sample, apply, describe, ...)`.

Every module that handles stages looks the operation up here: card validation (`presets.py`), parameter drawing
(`sample_stages` below), manifest validation (`manifest.py`), the batched pipeline (`pipeline.py`) and contact
sheets (`preview.py`). Adding an operation means adding one row (and its function in the per-frame reference,
which is an independent implementation keyed by the same names; a test checks the two name sets agree).

`shuffle` is the one composite operation: it holds two groups of stages and runs them in random order, so its
functions recurse through this table and live here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vrbench.degrade import groups, sampling, specs
from vrbench.degrade.sampling import Context, Size
from vrbench.errors import InputError
from vrbench.seeds import derive_seed

if TYPE_CHECKING:
    from vrbench.degrade.presets import Preset

Check = Callable[[dict, str], None]  # (card stage or manifest entry, where) -> None or InputError
Sample = Callable[[Context, dict, list[int]], list[dict]]  # (context, card stage, frames) -> manifest stages
Apply = Callable[[list, dict], list]  # (size groups, manifest stage) -> size groups
Describe = Callable[[dict, int], str]  # (manifest stage, frame) -> one line


@dataclass(frozen=True)
class Op:
    """One operation: how its card stage is checked and sampled, and how its manifest stage is checked, run and
    described. `per_frame`: the manifest stage holds one entry per frame (None where it does not run).
    `clip_level`: the operation needs every frame of the clip at once (video compression encodes the clip as one
    stream, as RealBasicVSR's RandomVideoCompression does), so the pipeline cannot stream through it."""

    name: str
    check: Check
    sample: Sample
    apply: Apply
    describe: Describe
    check_entry: Check | None = None
    per_frame: bool = False
    clip_level: bool = False


def per_frame_sample(op: str, draw: Callable[[Context, dict, list[int]], list]) -> Sample:
    """The sampler of a per-frame operation: one clip-long draw (drift, constant), or one draw per frame
    (independent); frames outside `frames` get None."""

    def sample(ctx: Context, spec: dict, frames: list[int]) -> list[dict]:
        entries: list[dict | None] = [None] * len(ctx.sizes)
        if ctx.temporal == "independent":
            for i in frames:
                entries[i] = draw(ctx, spec, [i])[0]
        else:
            for i, entry in zip(frames, draw(ctx, spec, frames), strict=True):
                entries[i] = entry
        if op == "resize":  # later stages see the new sizes
            ctx.sizes = [s if e is None else (e["height"], e["width"]) for s, e in zip(ctx.sizes, entries, strict=True)]
        return [{"op": op, "frames": entries}]

    return sample


# ---- shuffle ------------------------------------------------------------------------------------------------------
def check_shuffle(stage: dict, where: str) -> None:
    stage_groups = stage.get("groups")
    if not isinstance(stage_groups, list) or len(stage_groups) != 2 or not all(
            isinstance(g, list) and g for g in stage_groups):
        raise InputError("shuffle needs exactly two non-empty groups of stages", file=where,
                         found=stage_groups if not isinstance(stage_groups, list) else f"{len(stage_groups)} groups")
    for g, group in enumerate(stage_groups):
        for i, sub in enumerate(group):
            check_stage(sub, f"{where} group {g} stage {i}")
            if sub["op"] == "shuffle":
                raise InputError("shuffles cannot nest", file=f"{where} group {g} stage {i}")


def sample_shuffle(ctx: Context, spec: dict, frames: list[int]) -> list[dict]:
    """Two groups in random order (1/2 each). Orders are per frame only in independent mode without a clip-level
    stage; frames run in slots [second group | first group | second group] so each frame sees its own order."""
    first, second = spec["groups"]
    per_frame = ctx.temporal == "independent" and not any(OPS[s["op"]].clip_level for g in spec["groups"] for s in g)
    if per_frame:
        swapped = {i: bool(ctx.rng.random() < 0.5) for i in frames}
    else:
        swap = bool(ctx.rng.random() < 0.5)
        swapped = dict.fromkeys(frames, swap)
    marker = {"op": "shuffle", "per": "frame" if per_frame else "clip",
              "second_group_first": [swapped[i] for i in frames] if per_frame else swapped[frames[0]]}
    stages = [marker]
    before = [i for i in frames if swapped[i]]
    after = [i for i in frames if not swapped[i]]
    for subset, group in ((before, second), (frames, first), (after, second)):
        for sub in group if subset else ():
            stages.extend(OPS[sub["op"]].sample(ctx, sub, subset))
    return stages


def describe_shuffle(stage: dict, frame: int) -> str:
    first = stage["second_group_first"]
    swapped = first[frame] if isinstance(first, list) else first
    return f"shuffle: {'second' if swapped else 'first'} group first"


# ---- the table ----------------------------------------------------------------------------------------------------
OPS: dict[str, Op] = {op.name: op for op in (
    Op("usm", specs.check_usm, sampling.sample_usm, groups.apply_usm, specs.describe_usm),
    Op("blur", specs.check_blur, per_frame_sample("blur", sampling.sample_blur), groups.per_entry("blur"),
       specs.describe_blur, specs.check_blur_entry, per_frame=True),
    Op("resize", specs.check_resize, per_frame_sample("resize", sampling.sample_resize), groups.apply_resize,
       specs.describe_resize, specs.check_resize_entry, per_frame=True),
    Op("noise", specs.check_noise, per_frame_sample("noise", sampling.sample_noise), groups.per_entry("add_noise"),
       specs.describe_noise, specs.check_noise_entry, per_frame=True),
    Op("jpeg", specs.check_jpeg, per_frame_sample("jpeg", sampling.sample_jpeg), groups.per_entry("jpeg"),
       specs.describe_jpeg, specs.check_jpeg_entry, per_frame=True),
    Op("video", specs.check_video, sampling.sample_video_stage, groups.apply_video, specs.describe_video,
       specs.check_video_entry, clip_level=True),
    Op("shuffle", check_shuffle, sample_shuffle, groups.apply_nothing, describe_shuffle),
    Op("subsample", specs.check_subsample, sampling.sample_subsample, groups.apply_subsample, specs.describe_name),
    Op("quantize", specs.check_nothing, sampling.sample_quantize, groups.apply_quantize, specs.describe_name),
)}


def lookup(op: object, where: str) -> Op:
    """The table row of `op`, or InputError naming where the unknown name was found and the known ones."""
    if op not in OPS:
        raise InputError("unknown stage op", file=where, expected=sorted(OPS), found=op)
    return OPS[op]


def check_stage(stage: dict, where: str) -> dict:
    """Validate one card stage and return it; raise InputError naming the stage and value otherwise."""
    lookup(stage.get("op") if isinstance(stage, dict) else None, where).check(stage, where)
    return stage


def sample_stages(preset: Preset, seed: int, clip_id: str, num_frames: int, size: Size, scale: int) -> list[dict]:
    """All manifest stages of one clip of `num_frames` frames of `size` = (H, W), H and W multiples of `scale`.

    One generator seeded by derive_seed(seed, clip_id) draws everything: stages in card order; inside a stage, the
    per-clip choices first, then the per-frame values frame by frame."""
    output_size = (size[0] // scale, size[1] // scale)
    ctx = Context(np.random.Generator(np.random.PCG64(derive_seed(seed, clip_id))), preset.temporal, scale,
                  output_size, [tuple(size)] * num_frames)
    frames = list(range(num_frames))
    stages = [stage for spec in preset.stages for stage in OPS[spec["op"]].sample(ctx, spec, frames)]
    if set(ctx.sizes) != {output_size}:
        raise InputError("preset does not end at the LQ size", file=preset.name, expected=output_size,
                         found=sorted(set(ctx.sizes)), hint="end the card with a resize to 'output' or a subsample")
    return stages


def needs_whole_clip(stages: list[dict]) -> bool:
    """Whether any stage is clip-level (the pipeline then gathers the frames before it instead of streaming)."""
    return any(OPS[stage["op"]].clip_level for stage in stages)
