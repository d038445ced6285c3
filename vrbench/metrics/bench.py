"""`vrbench bench metrics`: our engine against a per-frame loop calling pyiqa one frame at a time (how paper
scripts do it), on the same real frames, measured side by side in one run.

Prints frames/s of both, their ratio, the largest relative difference between their values, the engine's time
against pure metric compute on frames already on the device (the overhead of decoding and moving data), and the
deviation of `--fast` from fp32. `random_weights` plants randomly initialised stand-ins for the learned metrics'
weight files in a temporary torch hub, so their speed can be measured on a machine without the real files
(values are then meaningless, but both sides use the same weights, so they must still agree).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# metric -> (pyiqa name, options) for the per-frame loop. ssim-y has no exact pyiqa configuration (pyiqa rounds
# the Y channel), so its loop uses scikit-image's Gaussian SSIM on the BT.601 Y channel instead.
LOOP_REFERENCE = {
    "psnr-rgb": ("psnr", {}),
    "psnr-y": ("psnr", {"test_y_channel": True, "color_space": "ycbcr"}),
    "ssim-yiq": ("ssim", {}),
    "ssim-y": ("skimage", {}),
    "lpips-alex": ("lpips", {}),
    "lpips-vgg": ("lpips-vgg", {}),
    "dists": ("dists", {}),
    "musiq": ("musiq", {}),
    "niqe": ("niqe", {}),
}


@dataclass
class BenchResult:
    frames: int
    size: tuple[int, int]
    metrics: list[str]
    engine_fps: float
    loop_fps: float
    pure_fps: float
    max_rel_diff: dict[str, float] = field(default_factory=dict)
    fast_max_rel_dev: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"

    @property
    def ratio(self) -> float:
        return self.engine_fps / self.loop_fps

    @property
    def overhead(self) -> float:
        return self.pure_fps / self.engine_fps - 1.0


def plant_random_weights(hub: Path) -> None:
    """Random-init stand-ins for LPIPS (alex, vgg), DISTS, MUSIQ and NIQE at their cache paths under `hub`."""
    import torch
    import torchvision
    from pyiqa.archs.dists_arch import DISTS
    from pyiqa.archs.lpips_arch import LPIPS
    from pyiqa.archs.musiq_arch import MUSIQ
    from scipy.io import savemat

    torch.manual_seed(0)
    (hub / "checkpoints").mkdir(parents=True, exist_ok=True)
    (hub / "pyiqa").mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.alexnet().state_dict(), hub / "checkpoints" / "alexnet-owt-7be5be79.pth")
    torch.save(torchvision.models.vgg16().state_dict(), hub / "checkpoints" / "vgg16-397923af.pth")
    torch.save(LPIPS(pretrained=False, net="alex").state_dict(), hub / "pyiqa" / "LPIPS_v0.1_alex-df73285e.pth")
    torch.save(LPIPS(pretrained=False, net="vgg").state_dict(), hub / "pyiqa" / "LPIPS_v0.1_vgg-a78928a0.pth")
    torch.save(DISTS(pretrained=False).state_dict(), hub / "pyiqa" / "DISTS_weights-f5e65c96.pth")
    torch.save(MUSIQ(pretrained=False).state_dict(), hub / "pyiqa" / "musiq_koniq_ckpt-e95806b9.pth")
    a = np.random.default_rng(0).normal(size=(36, 36))
    savemat(hub / "pyiqa" / "niqe_modelparameters.mat",
            {"mu_prisparam": np.random.default_rng(1).normal(size=(1, 36)), "cov_prisparam": a @ a.T + 36 * np.eye(36)})


METHOD_MODES = {"nearest": 0, "bicubic": 2, "lanczos": 4}  # cv2 interpolation flags


def _frames(n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """n real GT frames (demo clip bikes-railing, 256x256) and three methods' x4 upsamplings of its LQ: a
    leaderboard scores several methods against the same ground truth."""
    import cv2

    from vrbench.registry import DATASETS

    clip = {c.name: c for c in DATASETS.create("demo").clips()}["bikes-railing"]
    gt = np.concatenate([clip.gt.read()] * (-(-n // clip.gt.num_frames)))[:n]
    lq = np.concatenate([clip.lq.read()] * (-(-n // clip.lq.num_frames)))[:n]
    size = (gt.shape[2], gt.shape[1])
    outs = {m: np.stack([cv2.resize(f, size, interpolation=flag) for f in lq]) for m, flag in METHOD_MODES.items()}
    return outs, gt


def _loop(names: list[str], outs: dict[str, np.ndarray], gt: np.ndarray, device: Any
          ) -> tuple[float, dict[str, dict[str, np.ndarray]]]:
    """Per-frame loop: for each method, one pyiqa call per frame and metric, frames converted one at a time."""
    import pyiqa
    import torch

    from vrbench.metrics.engine import to_tensor

    models = {n: pyiqa.create_metric(LOOP_REFERENCE[n][0], device=device, **LOOP_REFERENCE[n][1])
              for n in names if LOOP_REFERENCE[n][0] != "skimage"}
    values: dict[str, dict[str, list[float]]] = {k: {n: [] for n in names} for k in outs}
    t0 = time.perf_counter()
    with torch.inference_mode():
        for method, out in outs.items():
            for o, g in zip(out, gt, strict=True):
                ot, gtt = to_tensor(o[None], device), to_tensor(g[None], device)
                for n in names:
                    values[method][n].append(_loop_value(n, models.get(n), o, g, ot, gtt))
    return time.perf_counter() - t0, {k: {n: np.asarray(v) for n, v in d.items()} for k, d in values.items()}


def _loop_value(name: str, model: Any, o: np.ndarray, g: np.ndarray, ot: Any, gtt: Any) -> float:
    from skimage.metrics import structural_similarity

    from vrbench.registry import METRICS

    if name == "ssim-y":
        y = [16.0 + f.astype(np.float64) / 255.0 @ np.array([65.481, 128.553, 24.966]) for f in (o, g)]
        return structural_similarity(y[0], y[1], data_range=255, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    args = (ot, gtt) if METRICS.card(name).needs_gt else (ot,)
    return float(model(*args).reshape(-1)[0])


def _pure(metrics: dict[str, Any], outs: dict[str, np.ndarray], gt: np.ndarray, device: Any, chunk: int) -> float:
    """Metric compute alone on frames already on the device (the engine's lower bound, same sharing)."""
    import torch

    from vrbench.metrics.engine import to_tensor

    chunks = [(to_tensor(gt[i : i + chunk], device), [to_tensor(o[i : i + chunk], device) for o in outs.values()])
              for i in range(0, len(gt), chunk)]
    t0 = time.perf_counter()
    with torch.inference_mode():
        for g, os_ in chunks:
            refs = {n: m.reference(g) for n, m in metrics.items()}
            for o in os_:
                for n, m in metrics.items():
                    m.compute(o, g, refs[n])
    return time.perf_counter() - t0


def run_bench(names: list[str] | None = None, frames: int = 16, chunk: int = 8, device: str | None = None,
              random_weights: bool = False) -> BenchResult:
    if random_weights:
        hub = Path(tempfile.mkdtemp(prefix="vrbench-bench-hub-"))
        os.environ["TORCH_HOME"] = str(hub)
        os.environ["VRBENCH_ALLOW_UNVERIFIED_WEIGHTS"] = "1"
        plant_random_weights(Path(os.environ["TORCH_HOME"]) / "hub")
    from vrbench.devices import pick_device
    from vrbench.metrics.engine import build_metrics, evaluate_clip
    from vrbench.video import open_video, write_frames

    dev = pick_device(device)
    outs, gt = _frames(frames)
    metrics = build_metrics(names or list(LOOP_REFERENCE), dev).ready
    metrics = {n: m for n, m in metrics.items() if n in LOOP_REFERENCE}
    tmp = Path(tempfile.mkdtemp(prefix="vrbench-bench-"))
    for k, o in outs.items():
        write_frames(o, tmp / k)
    write_frames(gt, tmp / "gt")
    videos, vg = {k: open_video(tmp / k) for k in outs}, open_video(tmp / "gt")
    evaluate_clip({k: v for k, v in list(videos.items())[:1]}, vg, metrics, dev, chunk)  # warm-up
    t0 = time.perf_counter()
    ours = evaluate_clip(videos, vg, metrics, dev, chunk).values
    t_engine = time.perf_counter() - t0
    t_loop, loop = _loop(list(metrics), outs, gt, dev)
    t_pure = _pure(metrics, outs, gt, dev, chunk)
    fast = evaluate_clip(videos, vg, metrics, dev, chunk, fast=True).values
    n_scored = len(gt) * len(outs)
    res = BenchResult(frames=n_scored, size=gt.shape[1:3], metrics=list(metrics), engine_fps=n_scored / t_engine,
                      loop_fps=n_scored / t_loop, pure_fps=n_scored / t_pure, device=str(dev))
    for n in metrics:
        a = np.concatenate([ours[k][n][1] for k in outs])
        b = np.concatenate([loop[k][n] for k in outs])
        f = np.concatenate([fast[k][n][1] for k in outs])
        res.max_rel_diff[n] = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))
        res.fast_max_rel_dev[n] = float(np.max(np.abs(f - a) / np.maximum(np.abs(a), 1e-12)))
    return res
