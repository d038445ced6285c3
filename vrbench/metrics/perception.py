"""Perception measured without weights: spectral detail above the LQ band and a no-reference blur score.

Each id fixes its convention on the BT.601 luma of `psnr-y` (Y = 16 + 65.481 R + 128.553 G + 24.966 B, unrounded,
float64). For an x`s` upscaling the LQ grid carries spatial frequencies up to its Nyquist limit 1 / (2 s) cycles per
output pixel on each axis; the **high band** is every 2-D DFT bin with max(|f_y|, |f_x|) > 1 / (2 s) (f from
`numpy.fft.fftfreq`), the **low band** the rest (DC included). What a restorer adds there is detail the LQ cannot
hold: GT-like detail raises the power and its correlation with the GT, noise raises the power only.

- `hf-power-x<s>`: 10 log10(P_out / P_gt), P the summed |DFT|^2 over the high band of the frame's Y minus its mean,
  times a separable Hann window (`numpy.hanning` per axis, so the frame border does not count as an edge). 0 dB: the
  GT's detail energy; below 0: blurrier than the GT; above 0: more energy than the GT (noise or invented texture).
  Higher is "more detail", not "better": read it beside `hf-corr`.
- `hf-corr-x<s>`: Re sum(X conj(G)) / sqrt(sum |X|^2 sum |G|^2) over the high band of the same windowed spectra: the
  Pearson correlation of the high-passed output and GT (Parseval). 1: the GT's detail, 0: unrelated detail.
- `lf-psnr-x<s>`: PSNR (L = 255) of the low band only: MSE = sum over the low band of |DFT(Y_out - Y_gt)|^2 / (H W)^2
  (Parseval, no window), i.e. the error a restorer makes on what the LQ already shows.
- `blur-effect`: `skimage.measure.blur_effect` (Crete-Roffet et al. 2007, re-blur with h_size = 11) of Y; 0 sharp,
  1 blurry; no reference needed.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from vrbench.metrics.base import Metric, MetricCard
from vrbench.metrics.fidelity import luma_bt601
from vrbench.registry import METRICS

SCALES = (2, 4)
VERSION = "1"


@functools.lru_cache(maxsize=16)
def high_band(h: int, w: int, scale: int) -> np.ndarray:
    """(h, w) bool mask of the DFT bins above the LQ Nyquist limit 1 / (2 scale) on either axis."""
    fy, fx = np.abs(np.fft.fftfreq(h))[:, None], np.abs(np.fft.fftfreq(w))[None, :]
    return np.maximum(fy, fx) > 1.0 / (2 * scale)


@functools.lru_cache(maxsize=16)
def _hann2d(h: int, w: int) -> np.ndarray:
    return np.outer(np.hanning(h), np.hanning(w))


def luma(x: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) RGB in [0, 1] -> (N, H, W) float64 BT.601 Y in [16, 235] (psnr-y's convention)."""
    return luma_bt601(x.double())[:, 0].cpu().numpy()


def windowed_spectrum(y: np.ndarray) -> np.ndarray:
    """DFT of each frame's Y minus its mean, times the separable Hann window: (N, H, W) complex."""
    h, w = y.shape[-2:]
    return np.fft.fft2((y - y.mean(axis=(-2, -1), keepdims=True)) * _hann2d(h, w))


def hf_power_db(out_spec: np.ndarray, gt_spec: np.ndarray, scale: int) -> np.ndarray:
    """Per frame 10 log10 of the output's over the GT's high-band power."""
    band = high_band(*out_spec.shape[-2:], scale)
    p_out = (np.abs(out_spec) ** 2)[:, band].sum(1)
    p_gt = (np.abs(gt_spec) ** 2)[:, band].sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10.0 * np.log10(p_out / p_gt)


