"""Temporal-consistency metrics over one clip: warping errors, brightness flicker, tLP, neighbour similarity.

All functions are pure: they take a clip ``(T, 3, H, W)`` float in [0, 1] RGB (values are not clamped) and, where
needed, a flow function (see :mod:`vrbench.metrics.flow`) or an LPIPS function, and return one value per clip.

Policies shared by every function here:

- a clip needs at least 2 frames: a 1-frame clip raises ``ValueError`` (there is no frame pair to measure; the
  caller records the metric as not applicable rather than as a number);
- NaN or Inf in a frame raises ``ValueError`` naming the first bad frame index.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from vrbench.metrics.flow import FlowFn, backward_warp, occlusion_mask, pad_to_multiple

# BT.601 luma weights (ITU-R BT.601), used by `flicker`.
LUMA_601 = (0.299, 0.587, 0.114)


def check_clip(frames: Tensor, name: str = "clip", min_frames: int = 2) -> None:
    """Raise ``ValueError`` unless ``frames`` is a finite float ``(T, 3, H, W)`` tensor with ``T >= min_frames``."""
    if not isinstance(frames, Tensor) or frames.ndim != 4 or frames.shape[1] != 3:
        shape = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
        raise ValueError(f"{name} must be a (T, 3, H, W) tensor, got {shape}")
    if not frames.is_floating_point():
        raise ValueError(f"{name} must be float in [0, 1], got dtype {frames.dtype}")
    if frames.shape[0] < min_frames:
        raise ValueError(f"{name} has {frames.shape[0]} frame(s); temporal metrics need at least {min_frames}")
    bad = (~torch.isfinite(frames)).flatten(1).any(1).nonzero()
    if len(bad):
        raise ValueError(f"{name}: frame {int(bad[0])} contains NaN or Inf values")


def _check_same_shape(output: Tensor, gt: Tensor) -> None:
    if output.shape != gt.shape:
        raise ValueError(f"output has shape {tuple(output.shape)}, ground truth has {tuple(gt.shape)}")


def masked_warp_error(img1: Tensor, img2: Tensor, fw_flow: Tensor, bw_flow: Tensor) -> Tensor:
    """Per-pair error of Lai et al. (ECCV 2018): ``sum(noc * (warp(img2) - img1)^2) / sum(noc)``, shape (B,).

    ``noc`` is the non-occluded mask of ``occlusion_mask(fw, bw)``; the sum runs over channels and pixels, the
    count over pixels only (as in the reference code). When every pixel is occluded the denominator becomes the
    element count, so that pair contributes 0 (EvalCrafter/Lai behaviour, reproduced).
    """
    noc = (~occlusion_mask(fw_flow, bw_flow)).to(img1.dtype)
    diff = (backward_warp(img2, fw_flow) - img1) * noc
    num = diff.double().pow(2).flatten(1).sum(1)
    den = noc.double().flatten(1).sum(1)
    den = torch.where(den > 0, den, torch.full_like(den, float(diff[0].numel())))
    return num / den


def _flows(flow_fn: FlowFn, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Forward (a -> b) and backward (b -> a) flow from one batched call."""
    both = flow_fn(torch.cat([a, b]), torch.cat([b, a]))
    n = a.shape[0]
    return both[:n].to(a.dtype), both[n:].to(a.dtype)


def ewarp(frames: Tensor, flow_fn: FlowFn, *, downscale: float = 0.5, pad_multiple: int = 8,
          scale: float = 1000.0) -> float:
    """E*warp of the VSR papers (EvalCrafter ``compute_video_warping_error``, used by STAR and DOVE): output only.

    For every consecutive pair: both frames bilinearly resized by ``downscale`` (``align_corners=False``, no
    antialias), replicate-padded to a multiple of ``pad_multiple`` (RAFT's InputPadder; the error is taken on the
    padded frames, as there), forward and backward flow with ``flow_fn``, then :func:`masked_warp_error`. Result:
    mean over the T-1 pairs times ``scale`` (1000 = the "x10^-3" unit of STAR/DOVE tables). Lower is better.
    For published numbers use RAFT with raft-things weights, 20 iterations and ``evalcrafter_range=True``.
    """
    check_clip(frames, "frames")
    errors = []
    for t in range(frames.shape[0] - 1):
        pair = frames[t:t + 2]
        if downscale != 1.0:
            pair = F.interpolate(pair, scale_factor=downscale, mode="bilinear", align_corners=False)
        if pad_multiple > 1:
            pair, _ = pad_to_multiple(pair, pad_multiple)
        fw, bw = _flows(flow_fn, pair[:1], pair[1:])
        errors.append(masked_warp_error(pair[:1], pair[1:], fw, bw))
    return float(torch.cat(errors).mean()) * scale


