"""The metric engine: stream a clip's ground truth and every method's output in chunks, decode the next chunk in
a background thread while the device computes, move each chunk to the device once, and compute every metric of
every method from the same tensors. Ground-truth-side work (SSIM statistics, LPIPS features) is done once per
chunk and shared by all methods. Memory is bounded by the chunk size, not the clip length, and chunks are sized by
pixels as well as frames (`frames_per_chunk`; fewer pixels on a CPU): a 4K clip is scored one frame at a time, so its
frame size, not the configured frame count, sets the peak.

A chunk that runs out of device memory is split in halves and retried (down to single frames); `--fast` runs the
learned networks under bf16/fp16 autocast (PSNR/SSIM always stay float64).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vrbench.errors import InputError, MetricUnavailable
from vrbench.metrics.base import Metric, StreamMetric
from vrbench.metrics.host_heap import retained_heap
from vrbench.registry import METRICS
from vrbench.video import Video

# 8 frames of 1280x720 (7.4 Mpx): clips up to 720p keep the configured chunk of 8; 1080p gets 3 frames a chunk and
# 4K (8.3 Mpx) one frame, whose float32/float64 copies inside SSIM and LPIPS already take about a gigabyte.
CHUNK_PIXELS = 8 * 1280 * 720
# On a CPU, 2 frames of 720p (1.8 Mpx): a chunk's VGG16 features (LPIPS-VGG and DISTS keep the GT's for every method)
# are ~0.9 GB a 720p frame, and at 8 frames LPIPS-VGG + DISTS peaked at 16.7 GB and ran 1.7x slower (264 s against
# 150 s for 8 frames x 3 methods on a 2-core Xeon, the kernel busy reclaiming memory); the GT sharing is per chunk,
# so a smaller chunk loses nothing of it, and PSNR/SSIM/NIQE/MUSIQ/VMAF ran as fast at 2 frames a chunk as at 8.
CPU_CHUNK_PIXELS = 2 * 1280 * 720
GT_KEY = "\0gt"  # the ground truth's key among the clips a chunk holds (no method label can contain NUL)


def frames_per_chunk(chunk: int, height: int, width: int, device: Any = None) -> int:
    """At most `chunk` frames and at most `CHUNK_PIXELS` pixels a chunk (`CPU_CHUNK_PIXELS` on a CPU), but always at
    least one frame."""
    cpu = getattr(device, "type", str(device).split(":")[0]) == "cpu"
    return max(1, min(int(chunk), (CPU_CHUNK_PIXELS if cpu else CHUNK_PIXELS) // max(1, height * width)))


def deterministic_mode(device: Any) -> None:
    """Deterministic kernels by default: results must not depend on the run."""
    import torch

    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    if getattr(device, "type", "") == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def to_tensor(frames: Any, device: Any) -> Any:
    """uint8 (T, H, W, 3) array or tensor -> float32 (T, 3, H, W) in [0, 1] on `device` (the one conversion at
    the boundary; a pinned host tensor is copied asynchronously)."""
    import torch

    t = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(frames))
    return t.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)


def luma_to_tensor(planes: Any, device: Any) -> Any:
    """uint8 (T, H, W) coded Y planes -> float32 (T, 1, H, W) in [0, 255] on `device` (native-luma metrics)."""
    import torch

    if planes is None:
        return None
    t = planes if isinstance(planes, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(planes))
    return t.to(device, non_blocking=True)[:, None].float()


@dataclass
class MetricSet:
    """Metrics built and set up for one device; those that could not be set up are kept with their reason."""

    ready: dict[str, Metric] = field(default_factory=dict)
    unavailable: dict[str, MetricUnavailable] = field(default_factory=dict)


def build_metrics(names: list[str], device: Any) -> MetricSet:
    out = MetricSet()
    for name in names:
        metric = METRICS.create(name)
        try:
            metric.setup(device)
        except MetricUnavailable as e:
            out.unavailable[name] = e
            continue
        out.ready[name] = metric
    return out


def check_pair(output: Video, gt: Video, clip: str, dataset: str | None = None) -> None:
    """Full-reference metrics need the same frame count and size; say exactly what differs and where."""
    if output.num_frames != gt.num_frames:
        raise InputError("output has a different number of frames from the ground truth", clip=clip,
                         dataset=dataset, file=output.path, expected=f"{gt.num_frames} frames",
                         found=f"{output.num_frames} frames")
    if output.size != gt.size:
        raise InputError("output size differs from the ground truth", clip=clip, dataset=dataset, file=output.path,
                         expected=f"{gt.width}x{gt.height}", found=f"{output.width}x{output.height}")


def _is_oom(e: BaseException) -> bool:
    return "out of memory" in str(e).lower() or type(e).__name__ == "OutOfMemoryError"


def _with_backoff(fn, out, gt, ref, metric: Metric) -> Any:
    """Run `fn(out, gt, ref)`; on out-of-memory split the chunk in halves and retry (ref recomputed per half)."""
    import torch

    try:
        return fn(out, gt, ref)
    except (RuntimeError, MemoryError) as e:
        if not _is_oom(e) or len(out) == 1:
            raise
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    h = len(out) // 2
    parts = []
    for sl in (slice(0, h), slice(h, None)):
        g = None if gt is None else gt[sl]
        r = metric.reference(g) if g is not None else None
        parts.append(_with_backoff(fn, out[sl], g, r, metric))
    return torch.cat(parts)


def _decode_workers(n_videos: int) -> int:
    """One decoding thread per clip, at most one per core (decoders and PNG readers release the GIL)."""
    return max(1, min(n_videos, os.cpu_count() or 1))


class _Prefetch:
    """Decodes chunk i+1 of every clip while chunk i is being scored: each clip advances in its own task on a pool
    sized to the cores, so GT and every method's output decode in parallel. Items are {key: (rgb, luma or None)};
    the Y plane is read (same decode) for the clips named in `luma`. With `pin`, chunks land in pinned host
    memory so the copy to the GPU can run asynchronously."""

    def __init__(self, videos: dict[str, Video | None], chunk: int, luma: frozenset[str] = frozenset(),
                 pin: bool = False) -> None:
        self.iters = {k: (v.iter_chunks_with_luma(chunk) if k in luma else ((c, None) for c in v.iter_chunks(chunk)))
                      for k, v in videos.items() if v is not None}
        self.pin = pin
        self.pool = ThreadPoolExecutor(max_workers=_decode_workers(len(self.iters)),
                                       thread_name_prefix="vrbench-decode")

    def _advance(self, it: Iterator) -> tuple[Any, Any] | None:
        item = next(it, None)
        if item is None or not self.pin:
            return item
        import torch

        return tuple(None if a is None else torch.from_numpy(np.ascontiguousarray(a)).pin_memory() for a in item)

    def _submit(self) -> dict[str, Future]:
        return {k: self.pool.submit(self._advance, it) for k, it in self.iters.items()}

    def __iter__(self) -> Iterator[dict[str, tuple[Any, Any]]]:
        futures = self._submit()
        try:
            while True:
                got = {k: f.result() for k, f in futures.items()}
                if any(v is None for v in got.values()):
                    return
                futures = self._submit()
                yield got
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class ClipScores:
    """Per method: {metric: (clip value, per-frame values or None)}."""

    values: dict[str, dict[str, tuple[float, np.ndarray | None]]] = field(default_factory=dict)


def _autocast(device: Any, fast: bool):
    import torch

    if not fast:
        return contextlib.nullcontext()
    kind = getattr(device, "type", "cpu")
    return torch.autocast(kind, dtype=torch.float16 if kind == "cuda" else torch.bfloat16)


def _crop(x: Any, border: int) -> Any:
    return x if border <= 0 or x is None else x[..., border:-border, border:-border]


@dataclass
class Timings:
    """Where an `evaluate_clip` call spent its wall time, in seconds (filled only when asked for: measuring
    synchronises the device after each step, which the engine otherwise never does)."""

    decode: float = 0.0    # waiting for the decoding pool (the part of decoding not hidden behind compute)
    transfer: float = 0.0  # host -> device copies and the uint8 -> float conversion
    compute: float = 0.0   # metric work, stream metrics' finish (per-clip networks such as DOVER run there)
    store: float = 0.0     # per-frame values back to the host, clip means

    def to_dict(self) -> dict[str, float]:
        return {"decode": self.decode, "transfer": self.transfer, "compute": self.compute, "store": self.store}


class _Clock:
    def __init__(self, timings: Timings | None, device: Any) -> None:
        self.timings, self.cuda = timings, getattr(device, "type", str(device).split(":")[0]) == "cuda"
        self.t = time.perf_counter()

    def lap(self, part: str) -> None:
        if self.timings is None:
            return
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        now = time.perf_counter()
        setattr(self.timings, part, getattr(self.timings, part) + now - self.t)
        self.t = now


def native_luma_keys(outputs: dict[str, Video], gt: Video | None, stream: dict[str, Metric]) -> frozenset[str]:
    """The clips whose coded Y plane is read alongside RGB: all that have one, when a stream metric wants it."""
    if not any(getattr(m, "native_luma", False) for m in stream.values()):
        return frozenset()
    return frozenset(k for k, v in {**outputs, GT_KEY: gt}.items() if v is not None and v.native_luma)


def evaluate_clip(outputs: dict[str, Video], gt: Video | None, metrics: dict[str, Metric], device: Any,
                  chunk: int = 8, fast: bool = False, crop_border: int = 0, timings: Timings | None = None
                  ) -> ClipScores:
    """Score every method's output of one clip with every metric in a single pass over the frames.

    `metrics` maps metric names to set-up metrics; FR metrics are skipped when there is no ground truth.
    `crop_border` pixels are removed from each side before full-reference frame metrics (BasicSR convention).
    `chunk` frames are read at a time, fewer for large frames (see `frames_per_chunk`). Stream metrics with
    `native_luma = True` also get `luma=(out_y, gt_y)`: the coded Y planes as float32 (n, 1, H, W) in [0, 255], or
    None for a side that has none (see `Video.native_luma`). `timings`, when given, accumulates the time split.
    Host memory freed between chunks stays in the process until the clip is scored (`retained_heap`).
    """
    with retained_heap():
        return _score_clip(outputs, gt, metrics, device, chunk, fast, crop_border, timings)


def _score_clip(outputs: dict[str, Video], gt: Video | None, metrics: dict[str, Metric], device: Any, chunk: int,
                fast: bool, crop_border: int, timings: Timings | None) -> ClipScores:
    import torch

    usable = {n: m for n, m in metrics.items() if gt is not None or not m.card.needs_gt}
    frame = {n: m for n, m in usable.items() if not isinstance(m, StreamMetric)}
    stream = {n: m for n, m in usable.items() if isinstance(m, StreamMetric)}
    n_frames = gt.num_frames if gt is not None else next(iter(outputs.values())).num_frames
    per_frame: dict[str, dict[str, list]] = {k: {n: [] for n in frame} for k in outputs}
    states = {k: {n: m.start(n_frames) for n, m in stream.items()} for k in outputs}
    luma = native_luma_keys(outputs, gt, stream)
    cut = {n: crop_border if m.card.kind == "FR" else 0 for n, m in frame.items()}
    index = 0
    videos = [v for v in (*outputs.values(), gt) if v is not None]
    chunk = frames_per_chunk(chunk, max(v.height for v in videos), max(v.width for v in videos), device)
    pin = getattr(device, "type", str(device).split(":")[0]) == "cuda" and torch.cuda.is_available()
    clock = _Clock(timings, device)
    with torch.inference_mode():
        for item in _Prefetch({**outputs, GT_KEY: gt}, chunk, luma, pin):
            clock.lap("decode")
            gt_t = to_tensor(item[GT_KEY][0], device) if gt is not None else None
            gt_y = luma_to_tensor(item[GT_KEY][1], device) if gt is not None else None
            outs = {k: (to_tensor(item[k][0], device), luma_to_tensor(item[k][1], device)) for k in outputs}
            clock.lap("transfer")
            refs = {n: m.reference(_crop(gt_t, cut[n])) if gt_t is not None else None for n, m in frame.items()}
            for label, (out_t, out_y) in outs.items():
                for n, m in frame.items():
                    with _autocast(device, fast and m.tolerates_fast):
                        v = _with_backoff(m.compute, _crop(out_t, cut[n]), _crop(gt_t, cut[n]), refs[n], m)
                    per_frame[label][n].append(v.double())
                for n, m in stream.items():
                    with _autocast(device, fast and m.tolerates_fast):
                        if getattr(m, "native_luma", False):
                            m.update(states[label][n], out_t, gt_t, index, luma=(out_y, gt_y))
                        else:
                            m.update(states[label][n], out_t, gt_t, index)
            clock.lap("compute")
            index += len(next(iter(item.values()))[0])
    scores = ClipScores()
    for label in outputs:
        vals: dict[str, tuple[float, np.ndarray | None]] = {}
        for n, chunks in per_frame[label].items():
            arr = torch.cat(chunks).cpu().numpy() if chunks else np.zeros(0)
            vals[n] = (float(np.mean(arr)) if len(arr) else float("nan"), arr)
        clock.lap("store")
        for n, m in stream.items():  # per-clip metrics (DOVER, VMAF's pooling) do their work here
            vals[n] = m.finish(states[label][n])
        clock.lap("compute")
        scores.values[label] = vals
    return scores