def hf_correlation(out_spec: np.ndarray, gt_spec: np.ndarray, scale: int) -> np.ndarray:
    """Per frame correlation of the high-band components (NaN where either has none)."""
    band = high_band(*out_spec.shape[-2:], scale)
    x, g = out_spec[:, band], gt_spec[:, band]
    num = np.real(x * np.conj(g)).sum(1)
    den = np.sqrt((np.abs(x) ** 2).sum(1) * (np.abs(g) ** 2).sum(1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return num / den


def low_band_psnr(y_out: np.ndarray, y_gt: np.ndarray, scale: int) -> np.ndarray:
    """Per frame PSNR (L = 255) of the low band of Y_out - Y_gt; +inf where it is zero."""
    h, w = y_out.shape[-2:]
    err = np.fft.fft2(y_out - y_gt)
    mse = (np.abs(err) ** 2)[:, ~high_band(h, w, scale)].sum(1) / float(h * w) ** 2
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(255.0**2 / mse)


class SpectralMetric(Metric):
    """One of the band metrics of the module docstring; the GT's luma and spectrum are computed once per chunk."""

    def __init__(self, card: MetricCard, what: str, scale: int) -> None:
        self.card, self.what, self.scale = card, what, scale

    def reference(self, gt: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        y = luma(gt)
        return y, windowed_spectrum(y)

    def compute(self, out: torch.Tensor, gt: torch.Tensor | None, ref=None) -> torch.Tensor:
        if gt is None:
            raise ValueError(f"{self.card.name} needs a ground-truth clip")
        y_gt, s_gt = self.reference(gt) if ref is None else ref
        y = luma(out)
        if self.what == "lf-psnr":
            values = low_band_psnr(y, y_gt, self.scale)
        elif self.what == "hf-power":
            values = hf_power_db(windowed_spectrum(y), s_gt, self.scale)
        else:
            values = hf_correlation(windowed_spectrum(y), s_gt, self.scale)
        return torch.from_numpy(values)


class BlurEffect(Metric):
    """scikit-image's `blur_effect` of the BT.601 luma, per frame."""

    card = MetricCard(
        name="blur-effect", summary="Blur effect (Crete-Roffet et al. 2007; scikit-image), no weights", kind="NR",
        higher_is_better=False, range=(0.0, 1.0), version=VERSION,
        convention="skimage.measure.blur_effect(Y, h_size=11) on BT.601 Y (+16, unrounded, float64); 0 sharp, 1 blurry",
        reference="skimage.measure.blur_effect")

    def compute(self, out: torch.Tensor, gt: torch.Tensor | None = None, ref=None) -> torch.Tensor:
        from skimage.measure import blur_effect

        return torch.tensor([blur_effect(y, h_size=11) for y in luma(out)], dtype=torch.float64)


def _band_card(what: str, scale: int) -> MetricCard:
    edge = f"max(|fy|,|fx|) > 1/{2 * scale} cycles/pixel (the LQ Nyquist limit at x{scale})"
    window = "frame-mean removed, separable numpy.hanning window, numpy.fft.fft2"
    specs = {
        "hf-power": ("High-band power above the LQ Nyquist band, relative to GT (dB)", True, (None, None), "dB",
                     f"10 log10(P_out / P_gt), P = sum |DFT(Y)|^2 over {edge}; Y = BT.601 +16; {window}; "
                     "0 = the GT's detail energy, > 0 more energy than the GT (not necessarily better)"),
        "hf-corr": ("Correlation with GT of the detail above the LQ Nyquist band", True, (-1.0, 1.0), "",
                    f"Re sum X conj(G) / sqrt(sum |X|^2 sum |G|^2) over {edge}; Y = BT.601 +16; {window}"),
        "lf-psnr": ("PSNR of the band the LQ already holds (dB)", True, (0.0, None), "dB",
                    f"PSNR, L = 255, of the DFT error of Y = BT.601 +16 on the complement of {edge} "
                    "(DC included; Parseval, no window)"),
    }
    summary, higher, rng, unit, convention = specs[what]
    return MetricCard(name=f"{what}-x{scale}", summary=summary, kind="FR", higher_is_better=higher, range=rng,
                      version=VERSION, convention=convention, reference="numpy.fft (tested against an explicit DFT)",
                      needs_gt=True, unit=unit)


def _register() -> None:
    for scale in SCALES:
        for what in ("hf-power", "hf-corr", "lf-psnr"):
            card = _band_card(what, scale)
            METRICS.add(card, functools.partial(SpectralMetric, card, what, scale))
    METRICS.add(BlurEffect.card, BlurEffect)


_register()
