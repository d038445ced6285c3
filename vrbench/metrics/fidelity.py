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
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vrbench.metrics.base import Metric, MetricCard
from vrbench.registry import METRICS

BT601 = (65.481, 128.553, 24.966)  # ITU-R BT.601 luma on [0, 1] RGB -> [16, 235]
YIQ = (0.299, 0.587, 0.114)
# MATLAB rgb2gray: the first row of inv([1 .956 .621; 1 -.272 -.647; 1 -1.106 1.703]) (rgb2gray.m documentation)
MATLAB_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)

# The float64 working arrays: NumPy on CPU (OpenCV's separable filter and NumPy's elementwise kernels, several times
# faster there than torch's float64 ops), torch tensors on every other device. The formulas below are written once
# for both: they use only arithmetic, slicing, `reshape` and `mean`.
Array = Any


def _work(x: torch.Tensor) -> Array:
    """A float64 working copy of a (N, C, H, W) tensor: a NumPy array on CPU, a torch tensor elsewhere."""
    if x.device.type == "cpu":
        return x.detach().numpy().astype(np.float64, order="C")  # planar: each channel a contiguous image
    return x.double()


def _weighted(x: Array, w: tuple[float, float, float]) -> Array:
    """(N, 3, H, W) -> (N, 1, H, W) channel-weighted sum, in the order R, G, B."""
    return x[:, 0:1] * w[0] + x[:, 1:2] * w[1] + x[:, 2:3] * w[2]


def _floor(a: Array) -> Array:
    return np.floor(a) if isinstance(a, np.ndarray) else torch.floor(a)


def _round_half_even(a: Array) -> Array:
    return np.round(a) if isinstance(a, np.ndarray) else torch.round(a)


def luma_bt601(x: Array) -> Array:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) BT.601 Y in [16, 235], unrounded (BasicSR `rgb2ycbcr`)."""
    return _weighted(x, BT601) + 16.0


def luma_yiq_rounded(x: Array) -> Array:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) YIQ luma x 255, rounded (pyiqa `to_y_channel(..., 255)`)."""
    return _round_half_even(_weighted(x, YIQ) * 255.0)


