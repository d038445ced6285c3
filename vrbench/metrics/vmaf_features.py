"""VMAF's elementary features on CPU: VIF at 4 scales, ADM and motion, with OpenCV filtering and NumPy.

The maths is vmaf-torch's (1.1.0, the PyTorch port of Netflix/vmaf that `VmafMetric` uses on other devices), with
its float32 Gaussian taps; only the filtering differs: vmaf-torch runs its separable blurs as 1-channel `conv2d`
calls, slow on CPU, where here they are `cv2.sepFilter2D`, strided sums and row/column subsampling over the very
borders vmaf-torch pads with. Precision: VIF filters and takes its variances E[x^2] - mu^2 in float64 (in float32
that cancellation is what puts vmaf-torch up to ~1e-5 off the exact features), the rest runs in float32 like
vmaf-torch, with pooled sums in float64. The features equal vmaf-torch's in float64 to ~1e-6 relative.

- VIF (Sheikh & Bovik 2006, IEEE TIP 15(2); libvmaf `vif.c`): Gaussian windows of 17/9/5/3 taps (sigma = taps/5)
  with reflect-101 borders ("dcb|abcd"); each coarser scale is the finer one blurred with that scale's window and
  sampled at even rows and columns (`floor(size/2)` of them).
- ADM (Li et al. 2011, IEEE TCSVT 21(7), eqs. 10-19; libvmaf `adm.c`): one db2 DWT level per scale, contrast
  masking with a 3x3 kernel, Minkowski pooling (p = 3) inside a 10% border.
- motion (libvmaf `motion.c`): mean absolute difference of 5-tap Gaussian (sigma = 1) blurs of consecutive
  reference frames.

ADM's DWT, its masking filter and the motion blur pad as libvmaf does ("dcb|abcdef|fed": reflect-101 on the top and
left, symmetric on the bottom and right; `pad_vmaf`). Everything that depends on the reference alone (the blurs and
variances of VIF, the DWT bands and denominators of ADM, the motion blur) is computed once per ground-truth frame
(`reference_side`) and shared by every output scored against it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

VIF_TAPS = (17, 9, 5, 3)
SIGMA_NSQ = 2.0
SIGMA_MAX_INV = 4.0 / (255.0 * 255.0)
ENHANCEMENT_GAIN_LIMIT = 100.0  # VMAF (not VMAF NEG, which uses 1)
ADM_RFACTORS = ((0.017382, 0.017382, 0.005891), (0.031985, 0.031985, 0.014299),
                (0.043373, 0.043373, 0.024397), (0.045673, 0.045673, 0.031313))
DB2_LO = (0.482962913144690, 0.836516303737469, 0.224143868041857, -0.129409522550921)
DB2_HI = (-0.129409522550921, -0.224143868041857, 0.836516303737469, -0.482962913144690)
COS_1DEG_SQ = math.cos(math.pi / 180.0) ** 2
ADM_EPS = np.float32(1e-30)
F32 = np.float32


def gaussian_window(taps: int, sigma: float) -> np.ndarray:
    """MATLAB's fspecial('gaussian') in 1-D normalised to sum 1, float32, computed with torch's float32 `exp` as
    vmaf-torch computes it: VIF's variances E[x^2] - mu^2 amplify a 1-ulp change of a tap to ~1e-6 of the feature."""
    import torch

    x = torch.arange(-(taps // 2), taps // 2 + 1)
    g = torch.exp(-(x**2 / (2.0 * sigma**2)))
    return (g / g.sum()).numpy()


@functools.cache
def vif_windows() -> tuple[np.ndarray, ...]:
    return tuple(gaussian_window(n, n / 5) for n in VIF_TAPS)


@functools.cache
def motion_window() -> np.ndarray:
    return gaussian_window(5, 1.0)


def _masking_kernel() -> np.ndarray:
    """ADM's contrast-masking neighbourhood: 1/15 at the centre, 1/30 around it (float32, as vmaf-torch)."""
    k = np.full((3, 3), 1 / 30, np.float32)
    k[1, 1] = 1 / 15
    return k


def pad_vmaf(x: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """libvmaf's border "dcb|abcdef|fed": reflect-101 above and left, symmetric (edge repeated) below and right."""
    import cv2

    x = cv2.copyMakeBorder(x, top, 0, left, 0, cv2.BORDER_REFLECT_101)
    return cv2.copyMakeBorder(x, 0, bottom, 0, right, cv2.BORDER_REFLECT)


def _blur(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable Gaussian blur, same size, reflect-101 borders (torch's `F.pad(mode='reflect')`)."""
    import cv2

    return cv2.sepFilter2D(x, -1, window, window, borderType=cv2.BORDER_REFLECT_101)


def _downsample(x: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Blur, then keep even rows and columns: `floor(H/2) x floor(W/2)` samples centred on pixels (0, 2, 4, ...)."""
    import cv2

    h, w = x.shape
    rows = cv2.filter2D(x, -1, window[:, None], borderType=cv2.BORDER_REFLECT_101)[0:2 * (h // 2):2]
    return cv2.filter2D(np.ascontiguousarray(rows), -1, window[None, :],
                        borderType=cv2.BORDER_REFLECT_101)[:, 0:2 * (w // 2):2]


@dataclass
class VifScale:
    """Reference-side statistics of one VIF scale."""

    ref: np.ndarray  # reference minus 128 at this scale (float64)
    mu: np.ndarray  # float64
    sigma_sq: np.ndarray  # variance (float32), zero where below 1e-10
    flat: np.ndarray  # variance below sigma_nsq: the pixel's term is 1 - sigma2_sq * sigma_max_inv
    den: float


@dataclass
class AdmScale:
    """Reference-side DWT bands (h, v, d) of one ADM scale, the area pooled (`inner`) and the denominator."""

    bands: tuple[np.ndarray, np.ndarray, np.ndarray]
    inner: tuple[slice, slice]
    den: float


@dataclass
class ReferenceSide:
    """Everything VMAF needs from one reference (ground-truth) luma frame."""

    vif: list[VifScale]
    adm: list[AdmScale]
    motion_blur: np.ndarray
    size: tuple[int, int]


def _vif_reference(ref: np.ndarray) -> list[VifScale]:
    scales = []
    x = ref.astype(np.float64) - 128
    for s, win in enumerate(vif_windows()):
        if s:
            x = _downsample(x, win)
        mu = _blur(x, win)
        sigma_sq = np.maximum(_blur(x * x, win) - mu * mu, 0)
        sigma_sq[sigma_sq < 1e-10] = 0
        sigma_sq = sigma_sq.astype(np.float32)
        flat = sigma_sq < F32(SIGMA_NSQ)
        den = np.log2(F32(1) + sigma_sq / F32(SIGMA_NSQ))
        den[flat] = 1
        scales.append(VifScale(x, mu, sigma_sq, flat, float(den.sum(dtype=np.float64))))
    return scales


def vif_features(ref: ReferenceSide, dist: np.ndarray) -> np.ndarray:
    """VIF num/den at scales 0-3 of one frame (vmaf-torch `VIF.vif_features`), float64 (4,)."""
    out = np.empty(4)
    y = dist.astype(np.float64) - 128
    for s, (r, win) in enumerate(zip(ref.vif, vif_windows(), strict=True)):
        if s:
            y = _downsample(y, win)
        mu2 = _blur(y, win)
        sigma2_sq = np.maximum(_blur(y * y, win) - mu2 * mu2, 0).astype(np.float32)
        sigma12 = (_blur(r.ref * y, win) - r.mu * mu2).astype(np.float32)
        out[s] = _vif_num(r, sigma2_sq, sigma12) / r.den
    return out


def _vif_num(r: VifScale, sigma2_sq: np.ndarray, sigma12: np.ndarray) -> float:
    """Sum of the VIF numerator map, with vmaf-torch's (and libvmaf's) guards, in the same order."""
    sigma1_sq = r.sigma_sq
    g = sigma12 / (sigma1_sq + F32(1e-10))
    sv_sq = sigma2_sq - g * sigma12
    tiny1 = sigma1_sq == 0  # sigma1_sq was zeroed where below 1e-10
    g[tiny1] = 0
    np.copyto(sv_sq, sigma2_sq, where=tiny1)
    tiny2 = sigma2_sq < F32(1e-10)
    g[tiny2] = 0
    sv_sq[tiny2] = 0
    negative = g < 0
    np.copyto(sv_sq, sigma2_sq, where=negative)
    g[negative] = 0
    np.maximum(sv_sq, F32(1e-10), out=sv_sq)  # sv_sq <= 1e-10 -> 1e-10
    np.minimum(g, F32(ENHANCEMENT_GAIN_LIMIT), out=g)
    num = np.log2(F32(1) + (g * g) * sigma1_sq / (sv_sq + F32(SIGMA_NSQ)))
    num[sigma12 < 0] = 0
    np.copyto(num, F32(1) - sigma2_sq * F32(SIGMA_MAX_INV), where=r.flat)
    return float(num.sum(dtype=np.float64))


def _dwt_pass(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """One db2 analysis step along `axis` (0: rows, 1: columns): (low, high), each ceil(n/2) long.

    vmaf-torch pads 1 before and 1 (even n) or 2 (odd n) after with libvmaf's border, then correlates with the
    4-tap filters at stride 2: output i reads padded samples 2i .. 2i+3, i.e. input samples 2i-1 .. 2i+2."""
    n = x.shape[axis]
    after = 1 if n % 2 == 0 else 2
    xp = pad_vmaf(x, 1, after, 0, 0) if axis == 0 else pad_vmaf(x, 0, 0, 1, after)
    m = (n + 1) // 2
    taps = [xp[k:k + 2 * m:2] if axis == 0 else xp[:, k:k + 2 * m:2] for k in range(4)]
    lo = F32(DB2_LO[0]) * taps[0]
    hi = F32(DB2_HI[0]) * taps[0]
    for k in range(1, 4):
        lo += F32(DB2_LO[k]) * taps[k]
        hi += F32(DB2_HI[k]) * taps[k]
    return lo, hi


def dwt2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One level of the db2 DWT as vmaf-torch's `ADM.adm_dwt2`: (approximation, h, v, d), ceil(H/2) x ceil(W/2)."""
    lo, hi = _dwt_pass(x, 0)
    a, v = _dwt_pass(lo, 1)
    h, d = _dwt_pass(hi, 1)
    return a, h, v, d


def _adm_inner(height: int, width: int) -> tuple[tuple[slice, slice], float]:
    """The area ADM pools over (10% border left out, computed in float32 as vmaf-torch does) and its constant term
    3 * (area / 32)^(1/3) added to both numerator and denominator."""
    left = int(np.floor(F32(width) * F32(0.1) - F32(0.5)))
    top = int(np.floor(F32(height) * F32(0.1) - F32(0.5)))
    right, bottom = width - left, height - top
    return (slice(top, bottom), slice(left, right)), 3 * ((bottom - top) * (right - left) / 32.0) ** (1 / 3)


def _minkowski3(x: np.ndarray) -> float:
    """(sum |x|^3)^(1/3) (`torch.linalg.vector_norm(x, 3)`), summed in float64."""
    a = np.abs(x)
    return float(np.sum(a * a * a, dtype=np.float64) ** (1 / 3))


def _adm_reference(ref: np.ndarray) -> list[AdmScale]:
    scales = []
    approx = ref
    for s in range(4):
        approx, *bands = dwt2(approx)
        inner, constant = _adm_inner(*bands[0].shape)
        den = sum(_minkowski3(F32(rf) * b[inner]) for rf, b in zip(ADM_RFACTORS[s], bands, strict=True))
        scales.append(AdmScale(tuple(bands), inner, den + constant))
    return scales


def adm_score(ref: ReferenceSide, dist: np.ndarray) -> float:
    """ADM2 of one frame: sum over scales of numerators over sum of denominators (vmaf-torch `ADM.adm_score`)."""
    num = den = 0.0
    approx = np.asarray(dist, dtype=np.float32)  # float32 like vmaf-torch
    for s, r in enumerate(ref.adm):
        approx, *bands = dwt2(approx)
        num += _adm_num(r, tuple(bands), ADM_RFACTORS[s])
        den += r.den
    height, width = ref.size
    limit = 1e-10 * (width * height) / (1920 * 1080)
    num = 0.0 if num < limit else num
    den = 0.0 if den < limit else den
    return 1.0 if den == 0 else num / den


def _adm_num(r: AdmScale, test: tuple[np.ndarray, ...], rfactors: tuple[float, ...]) -> float:
    """Numerator of eq. (19) at one scale: decouple the test bands into restored R and additive A (eqs. 10-15,
    libvmaf's 1-degree angle test), threshold |csf(R)| by the 3x3-masked |csf(A)| (eq. 18), pool with p = 3."""
    import cv2

    (oh, ov, _), (th, tv, _) = r.bands, test
    ot_dp = oh * th + ov * tv
    o_mag_sq = oh * oh + ov * ov
    t_mag_sq = th * th + tv * tv
    angle = (ot_dp >= 0) & (ot_dp * ot_dp >= F32(COS_1DEG_SQ) * o_mag_sq * t_mag_sq)
    restored, masking = [], None
    for o, t, rf in zip(r.bands, test, rfactors, strict=True):
        rest = np.clip(t / (o + ADM_EPS), F32(0), F32(1)) * o
        up = angle & (rest > 0)
        np.copyto(rest, np.minimum(rest * F32(ENHANCEMENT_GAIN_LIMIT), t), where=up)
        down = angle & (rest < 0)
        np.copyto(rest, np.maximum(rest * F32(ENHANCEMENT_GAIN_LIMIT), t), where=down)
        csf_a = np.abs(F32(rf) * (t - rest))
        masking = csf_a if masking is None else masking + csf_a
        restored.append(rest)
    # the masking filter is linear, so the three bands' thresholds are filtered once from their sum
    thr = cv2.filter2D(pad_vmaf(masking, 1, 1, 1, 1), cv2.CV_32F, _masking_kernel())[1:-1, 1:-1][r.inner]
    num = sum(_minkowski3(np.maximum(np.abs(rest[r.inner] * F32(rf)) - thr, F32(0)))
              for rest, rf in zip(restored, rfactors, strict=True))
    height, width = r.bands[0].shape
    return num + _adm_inner(height, width)[1]


def motion_blur(ref: np.ndarray) -> np.ndarray:
    """The 5-tap Gaussian (sigma 1) blur motion compares, with libvmaf's border."""
    import cv2

    w = motion_window()
    blurred = cv2.sepFilter2D(pad_vmaf(ref, 2, 2, 2, 2), cv2.CV_32F, w, w, borderType=cv2.BORDER_REFLECT_101)
    return blurred[2:-2, 2:-2]


def motion_sad(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean absolute difference of two motion blurs (libvmaf's `motion` of the current frame)."""
    return float(np.abs(current - previous).mean(dtype=np.float64))


def reference_side(ref: np.ndarray) -> ReferenceSide:
    """The reference-side statistics of one float32 luma frame (H, W) in [0, 255]."""
    ref = np.ascontiguousarray(ref, dtype=np.float32)
    return ReferenceSide(_vif_reference(ref), _adm_reference(ref), motion_blur(ref), ref.shape)
