"""Run manifest stages on a clip with the batched PyTorch operators; `degrade_clip` and `replay_manifest`.

Frames live in size groups: frames of one size form a batch (N, 3, H, W). Per-frame stages run on each group,
resizes regroup by the new size, and the clip-level video stage gathers all frames. Between video stages frames
are processed `CHUNK` at a time, so memory stays bounded for long clips; the chunking is fixed, so the float
operations, and therefore the bytes, are the same on every run on the same device type.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from vrbench.degrade.input import prepare_gt
from vrbench.degrade.manifest import build_manifest, check_manifest, frames_sha256
from vrbench.errors import InputError

CHUNK = 8  # frames per batch between clip-level stages


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def deterministic_kernels() -> Iterator[None]:
    """cuDNN without autotuning or TF32, scoped to the call (no global switches)."""
    import torch

    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True, allow_tf32=False):
        yield


def split_segments(stages: list[dict]) -> list[list[dict]]:
    """Cut the stage list before each clip-level (video) stage: [[per-frame...], [video, per-frame...], ...]."""
    segments: list[list[dict]] = [[]]
    for stage in stages:
        if stage["op"] == "video":
            segments.append([])
        segments[-1].append(stage)
    return segments


def run_frame_stages(groups: list, stages: list[dict]) -> list:
    """Apply per-frame stages to size groups [(frame ids, (N, 3, H, W) batch), ...]; return the new groups."""
    from vrbench.degrade import ops_torch as ops

    for stage in stages:
        op = stage["op"]
        if op in ("shuffle", "video"):
            continue
        if op == "usm":
            groups = [(ids, ops.unsharp_mask(b, stage)) for ids, b in groups]
        elif op == "quantize":
            groups = [(ids, ops.quantize(b)) for ids, b in groups]
        elif op == "subsample":
            groups = [(ids, b[..., stage["offset"] :: stage["step"], stage["offset"] :: stage["step"]])
                      for ids, b in groups]
        elif op == "resize":
            groups = resize_groups(groups, stage["frames"])
        else:
            fn = {"blur": ops.blur, "noise": ops.add_noise, "jpeg": ops.jpeg}[op]
            groups = [(ids, map_entries(b, [stage["frames"][i] for i in ids], fn)) for ids, b in groups]
    return groups


def map_entries(x, entries: list[dict | None], fn):
    """fn(batch, entries) on the frames whose entry is not None; the others pass through."""
    index = [j for j, e in enumerate(entries) if e is not None]
    if not index:
        return x
    if len(index) == len(entries):
        return fn(x, entries)
    out = x.clone()
    out[index] = fn(x[index], [entries[j] for j in index])
    return out


def resize_groups(groups: list, entries: list[dict | None]) -> list:
    """Resize every frame to its entry's size (frames sharing size and mode in one call) and regroup by size."""
    import torch

    from vrbench.degrade.ops_torch import resize

    pieces: dict[tuple[int, int], list] = {}
    for ids, batch in groups:
        size = tuple(batch.shape[-2:])
        # None: the frame keeps its size (no entry, or an entry for its own size: every mode is then the identity)
        keys = [None if e is None or (e["height"], e["width"]) == size else (e["mode"], e["height"], e["width"])
                for e in (entries[i] for i in ids)]
        for key in dict.fromkeys(keys):
            index = [j for j, k in enumerate(keys) if k == key]
            part = batch if len(index) == len(ids) else batch[index]  # a whole group is not copied
            part = part if key is None else resize(part, key[1], key[2], key[0])
            pieces.setdefault(tuple(part.shape[-2:]), []).append(([ids[j] for j in index], part))
    regrouped = []
    for parts in pieces.values():
        if len(parts) == 1:
            regrouped.append(parts[0])
            continue
        ids = [i for part_ids, _ in parts for i in part_ids]
        order = sorted(range(len(ids)), key=ids.__getitem__)
        batch = torch.cat([p for _, p in parts])
        regrouped.append(([ids[j] for j in order], batch[order]))
    return regrouped


def gather(groups: list, frame_ids: list[int]) -> list:
    """Size groups -> per-frame tensors (3, h, w) in the order of `frame_ids`."""
    by_id = {i: batch[j] for ids, batch in groups for j, i in enumerate(ids)}
    return [by_id[i] for i in frame_ids]


def group_by_size(frames: list, frame_ids: list[int]) -> list:
    """Per-frame tensors (3, h, w) -> size groups [(frame ids, batch), ...]."""
    import torch

    by_size: dict[tuple, list[int]] = {}
    for j, frame in enumerate(frames):
        by_size.setdefault(tuple(frame.shape[-2:]), []).append(j)
    return [([frame_ids[j] for j in js], torch.stack([frames[j] for j in js])) for js in by_size.values()]


