"""The metric engine: stream an output clip and its ground truth in chunks, move each chunk to the device once,
and compute every frame-level metric of the chunk from the same tensors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vrbench.errors import InputError, MetricUnavailable
from vrbench.metrics.base import Metric
from vrbench.registry import METRICS
from vrbench.video import Video


def pick_device(name: str | None = None) -> Any:
    import torch

    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_tensor(frames: np.ndarray, device: Any) -> Any:
    """uint8 (T, H, W, 3) -> float32 (T, 3, H, W) in [0, 1] on `device` (the one conversion at the boundary)."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(frames)).to(device, non_blocking=True)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


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


def _chunk_pairs(output: Video, gt: Video | None, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    out_it = output.iter_chunks(chunk)
    if gt is None:
        for o in out_it:
            yield o, None
        return
    yield from zip(out_it, gt.iter_chunks(chunk), strict=True)


def evaluate_clip(output: Video, gt: Video | None, metrics: dict[str, Metric], device: Any,
                  chunk: int = 8) -> dict[str, np.ndarray]:
    """Per-frame values of every frame-level metric on one clip: {metric: float64 array of length T}."""
    import torch

    wanted = {n: m for n, m in metrics.items() if gt is not None or not m.card.needs_gt}
    values: dict[str, list[np.ndarray]] = {n: [] for n in wanted}
    with torch.inference_mode():
        for o, g in _chunk_pairs(output, gt, chunk):
            ot = to_tensor(o, device)
            gt_t = to_tensor(g, device) if g is not None else None
            for name, metric in wanted.items():
                values[name].append(metric.compute(ot, gt_t).double().cpu().numpy())
    return {n: np.concatenate(v) if v else np.zeros(0) for n, v in values.items()}
