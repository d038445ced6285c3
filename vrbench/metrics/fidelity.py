"""PSNR and SSIM under explicit conventions, batched in torch (float64, so results match the references).

Conventions (each is its own metric id, because they differ by up to ~1.3 dB on the same frames):
- `psnr-rgb`: MSE over all RGB values in [0, 1], data range 1 (pyiqa `psnr`, skimage on uint8 / 255).
- `psnr-y`:   BT.601 luma with the +16 offset, Y = 16 + 65.481 R + 128.553 G + 24.966 B on [0, 1] RGB, not
              rounded, data range 255 (BasicSR `calculate_psnr(test_y_channel=True)`).
- `ssim-y`:   SSIM of that Y channel: 11x11 Gaussian window, sigma 1.5, 'valid' filtering, K1 0.01, K2 0.03,
              L = 255 (BasicSR `calculate_ssim`, Wang et al. 2004).
- `ssim-rgb`: the same SSIM on each RGB channel in [0, 255], averaged over channels (BasicSR without Y).
- `ssim-yiq`: pyiqa's default `ssim`: luma of YIQ (0.299, 0.587, 0.114), rounded to integers in [0, 255], and
              the contrast-structure term clamped at 0 (pyiqa's relu).
- `ssim-matlab`: Wang et al.'s `ssim.m` on MATLAB `rgb2gray` of 8-bit RGB: luma 0.298936021293775 R +
              0.587043074451121 G + 0.114020904255103 B on [0, 255], rounded half away from zero to uint8 as MATLAB
              does; Gaussian 11/1.5, 'valid', K1 0.01, K2 0.03, L = 255, no clamp (the SSIM of MATLAB-based tables).
Identical frames have infinite PSNR; it is kept as +inf per frame (and the clip mean is then +inf).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch

from vrbench.metrics.base import Metric, MetricCard
from vrbench.registry import METRICS

BT601 = (65.481, 128.553, 24.966)  # ITU-R BT.601 luma on [0, 1] RGB -> [16, 235]
YIQ = (0.299, 0.587, 0.114)
# MATLAB rgb2gray: the first row of inv([1 .956 .621; 1 -.272 -.647; 1 -1.106 1.703]) (rgb2gray.m documentation)
MATLAB_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)


def luma_bt601(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) BT.601 Y in [16, 235], unrounded (BasicSR `rgb2ycbcr`)."""
    w = torch.tensor(BT601, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True) + 16.0