def luma_matlab_gray(x: Array) -> Array:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) MATLAB `rgb2gray` of the 8-bit image, as uint8 values in [0, 255].

    RGB is first put back on its 8-bit grid (round(x * 255): float32 x / 255 is not exact, and a luma within 1e-5
    of .5 would otherwise round the wrong way), then MATLAB's uint8 conversion: round half away from zero (the luma
    is never negative, so floor(v + 0.5); the coefficients sum to 1 - 1e-15, so 255 stays 255).
    """
    return _floor(_weighted(_round_half_even(x * 255.0), MATLAB_GRAY) + 0.5)


def psnr(x: Array, y: Array, data_range: float) -> torch.Tensor:
    """Per-image PSNR in dB over all channels and pixels; +inf where the images are identical."""
    if isinstance(x, np.ndarray):
        import cv2

        # one pass a frame (OpenCV's L2SQR norm accumulates in float64), not three (difference, square, mean)
        sse = np.array([cv2.norm(a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1]), cv2.NORM_L2SQR)
                        for a, b in zip(x, y, strict=True)])
        with np.errstate(divide="ignore"):
            return torch.from_numpy(10.0 * np.log10(data_range**2 / (sse / x[0].size)))
    x, y = x.double(), y.double()
    d = x - y
    mse = (d * d).reshape(len(d), -1).mean(1)
    return 10.0 * torch.log10(data_range**2 / mse)


@functools.lru_cache(maxsize=8)
def _gaussian_window(size: int, sigma: float) -> np.ndarray:
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


@functools.lru_cache(maxsize=16)
def _window_on(size: int, sigma: float, device: str) -> torch.Tensor:
    return torch.from_numpy(_gaussian_window(size, sigma)).to(device)


def _filter_valid(x: Array, size: int, sigma: float) -> Array:
    """Separable 'valid' Gaussian filtering of every channel of (N, C, H, W): 2 x `size` products a pixel.

    BasicSR filters with the 2-D outer-product window (`cv2.filter2D`) and crops [5:-5]; the separable form sums
    the same products in a different order (equal to ~1e-13 on [0, 255] values)."""
    h = size // 2
    n, c, height, width = x.shape
    if isinstance(x, np.ndarray):
        import cv2

        g = _gaussian_window(size, sigma)
        out = np.empty((n, c, height - size + 1, width - size + 1))
        for i in range(n):
            for j in range(c):
                # the border mode only touches the cropped rim
                out[i, j] = cv2.sepFilter2D(x[i, j], cv2.CV_64F, g, g)[h : height - h, h : width - h]
        return out
    g = _window_on(size, sigma, str(x.device))
    x = x.reshape(n * c, 1, height, width)
    x = torch.nn.functional.conv2d(x, g.view(1, 1, 1, size))
    x = torch.nn.functional.conv2d(x, g.view(1, 1, size, 1))
    return x.reshape(n, c, height - size + 1, width - size + 1)


def ssim_reference(y: Array, size: int = 11, sigma: float = 1.5) -> tuple[Array, Array, Array]:
    """Ground-truth-side SSIM statistics (y, mu_y, sigma_y^2), computed once and shared by every method."""
    if min(y.shape[-2:]) < size:
        raise ValueError(f"SSIM needs frames of at least {size}x{size} pixels, got {tuple(y.shape[-2:])}")
    if isinstance(y, torch.Tensor):
        y = y.double()
    mu_y = _filter_valid(y, size, sigma)
    return y, mu_y, _filter_valid(y * y, size, sigma) - mu_y * mu_y


def ssim(x: Array, y: Array | None, data_range: float = 255.0, size: int = 11, sigma: float = 1.5,
         relu_cs: bool = False, ref: tuple[Array, ...] | None = None) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004) averaged over the 'valid' map and over channels; float64 throughout.

    `relu_cs` clamps the contrast-structure term at 0 before the product, as pyiqa's `ssim` does. `ref` is
    `ssim_reference(y)` when the caller already has it.
    """
    y, mu_y, syy = ref if ref is not None else ssim_reference(y, size, sigma)
    c = ((0.01 * data_range) ** 2, (0.03 * data_range) ** 2)
    if isinstance(x, np.ndarray):
        return torch.from_numpy(_ssim_numpy(x, y, mu_y, syy, c, relu_cs, size, sigma))
    x = x.double()
    mu_x = _filter_valid(x, size, sigma)
    mu_xy = mu_x * mu_y
    sxx = _filter_valid(x * x, size, sigma) - mu_x * mu_x
    sxy = _filter_valid(x * y, size, sigma) - mu_xy
    cs = (2 * sxy + c[1]) / (sxx + syy + c[1])
    if relu_cs:
        cs = cs.clamp_min(0.0)
    s = (2 * mu_xy + c[0]) / (mu_x * mu_x + mu_y * mu_y + c[0]) * cs
    return s.reshape(len(s), -1).mean(1)


# Rows of the SSIM map computed at a time on CPU: the dozen float64 temporaries of a 128-row strip of a 720p frame
# (1.2 MB each) stay in cache instead of streaming whole-frame arrays through memory once per operation.
STRIP_ROWS = 128


def _ssim_numpy(x: np.ndarray, y: np.ndarray, mu_y: np.ndarray, syy: np.ndarray, c: tuple[float, float],
                relu_cs: bool, size: int, sigma: float) -> np.ndarray:
    """The same SSIM as the torch path, one frame, channel and strip of rows at a time. Strips are spread over a
    thread per core (OpenCV and NumPy release the GIL) and their sums added in a fixed order, so the value does not
    depend on the thread count."""
    from concurrent.futures import ThreadPoolExecutor

    g = _gaussian_window(size, sigma)
    h = size - 1
    n, channels, height, width = x.shape
    rows = height - h
    tasks = [(i, j, r0, min(r0 + STRIP_ROWS, rows)) for i in range(n) for j in range(channels)
             for r0 in range(0, rows, STRIP_ROWS)]

    def strip(task: tuple[int, int, int, int]) -> float:
        i, j, r0, r1 = task
        return _ssim_strip_sum(x[i, j, r0 : r1 + h], y[i, j, r0 : r1 + h], mu_y[i, j, r0:r1], syy[i, j, r0:r1],
                               g, c, relu_cs)

    with ThreadPoolExecutor(max_workers=max(1, min(len(tasks), os.cpu_count() or 1))) as pool:
        sums = np.asarray(list(pool.map(strip, tasks))).reshape(n, -1)
    values = np.empty(n)
    for i in range(n):
        total = 0.0
        for v in sums[i]:
            total += float(v)
        values[i] = total / (channels * rows * (width - h))
    return values