def run_segment(get_batch, num_frames: int, stages: list[dict]) -> list:
    """Per-frame stages over a clip, CHUNK frames at a time; get_batch(a, b) gives frames [a, b) as a batch."""
    frames = []
    for start in range(0, num_frames, CHUNK):
        ids = list(range(start, min(start + CHUNK, num_frames)))
        frames.extend(gather(run_frame_stages([(ids, get_batch(start, ids[-1] + 1))], stages), ids))
    return frames


def apply_stage(frames: list, stage: dict) -> list:
    """One manifest stage on per-frame tensors (3, h, w) of any sizes (the stage-wise parity check uses this)."""
    if stage["op"] == "video":
        return list(video_stage(frames, stage))
    ids = list(range(len(frames)))
    return gather(run_frame_stages(group_by_size(frames, ids), [stage]), ids)


def video_stage(frames: list, stage: dict):
    """Compress the clip (all frames one size; the sampler adds an aligning resize before), one (T, 3, h, w) batch."""
    import torch

    from vrbench.degrade import ops_torch as ops
    from vrbench.degrade.codec import codec_arguments, compress_video

    sizes = {tuple(f.shape[-2:]) for f in frames}
    if len(sizes) != 1:
        raise InputError("video compression needs frames of one size", expected="one size", found=sorted(sizes),
                         hint="manifest stages must resize frames to frame 0's size before a video stage")
    decoded = compress_video(ops.to_uint8_hwc(torch.stack(frames)), *codec_arguments(stage))
    return ops.from_uint8_hwc(decoded, frames[0].device)


def run_stages(gt: np.ndarray, stages: list[dict], device: str | None = None) -> np.ndarray:
    """Degrade uint8 (T, H, W, 3) frames by the given manifest stages; return uint8 (T, h, w, 3)."""
    import torch

    from vrbench.degrade import ops_torch as ops

    dev = torch.device(device or default_device())
    segments = split_segments(stages)
    with torch.no_grad(), deterministic_kernels():
        frames = run_segment(lambda a, b: ops.from_uint8_hwc(gt[a:b], dev), len(gt), segments[0])
        for segment in segments[1:]:
            clip = video_stage(frames, segment[0])
            frames = run_segment(lambda a, b, clip=clip: clip[a:b], len(clip), segment[1:])
        sizes = {tuple(f.shape[-2:]) for f in frames}
        if len(sizes) != 1:
            raise InputError("degraded frames differ in size", expected="one LQ size", found=sorted(sizes))
        return ops.to_uint8_hwc(torch.stack(frames))


def degrade_clip(
    gt: np.ndarray, *, preset: str, seed: int, clip_id: str, scale: int = 4, device: str | None = None
) -> tuple[np.ndarray, dict]:
    """Degrade a GT clip (uint8 (T, H, W, 3); gray or 16-bit converted, see input.py) with a named preset.

    Returns the LQ clip (uint8 (T, H // scale, W // scale, 3)) and its JSON-serialisable manifest.
    """
    from vrbench.degrade.presets import load_preset
    from vrbench.degrade.sampling import sample_stages

    card = load_preset(preset)
    if scale not in card.scales:
        raise InputError(f"scale not supported by preset '{card.name}'", clip=clip_id, expected=card.scales,
                         found=scale)
    frames, conversions = prepare_gt(gt, scale, clip_id)
    stages = sample_stages(card, seed, clip_id, len(frames), frames.shape[1:3], scale)
    device = device or default_device()
    lq = run_stages(frames, stages, device)
    manifest = build_manifest(card, seed=seed, clip_id=clip_id, scale=scale, gt=frames, lq=lq, stages=stages,
                              conversions=conversions, original_shape=tuple(np.shape(gt)), device=device)
    return lq, manifest


def replay_manifest(gt: np.ndarray, manifest: dict, device: str | None = None, verify: bool = True) -> np.ndarray:
    """Regenerate the LQ clip from the GT and the manifest's recorded parameters alone (no RNG replay).

    With `verify`, the GT must match the manifest's GT hash and the LQ its LQ hash; a mismatch raises InputError
    saying which, and what in the environment differs from the one that wrote the manifest.
    """
    check_manifest(manifest)
    frames, _ = prepare_gt(gt, manifest["scale"], manifest["clip_id"])
    if verify and frames_sha256(frames) != manifest["gt"]["sha256"]:
        raise InputError("GT frames differ from the ones the manifest was made from", clip=manifest["clip_id"],
                         expected=manifest["gt"]["sha256"], found=frames_sha256(frames))
    lq = run_stages(frames, manifest["stages"], device)
    if verify and frames_sha256(lq) != manifest["lq"]["sha256"]:
        from vrbench.degrade.manifest import environment_differences

        raise InputError("replayed LQ differs from the manifest", clip=manifest["clip_id"],
                         expected=manifest["lq"]["sha256"], found=frames_sha256(lq),
                         hint=environment_differences(manifest, device or default_device()))
    return lq