def luma_yiq_rounded(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) YIQ luma x 255, rounded (pyiqa `to_y_channel(..., 255)`)."""
    w = torch.tensor(YIQ, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return ((x * w).sum(1, keepdim=True) * 255.0).round()


def luma_matlab_gray(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) MATLAB `rgb2gray` of the 8-bit image, as uint8 values in [0, 255].

    RGB is first put back on its 8-bit grid (round(x * 255): float32 x / 255 is not exact, and a luma within 1e-5
    of .5 would otherwise round the wrong way), then MATLAB's uint8 conversion: round half away from zero.
    """
    rgb = (x.double() * 255.0).round()
    w = torch.tensor(MATLAB_GRAY, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
    return torch.floor((rgb * w).sum(1, keepdim=True) + 0.5).clamp_(0.0, 255.0)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """Per-image PSNR in dB over all channels and pixels; +inf where the images are identical."""
    mse = (x.double() - y.double()).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(data_range**2 / mse)


@functools.lru_cache(maxsize=8)
def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


@functools.lru_cache(maxsize=16)
def _band_matrix(n: int, size: int, sigma: float, device: str) -> torch.Tensor:
    """(n, n - size + 1) matrix M with x @ M = 'valid' correlation of x with the Gaussian window along x's last
    axis. A float64 matmul is far faster on CPU than a grouped float64 conv2d, with the same products summed."""
    g = _gaussian_window(size, sigma)
    m = torch.zeros(n, n - size + 1, dtype=torch.float64)
    for j in range(n - size + 1):
        m[j : j + size, j] = g
    return m.to(device)


def _filter_valid(x: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of every channel of (N, C, H, W)."""
    dev = str(x.device)
    x = x @ _band_matrix(x.shape[-1], size, sigma, dev)
    return (x.transpose(-1, -2) @ _band_matrix(x.shape[-2], size, sigma, dev)).transpose(-1, -2)


def ssim_reference(y: torch.Tensor, size: int = 11, sigma: float = 1.5) -> tuple[torch.Tensor, ...]:
    """Ground-truth-side SSIM statistics (y, mu_y, E_w[y^2]), computed once and shared by every method."""
    if min(y.shape[-2:]) < size:
        raise ValueError(f"SSIM needs frames of at least {size}x{size} pixels, got {tuple(y.shape[-2:])}")
    y = y.double()
    return y, _filter_valid(y, size, sigma), _filter_valid(y * y, size, sigma)


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 255.0, size: int = 11, sigma: float = 1.5,
         relu_cs: bool = False, ref: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004) averaged over the 'valid' map and over channels; float64 throughout.

    `relu_cs` clamps the contrast-structure term at 0 before the product, as pyiqa's `ssim` does. `ref` is
    `ssim_reference(y)` when the caller already has it.
    """
    y, mu_y, e_yy = ref if ref is not None else ssim_reference(y, size, sigma)
    x = x.double()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x = _filter_valid(x, size, sigma)
    sxx = _filter_valid(x * x, size, sigma) - mu_x**2
    syy = e_yy - mu_y**2
    sxy = _filter_valid(x * y, size, sigma) - mu_x * mu_y
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    if relu_cs:
        cs = cs.clamp_min(0.0)
    s = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs
    return s.flatten(1).mean(1)


def _rgb255(x: torch.Tensor) -> torch.Tensor:
    return x.double() * 255.0


def _rgb1(x: torch.Tensor) -> torch.Tensor:
    return x.double()


@dataclass(frozen=True)
class Fidelity:
    """How one PSNR/SSIM variant maps RGB in [0, 1] to the values it compares, and which formula it applies."""

    space: Callable[[torch.Tensor], torch.Tensor]
    formula: str  # "psnr" | "ssim"
    data_range: float
    relu_cs: bool = False


class FidelityMetric(Metric):
    """A PSNR or SSIM variant; the ground-truth side is prepared once per chunk and shared across methods."""

    def __init__(self, card: MetricCard, spec: Fidelity) -> None:
        self.card, self.spec = card, spec

    def reference(self, gt: torch.Tensor) -> object:
        y = self.spec.space(gt.double())
        return ssim_reference(y) if self.spec.formula == "ssim" else y

    def compute(self, out: torch.Tensor, gt: torch.Tensor | None, ref: object = None) -> torch.Tensor:
        if gt is None:
            raise ValueError(f"{self.card.name} needs a ground-truth clip")
        ref = self.reference(gt) if ref is None else ref
        x = self.spec.space(out.double())
        if self.spec.formula == "psnr":
            return psnr(x, ref, self.spec.data_range)
        return ssim(x, None, self.spec.data_range, relu_cs=self.spec.relu_cs, ref=ref)


def _fr_card(name: str, summary: str, higher: bool, rng, convention: str, reference: str, unit: str = "") -> MetricCard:
    return MetricCard(name=name, summary=summary, kind="FR", higher_is_better=higher, range=rng, version="1",
                      convention=convention, reference=reference, needs_gt=True, unit=unit)


_FIDELITY = {
    "psnr-rgb": (
        _fr_card("psnr-rgb", "PSNR on RGB", True, (0.0, None), "RGB [0,1], data range 1, no crop",
                 "skimage.metrics.peak_signal_noise_ratio; pyiqa psnr", "dB"),
        Fidelity(_rgb1, "psnr", 1.0)),
    "psnr-y": (
        _fr_card("psnr-y", "PSNR on BT.601 Y (BasicSR)", True, (0.0, None), "Y = BT.601 +16, unrounded, L=255",
                 "BasicSR calculate_psnr(test_y_channel=True)", "dB"),
        Fidelity(luma_bt601, "psnr", 255.0)),
    "ssim-y": (
        _fr_card("ssim-y", "SSIM on BT.601 Y (BasicSR)", True, (0.0, 1.0), "Y = BT.601 +16, Gaussian 11/1.5, valid",
                 "BasicSR calculate_ssim(test_y_channel=True); skimage SSIM on Y"),
        Fidelity(luma_bt601, "ssim", 255.0)),
    "ssim-rgb": (
        _fr_card("ssim-rgb", "SSIM on RGB, mean over channels", True, (0.0, 1.0),
                 "RGB [0,255], Gaussian 11/1.5, valid, channel mean", "BasicSR calculate_ssim on RGB"),
        Fidelity(_rgb255, "ssim", 255.0)),
    "ssim-yiq": (
        _fr_card("ssim-yiq", "SSIM on rounded YIQ luma (pyiqa default)", True, (0.0, 1.0),
                 "Y = YIQ luma x255 rounded, Gaussian 11/1.5, valid, cs clamped at 0", "pyiqa ssim"),
        Fidelity(luma_yiq_rounded, "ssim", 255.0, relu_cs=True)),
    "ssim-matlab": (
        _fr_card("ssim-matlab", "SSIM on MATLAB rgb2gray luma (Wang et al. ssim.m)", True, (0.0, 1.0),
                 "Y = MATLAB rgb2gray (0.298936 R + 0.587043 G + 0.114021 B) rounded to uint8, Gaussian 11/1.5, "
                 "valid, K1 .01 K2 .03 L=255, cs not clamped",
                 "Wang et al. 2004 ssim.m on MATLAB rgb2gray (as in pyiqa ResultsCalibra results_official.csv)"),
        Fidelity(luma_matlab_gray, "ssim", 255.0)),
}


def _register() -> None:
    for card, spec in _FIDELITY.values():
        METRICS.add(card, functools.partial(FidelityMetric, card, spec))


_register()
