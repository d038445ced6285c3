"""Run manifest stages on a clip with the batched PyTorch operators; `degrade_clip` and `replay_manifest`.

The GT arrives as consecutive chunks (a whole array, a `Video`, or any iterable of uint8 chunks with the frame
count given) and is regrouped into batches of `CHUNK` frames; each batch runs through the per-frame stages and is
dropped, so GT memory stays bounded for long clips. The batching is fixed, so the float operations, and therefore
the bytes, are the same on every run on the same device type, whatever chunks the caller hands in.

A clip-level stage (video compression, `Op.clip_level`) encodes the clip as one stream, as RealBasicVSR's
RandomVideoCompression does, so presets with one (realbasicvsr-x4, dove-x4) hold the frames reaching it (already
degraded, usually downscaled) for the whole clip; presets without one (bd-x4, bicubic-x4, realesrgan-x4) stream.
The LQ (1 / scale^2 of the GT) is returned whole.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import numpy as np

from vrbench.degrade.groups import gather, group_by_size
from vrbench.degrade.input import prepare_gt
from vrbench.degrade.manifest import build_manifest, check_manifest, clip_digest, environment_differences, frames_sha256
from vrbench.degrade.ops import OPS
from vrbench.errors import InputError
from vrbench.video import Video, rechunk

CHUNK = 8  # frames per batch between clip-level stages


def default_device() -> str:
    from vrbench.devices import pick_device

    return str(pick_device())


@contextlib.contextmanager
def deterministic_kernels() -> Iterator[None]:
    """cuDNN without autotuning or TF32, scoped to the call (no global switches)."""
    import torch

    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True, allow_tf32=False):
        yield


def split_segments(stages: list[dict]) -> list[list[dict]]:
    """Cut the stage list before each clip-level stage: [[per-frame...], [video, per-frame...], ...]."""
    segments: list[list[dict]] = [[]]
    for stage in stages:
        if OPS[stage["op"]].clip_level:
            segments.append([])
        segments[-1].append(stage)
    return segments


def run_frame_stages(groups: list, stages: list[dict]) -> list:
    """Apply per-frame stages to size groups [(frame ids, (N, 3, H, W) batch), ...]; return the new groups."""
    for stage in stages:
        groups = OPS[stage["op"]].apply(groups, stage)
    return groups


def run_segment(batches: Iterable, stages: list[dict]) -> Iterator[tuple[list[int], list]]:
    """Per-frame stages over consecutive (N, 3, H, W) batches; yields (frame ids, per-frame tensors) per batch."""
    start = 0
    for batch in batches:
        ids = list(range(start, start + len(batch)))
        yield ids, gather(run_frame_stages([(ids, batch)], stages), ids)
        start += len(batch)


def run_stages(gt: np.ndarray | Iterable[np.ndarray], stages: list[dict], device: str | None = None) -> np.ndarray:
    """Degrade uint8 (T, H, W, 3) frames, whole or as consecutive chunks, by the given manifest stages; return
    uint8 (T, h, w, 3)."""
    import torch

    from vrbench.degrade import ops_torch as ops

    dev = torch.device(device or default_device())
    segments = split_segments(stages)
    chunks = rechunk([gt] if isinstance(gt, np.ndarray) else gt, CHUNK)
    with torch.no_grad(), deterministic_kernels(), ops.spread_frames(dev):
        first = run_segment((ops.from_uint8(c, dev) for c in chunks), segments[0])
        if len(segments) == 1:  # nothing clip-level: stream to uint8 batch by batch
            lq = [ops.to_uint8_hwc(list(frames)) for _, frames in first]
            sizes = {part.shape[1:3] for part in lq}
            if len(sizes) != 1:
                raise InputError("degraded frames differ in size", expected="one LQ size", found=sorted(sizes))
            return np.concatenate(lq) if len(lq) > 1 else lq[0]
        frames = [f for _, batch in first for f in batch]  # the clip-level stage needs every frame at once
        for segment in segments[1:]:
            ids = list(range(len(frames)))
            clip = OPS[segment[0]["op"]].apply(group_by_size(frames, ids), segment[0])[0][1]
            batches = (clip[a : a + CHUNK] for a in range(0, len(clip), CHUNK))
            frames = [f for _, batch in run_segment(batches, segment[1:]) for f in batch]
        sizes = {tuple(f.shape[-2:]) for f in frames}
        if len(sizes) != 1:
            raise InputError("degraded frames differ in size", expected="one LQ size", found=sorted(sizes))
        return ops.to_uint8_hwc(frames)


def apply_stage(frames: list, stage: dict) -> list:
    """One manifest stage on per-frame tensors (3, h, w) of any sizes (the stage-wise parity check uses this)."""
    ids = list(range(len(frames)))
    return gather(OPS[stage["op"]].apply(group_by_size(frames, ids), stage), ids)


class GtStream:
    """Consecutive GT chunks converted by `prepare_gt` (see input.py) and hashed as they pass; the first chunk is
    read on construction, so the frame size is known before the parameters are drawn."""

    def __init__(self, chunks: Iterable[np.ndarray], num_frames: int, scale: int, clip_id: str) -> None:
        if num_frames < 1:
            raise InputError("GT clip has no frames", clip=clip_id or None, expected=">= 1 frame", found=num_frames)
        self.scale, self.clip_id, self.num_frames = scale, clip_id, num_frames
        self._chunks = (c for c in chunks if len(c))
        raw = next(self._chunks, None)
        if raw is None:
            raise InputError("GT clip has no frames", clip=clip_id or None, expected=f"{num_frames} frames",
                             found="no frames")
        self._first, self.conversions = prepare_gt(raw, scale, clip_id)
        self.original_shape = (num_frames, *np.shape(raw)[1:])
        self.shape = (num_frames, *self._first.shape[1:])
        self.sha256 = ""

    def __iter__(self) -> Iterator[np.ndarray]:
        digest, seen, frames = clip_digest(self.shape), 0, self._first
        while frames is not None:
            if frames.shape[1:] != self.shape[1:]:
                raise InputError("GT frames change size within the clip", clip=self.clip_id or None,
                                 expected=self.shape[1:3], found=frames.shape[1:3], hint=f"at frame {seen}")
            seen += len(frames)
            if seen > self.num_frames:
                break
            digest.update(np.ascontiguousarray(frames).tobytes())
            yield frames
            raw = next(self._chunks, None)
            frames = None if raw is None else prepare_gt(raw, self.scale, self.clip_id)[0]
        if seen != self.num_frames:
            raise InputError("GT clip has a different number of frames than announced", clip=self.clip_id or None,
                             expected=self.num_frames, found=f"{seen} or more" if seen > self.num_frames else seen)
        self.sha256 = digest.hexdigest()


def gt_chunks(gt: np.ndarray | Video | Iterable[np.ndarray], num_frames: int | None, clip_id: str
              ) -> tuple[Iterable[np.ndarray], int]:
    """The chunks and frame count of a GT given whole, as a `Video`, or as an iterable of chunks plus its count."""
    if isinstance(gt, np.ndarray):
        return (gt[a : a + CHUNK] for a in range(0, len(gt), CHUNK)), len(gt)
    if isinstance(gt, Video):
        return gt.iter_chunks(CHUNK), gt.num_frames
    if num_frames is None:
        raise InputError("GT chunks need the clip's frame count", clip=clip_id or None,
                         expected="num_frames=T (the parameters of every frame are drawn before the first is run)",
                         found="num_frames=None")
    return gt, int(num_frames)


def degrade_clip(
    gt: np.ndarray | Video | Iterable[np.ndarray], *, preset: str, seed: int, clip_id: str, scale: int = 4,
    device: str | None = None, num_frames: int | None = None,
) -> tuple[np.ndarray, dict]:
    """Degrade a GT clip with a named preset: uint8 (T, H, W, 3) given whole, as a `Video`, or as consecutive
    chunks with `num_frames` (gray or 16-bit frames are converted, see input.py). GT frames are read chunk by chunk
    and not kept (see the module docstring for presets with a clip-level stage).

    Returns the LQ clip (uint8 (T, H // scale, W // scale, 3)) and its JSON-serialisable manifest.
    """
    from vrbench.degrade.ops import sample_stages
    from vrbench.degrade.presets import load_preset

    card = load_preset(preset)
    if scale not in card.scales:
        raise InputError(f"scale not supported by preset '{card.name}'", clip=clip_id, expected=card.scales,
                         found=scale)
    stream = GtStream(*gt_chunks(gt, num_frames, clip_id), scale, clip_id)
    stages = sample_stages(card, seed, clip_id, stream.num_frames, stream.shape[1:3], scale)
    device = device or default_device()
    lq = run_stages(stream, stages, device)
    manifest = build_manifest(card, seed=seed, clip_id=clip_id, scale=scale, gt_shape=stream.shape,
                              gt_sha256=stream.sha256, lq=lq, stages=stages, conversions=stream.conversions,
                              original_shape=stream.original_shape, device=device, chunk=CHUNK)
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
        raise InputError("replayed LQ differs from the manifest", clip=manifest["clip_id"],
                         expected=manifest["lq"]["sha256"], found=frames_sha256(lq),
                         hint=environment_differences(manifest, device or default_device()))
    return lq