def _ssim_strip_sum(xs: np.ndarray, ys: np.ndarray, mu_y: np.ndarray, syy: np.ndarray, g: np.ndarray,
                    c: tuple[float, float], relu_cs: bool) -> float:
    """Sum of the SSIM map over the valid rows of one strip (in place where possible: same operations as the
    torch path, so the same values to rounding)."""
    import cv2

    e = len(g) // 2

    def filt(a: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(a, cv2.CV_64F, g, g)[e : a.shape[0] - e, e : a.shape[1] - e]

    mu_x, cs_num, cs_den = filt(xs), filt(xs * ys), filt(xs * xs)
    mu_xy = mu_x * mu_y
    cs_num -= mu_xy  # sigma_xy
    cs_num *= 2.0
    cs_num += c[1]
    l_den = mu_x * mu_x
    cs_den -= l_den  # sigma_x^2
    cs_den += syy
    cs_den += c[1]
    np.divide(cs_num, cs_den, out=cs_num)
    if relu_cs:
        np.maximum(cs_num, 0.0, out=cs_num)
    mu_xy *= 2.0
    mu_xy += c[0]
    l_den += mu_y * mu_y
    l_den += c[0]
    np.divide(mu_xy, l_den, out=mu_xy)
    mu_xy *= cs_num
    return float(mu_xy.sum())


def _rgb255(x: Array) -> Array:
    return x * 255.0


def _rgb1(x: Array) -> Array:
    return x


@dataclass(frozen=True)
class Fidelity:
    """How one PSNR/SSIM variant maps RGB in [0, 1] to the values it compares, and which formula it applies."""

    space: Callable[[Array], Array]
    formula: str  # "psnr" | "ssim"
    data_range: float
    relu_cs: bool = False


class _LastSpace:
    """The colour space of the last frames seen, per space: psnr-y and ssim-y of the same chunk (and the ground
    truth's side of both) share one luma computation. Keyed by the identity of the live input tensor, so a new
    chunk, or a cropped view of it, is always recomputed."""

    def __init__(self) -> None:
        self.entries: dict[Callable, tuple[weakref.ref, Array]] = {}

    def get(self, space: Callable[[Array], Array], x: torch.Tensor) -> Array:
        hit = self.entries.get(space)
        if hit is not None and hit[0]() is x:
            return hit[1]
        fast = _CPU_SPACE.get(space) if x.device.type == "cpu" and x.shape[1] == 3 else None
        value = fast(x) if fast is not None else space(_work(x))
        self.entries[space] = (weakref.ref(x), value)
        return value


def _luma_bt601_cpu(x: torch.Tensor) -> np.ndarray:
    """`luma_bt601` of a CPU tensor, one frame at a time with `cv2.transform` on the interleaved RGB (the engine's
    tensors are channels-last in memory): about 2.5x faster than three planar passes, equal to ~1e-13."""
    import cv2

    rgb = x.detach().numpy().transpose(0, 2, 3, 1)
    m = np.array([[*BT601, 16.0]])
    out = np.empty((len(rgb), 1, *rgb.shape[1:3]))
    for i, frame in enumerate(rgb):
        out[i, 0] = cv2.transform(np.ascontiguousarray(frame, dtype=np.float64), m)
    return out


# spaces with a faster CPU formulation straight from the tensor (only unrounded ones: a rounded luma must keep the
# exact operation order, or a value on a .5 boundary could round the other way)
_CPU_SPACE: dict[Callable, Callable[[torch.Tensor], np.ndarray]] = {luma_bt601: _luma_bt601_cpu}
_LAST_SPACE = _LastSpace()


class FidelityMetric(Metric):
    """A PSNR or SSIM variant; the ground-truth side is prepared once per chunk and shared across methods."""

    def __init__(self, card: MetricCard, spec: Fidelity) -> None:
        self.card, self.spec = card, spec

    def reference(self, gt: torch.Tensor) -> object:
        y = _LAST_SPACE.get(self.spec.space, gt)
        return ssim_reference(y) if self.spec.formula == "ssim" else y

    def compute(self, out: torch.Tensor, gt: torch.Tensor | None, ref: object = None) -> torch.Tensor:
        if gt is None:
            raise ValueError(f"{self.card.name} needs a ground-truth clip")
        ref = self.reference(gt) if ref is None else ref
        x = _LAST_SPACE.get(self.spec.space, out)
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
