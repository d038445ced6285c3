"""Colour-fix post-processing that papers apply to method outputs before scoring.

- wavelet (StableSR; used by SeedVR2 on every method, SATB-VR, InvSR): split into low and high frequencies with
  5 levels of a dilated 3x3 binomial blur (dilation 2^i, replicate padding); keep the output's high frequencies and
  take the low frequencies from the bicubic-upsampled LQ.
- adain (STAR, MGLD-VSR, Vivid-VR): match each channel's mean and standard deviation to the upsampled LQ.
Both take float (T, 3, H, W) in [0, 1] and return the same, clipped to [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

BINOMIAL = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0


def _blur(x: torch.Tensor, dilation: int) -> torch.Tensor:
    c = x.shape[1]
    k = BINOMIAL.to(x).expand(c, 1, 3, 3)
    x = F.pad(x, (dilation,) * 4, mode="replicate")
    return F.conv2d(x, k, groups=c, dilation=dilation)


def wavelet_split(x: torch.Tensor, levels: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """(high frequencies, low frequencies) with x = high + low."""
    high = torch.zeros_like(x)
    low = x
    for i in range(levels):
        blurred = _blur(low, 2**i)
        high = high + (low - blurred)
        low = blurred
    return high, low


def wavelet_fix(out: torch.Tensor, lq_up: torch.Tensor) -> torch.Tensor:
    high, _ = wavelet_split(out)
    _, low = wavelet_split(lq_up)
    return (high + low).clamp(0.0, 1.0)


def adain_fix(out: torch.Tensor, lq_up: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    mo, so = out.mean((2, 3), keepdim=True), out.std((2, 3), keepdim=True) + eps
    ml, sl = lq_up.mean((2, 3), keepdim=True), lq_up.std((2, 3), keepdim=True) + eps
    return ((out - mo) / so * sl + ml).clamp(0.0, 1.0)


def colour_fix(out_u8, lq_u8, mode: str):
    """Apply a colour fix to uint8 (T, H, W, 3) output frames given the uint8 LQ frames; returns uint8."""
    from vrbench.metrics.engine import to_tensor

    if mode == "none":
        return out_u8
    fix = {"wavelet": wavelet_fix, "adain": adain_fix}.get(mode)
    if fix is None:
        raise ValueError(f"unknown colour fix '{mode}': expected none, wavelet or adain")
    o, lq = to_tensor(out_u8, "cpu"), to_tensor(lq_u8, "cpu")
    lq_up = F.interpolate(lq, size=o.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)
    fixed = fix(o, lq_up)
    return (fixed * 255.0).round().byte().permute(0, 2, 3, 1).numpy()