def ewarp_gt(output: Tensor, gt: Tensor, flow_fn: FlowFn, *, scale: float = 1000.0) -> float:
    """Warping error with flow and occlusion from the ground truth (Lai et al., ECCV 2018, Eq. for E_warp).

    Flow is estimated on the GT clip at full resolution (Lai et al. used the unprocessed input video and
    FlowNet2), the output frame t+1 is warped onto output frame t with it, and :func:`masked_warp_error` uses the GT
    occlusion mask. Mean over pairs times ``scale`` (default 1000, the unit of the E*warp tables; ``scale=1``
    gives the raw mean). Lower is better.
    """
    check_clip(output, "output")
    check_clip(gt, "ground truth")
    _check_same_shape(output, gt)
    errors = []
    for t in range(gt.shape[0] - 1):
        fw, bw = _flows(flow_fn, gt[t:t + 1], gt[t + 1:t + 2])
        errors.append(masked_warp_error(output[t:t + 1], output[t + 1:t + 2], fw, bw))
    return float(torch.cat(errors).mean()) * scale


def flicker(frames: Tensor) -> float:
    """Global brightness flicker: mean over consecutive pairs of ``|Y_{t+1} - Y_t|``, in 8-bit grey levels.

    ``Y_t`` is the mean BT.601 luma (0.299 R + 0.587 G + 0.114 B) of frame t, times 255. Whole-frame means make it
    insensitive to motion and sensitive to the per-frame brightness/colour drift typical of frame-wise restoration
    (e.g. per-frame colour correction). Not VBench's ``temporal_flickering`` (mean pixel-wise absolute difference,
    meant for static videos). Lower is better; 0 for a clip of constant mean brightness.
    """
    check_clip(frames, "frames")
    weights = torch.tensor(LUMA_601, dtype=torch.float64, device=frames.device)
    luma = (frames.double().mean(dim=(2, 3)) * weights).sum(1) * 255.0
    return float((luma[1:] - luma[:-1]).abs().mean())


def tlp(output: Tensor, gt: Tensor, lpips_fn: Callable[[Tensor, Tensor], Tensor], *, batch: int = 8,
        scale: float = 100.0) -> float:
    """Temporal LPIPS of TecoGAN (Chu et al., 2020): mean over t of ``|LP(o_t, o_t+1) - LP(g_t, g_t+1)|``.

    ``lpips_fn(x, y)`` takes two (B, 3, H, W) batches in [0, 1] and returns B distances (any shape with B
    elements); TecoGAN uses LPIPS-alex v0.1. ``scale=100`` matches TecoGAN's reported "tLP x100" (its metrics.py
    multiplies by 100); TecoGAN additionally drops 2 frames at each end and centre-crops to multiples of 32, which
    is left to the caller. Lower is better; 0 when output == gt.
    """
    check_clip(output, "output")
    check_clip(gt, "ground truth")
    _check_same_shape(output, gt)
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    diffs = []
    for start in range(0, output.shape[0] - 1, batch):
        stop = min(start + batch, output.shape[0] - 1)
        d_out = lpips_fn(output[start:stop], output[start + 1:stop + 1]).reshape(stop - start)
        d_gt = lpips_fn(gt[start:stop], gt[start + 1:stop + 1]).reshape(stop - start)
        diffs.append((d_out.double() - d_gt.double()).abs())
    return float(torch.cat(diffs).mean()) * scale


def neighbour_cosine(features: Tensor) -> Tensor:
    """Cosine similarity of each frame's feature with the next one: ``(T, D) -> (T-1,)`` float64.

    Building block of CLIP temporal consistency (features computed by the caller); the clip value is the mean.
    """
    if not isinstance(features, Tensor) or features.ndim != 2:
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"features must be a (T, D) tensor, got {shape}")
    if features.shape[0] < 2:
        raise ValueError(f"features have {features.shape[0]} frame(s); need at least 2")
    bad = (~torch.isfinite(features)).any(1).nonzero()
    if len(bad):
        raise ValueError(f"features of frame {int(bad[0])} contain NaN or Inf values")
    f = features.double()
    return F.cosine_similarity(f[:-1], f[1:], dim=1)
