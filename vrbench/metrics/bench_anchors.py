"""The anchors `vrbench bench metrics` measures the engine against: the fastest per-frame (or per-clip) code a
paper's evaluation script runs for each metric, written here from the published formulas (no third-party code).

- Fidelity ids: BasicSR's `calculate_psnr` / `calculate_ssim` (XPixelGroup/BasicSR v1.4.2, basicsr/metrics/
  psnr_ssim.py), one frame at a time: the frame read with `cv2.imread`, float64, BT.601 Y (`rgb2ycbcr`, +16,
  unrounded), SSIM with `cv2.filter2D` and the 2-D window `outer(getGaussianKernel(11, 1.5))`, cropped [5:-5].
  The same loop with the MATLAB rgb2gray luma for `ssim-matlab`; pyiqa's `ssim` per frame for `ssim-yiq`.
- Learned ids: the pyiqa network called once per frame (one output and one GT image a call), as pyiqa's
  scripts do; with the same weights the engine loaded, so values must agree.
- `vmaf`: vmaf-torch's `VMAF` called once per clip on the whole clip's luma.
- DOVER ids: the authors' per-clip call (view sampling and both branches on the clip's frames) through our
  strict-loading re-implementation, which equals the official code (tests/metrics/test_dover.py), with the window
  attention run op by op as the authors' code does (`fused=False`; the engine uses PyTorch's fused attention).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vrbench.metrics.fidelity import BT601, MATLAB_GRAY

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def _y_bt601(bgr: np.ndarray) -> np.ndarray:
    """BasicSR `bgr2ycbcr(y_only=True)` on [0, 255] values, float64: 16 + (24.966 B + 128.553 G + 65.481 R) / 255."""
    f = bgr.astype(np.float64) / 255.0
    return f[..., 0] * BT601[2] + f[..., 1] * BT601[1] + f[..., 2] * BT601[0] + 16.0


def _gray_matlab(bgr: np.ndarray) -> np.ndarray:
    f = bgr.astype(np.float64)
    return np.floor(f[..., 2] * MATLAB_GRAY[0] + f[..., 1] * MATLAB_GRAY[1] + f[..., 0] * MATLAB_GRAY[2] + 0.5)


def basicsr_psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(data_range**2 / mse))


def basicsr_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """BasicSR `_ssim` on one (H, W) float64 channel in [0, 255] (Wang et al. 2004 with a Gaussian window)."""
    import cv2

    k = cv2.getGaussianKernel(11, 1.5)
    window = np.outer(k, k.transpose())
    mu1 = cv2.filter2D(a, -1, window)[5:-5, 5:-5]
    mu2 = cv2.filter2D(b, -1, window)[5:-5, 5:-5]
    mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
    s1 = cv2.filter2D(a**2, -1, window)[5:-5, 5:-5] - mu1_sq
    s2 = cv2.filter2D(b**2, -1, window)[5:-5, 5:-5] - mu2_sq
    s12 = cv2.filter2D(a * b, -1, window)[5:-5, 5:-5] - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + C1) * (2 * s12 + C2)) / ((mu1_sq + mu2_sq + C1) * (s1 + s2 + C2))
    return float(ssim_map.mean())


def _ssim_rgb(o: np.ndarray, g: np.ndarray) -> float:
    o, g = o.astype(np.float64), g.astype(np.float64)
    return float(np.mean([basicsr_ssim(o[..., c], g[..., c]) for c in range(3)]))


# metric -> (anchor description, per-frame function of two BGR uint8 frames as cv2.imread returns them)
OPENCV_ANCHORS: dict[str, tuple[str, Callable[[np.ndarray, np.ndarray], float]]] = {
    "psnr-rgb": ("BasicSR-style PSNR on RGB/255 (float64)",
                 lambda o, g: basicsr_psnr(o.astype(np.float64) / 255.0, g.astype(np.float64) / 255.0, 1.0)),
    "psnr-y": ("BasicSR calculate_psnr, Y (float64)", lambda o, g: basicsr_psnr(_y_bt601(o), _y_bt601(g))),
    "ssim-y": ("BasicSR calculate_ssim, Y, cv2.filter2D", lambda o, g: basicsr_ssim(_y_bt601(o), _y_bt601(g))),
    "ssim-rgb": ("BasicSR calculate_ssim, RGB channel mean", _ssim_rgb),
    "ssim-matlab": ("BasicSR-style _ssim on MATLAB rgb2gray",
                    lambda o, g: basicsr_ssim(_gray_matlab(o), _gray_matlab(g))),
}
PYIQA_FRAME = {"ssim-yiq": "ssim", "lpips-alex": "lpips", "lpips-vgg": "lpips-vgg", "dists": "dists",
               "musiq": "musiq", "niqe": "niqe", "clipiqa": "clipiqa"}
CLIP_ANCHORS = {"vmaf": "vmaf-torch VMAF per clip", "dover-tech100": "DOVER per clip (authors' call)",
                "dover-aes": "DOVER per clip (authors' call)", "dover-overall": "DOVER per clip (authors' call)"}


def anchor_name(metric: str) -> str | None:
    if metric in OPENCV_ANCHORS:
        return OPENCV_ANCHORS[metric][0]
    if metric in PYIQA_FRAME:
        return f"pyiqa '{PYIQA_FRAME[metric]}' per frame"
    return CLIP_ANCHORS.get(metric)


@dataclass
class AnchorRun:
    """Seconds spent reading frames, seconds per metric, and per method the values of each metric."""

    read_s: float
    compute_s: dict[str, float]
    values: dict[str, dict[str, np.ndarray]]


def run_anchors(names: list[str], metrics: dict[str, Any], outs: dict[str, Path], gt: Path, device: Any
                ) -> AnchorRun:
    """Each method scored the way a per-frame script does it: for every frame, read the output and the GT
    image (a script run per method reads the GT again), then call each metric's anchor on that pair. Per-clip
    anchors get the whole clip after the loop."""
    import cv2
    import torch

    from vrbench.metrics.engine import to_tensor
    from vrbench.video import list_frame_files

    frame_names = [n for n in names if n in OPENCV_ANCHORS or n in PYIQA_FRAME]
    clip_names = [n for n in names if n in CLIP_ANCHORS]
    pyiqa_models = {n: _pyiqa_model(n, metrics[n], device) for n in frame_names if n in PYIQA_FRAME}
    read_s, compute_s = 0.0, {n: 0.0 for n in names}
    values: dict[str, dict[str, list]] = {k: {n: [] for n in names} for k in outs}
    gt_files = list_frame_files(gt)
    for method, folder in outs.items():
        clip_o, clip_g = [], []
        for fo, fg in zip(list_frame_files(folder), gt_files, strict=True):
            t = time.perf_counter()
            o, g = cv2.imread(str(fo)), cv2.imread(str(fg))
            read_s += time.perf_counter() - t
            if clip_names:
                clip_o.append(o)
                clip_g.append(g)
            for n in frame_names:
                t = time.perf_counter()
                if n in OPENCV_ANCHORS:
                    v = OPENCV_ANCHORS[n][1](o, g)
                else:
                    with torch.inference_mode():
                        ot, gtt = (to_tensor(f[None, ..., ::-1], device) for f in (o, g))
                        args = (ot, gtt) if metrics[n].card.needs_gt else (ot,)
                        v = float(pyiqa_models[n](*args).reshape(-1)[0])
                _sync(device)
                compute_s[n] += time.perf_counter() - t
                values[method][n].append(v)
        dover: dict[str, float] = {}  # the authors' call returns every DOVER score of the clip at once
        for n in clip_names:
            t = time.perf_counter()
            values[method][n] = _clip_anchor(n, metrics[n], np.stack(clip_o)[..., ::-1], np.stack(clip_g)[..., ::-1],
                                             device, dover)
            _sync(device)
            compute_s[n] += time.perf_counter() - t
    return AnchorRun(read_s, compute_s, {k: {n: np.asarray(v, dtype=np.float64) for n, v in d.items()}
                                         for k, d in values.items()})


def _sync(device: Any) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _pyiqa_model(name: str, metric: Any, device: Any) -> Any:
    """The pyiqa network of the engine's own metric object (same weights), or pyiqa's ssim for ssim-yiq."""
    if name == "ssim-yiq":
        import pyiqa

        return pyiqa.create_metric("ssim", device=device)
    return metric.model


def _clip_anchor(name: str, metric: Any, out: np.ndarray, gt: np.ndarray, device: Any,
                 dover: dict[str, float] | None = None) -> np.ndarray:
    """A per-clip anchor on uint8 RGB (T, H, W, 3) clips; returns the per-frame values (VMAF) or the clip value.
    `dover` holds the clip's DOVER scores once computed, so the other DOVER ids read them as a script would."""
    import torch

    from vrbench.metrics.engine import to_tensor
    from vrbench.metrics.fidelity import luma_bt601

    if name == "vmaf":
        from vmaf_torch import VMAF

        model = VMAF(temporal_pooling=False, enable_motion=True, clip_score=True).to(device).eval()
        with torch.inference_mode():
            ref, dist = (luma_bt601(to_tensor(c, device).double()).float() for c in (gt, out))
            return model(ref, dist).reshape(-1).double().cpu().numpy()
    from vrbench.metrics.dover import dover_scores

    dover = {} if dover is None else dover
    if not dover:
        frames = torch.from_numpy(np.ascontiguousarray(out)).permute(0, 3, 1, 2)
        dover.update(dover_scores(metric.model, frames, seed=0, fused=False))  # the authors' operations
    return np.asarray([dover[metric.key]])
