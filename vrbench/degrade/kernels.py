"""Blur kernels of the Real-ESRGAN x4plus pipeline, as closed-form NumPy functions.

Formulas follow BasicSR `basicsr/data/degradations.py` (XPixelGroup/BasicSR @ 8d56e3a): a k x k
grid centred on the middle pixel, x = column offset, y = row offset, covariance
Sigma = R diag(sigma_x^2, sigma_y^2) R^T, quadratic form q = p^T Sigma^-1 p, and every kernel normalised to sum 1.
All families are point-symmetric, so correlation (what we apply) equals convolution.

Kernels are small (at most 21 x 21 here), so they are built in float64 on the CPU and handed to the filters.
"""

from __future__ import annotations

import math

import numpy as np

from vrbench.errors import InputError

KERNEL_KINDS = (
    "iso",
    "aniso",
    "generalized_iso",
    "generalized_aniso",
    "plateau_iso",
    "plateau_aniso",
    "sinc",
)


def check_kernel_size(size: int) -> int:
    """Kernel sizes must be odd and positive so the kernel has a centre pixel."""
    if int(size) != size or size < 1 or size % 2 == 0:
        raise InputError("kernel size must be a positive odd integer", expected="1, 3, 5, ...", found=size)
    return int(size)


def kernel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (x, y) from the centre of a size x size grid; x varies along columns, y along rows."""
    half = (check_kernel_size(size) - 1) / 2
    axis = np.arange(size, dtype=np.float64) - half
    x, y = np.meshgrid(axis, axis, indexing="xy")
    return x, y


def covariance(sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """Sigma = R diag(sigma_x^2, sigma_y^2) R^T with R the rotation by theta [BSR sigma_matrix2]."""
    if sigma_x <= 0 or sigma_y <= 0:
        raise InputError("kernel sigmas must be positive", expected="> 0", found=(sigma_x, sigma_y))
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return rotation @ np.diag([sigma_x**2, sigma_y**2]) @ rotation.T


def quadratic_form(size: int, sigma: np.ndarray) -> np.ndarray:
    """q(p) = p^T Sigma^-1 p at every grid point."""
    x, y = kernel_grid(size)
    inv = np.linalg.inv(sigma)
    return inv[0, 0] * x * x + (inv[0, 1] + inv[1, 0]) * x * y + inv[1, 1] * y * y


def normalised(kernel: np.ndarray) -> np.ndarray:
    return kernel / kernel.sum()


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """K = exp(-q / 2), normalised [BSR bivariate_Gaussian]."""
    return normalised(np.exp(-0.5 * quadratic_form(size, covariance(sigma_x, sigma_y, theta))))


def generalized_gaussian_kernel(size: int, sigma_x: float, sigma_y: float, theta: float, beta: float) -> np.ndarray:
    """K = exp(-q^beta / 2), normalised; beta = 1 is the Gaussian [BSR bivariate_generalized_Gaussian]."""
    check_beta(beta)
    q = quadratic_form(size, covariance(sigma_x, sigma_y, theta))
    return normalised(np.exp(-0.5 * np.power(q, beta)))


def plateau_kernel(size: int, sigma_x: float, sigma_y: float, theta: float, beta: float) -> np.ndarray:
    """K = 1 / (1 + q^beta), normalised [BSR bivariate_plateau]."""
    check_beta(beta)
    q = quadratic_form(size, covariance(sigma_x, sigma_y, theta))
    return normalised(1.0 / (1.0 + np.power(q, beta)))


def sinc_kernel(size: int, omega: float, pad_to: int = 0) -> np.ndarray:
    """Circular low-pass K(r) = omega J1(omega r) / (2 pi r), centre omega^2 / (4 pi), normalised
    [BSR circular_lowpass_kernel]; zero-padded to pad_to x pad_to when pad_to > size."""
    # RealBasicVSR's configs write pi as 3.1416 and the per-frame drift is clipped to that bound, so accept it
    if not 0 < omega <= 3.1416 + 1e-9:
        raise InputError("sinc cut-off omega must lie in (0, pi]", expected="(0, 3.1416]", found=omega)
    from scipy import special

    x, y = kernel_grid(size)
    r = np.hypot(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = omega * special.j1(omega * r) / (2 * math.pi * r)
    kernel[r == 0] = omega**2 / (4 * math.pi)
    kernel = normalised(kernel)
    if pad_to > size:
        kernel = pad_kernel(kernel, pad_to)
    return kernel


def pad_kernel(kernel: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad a centred odd kernel to size x size (results of the filter do not change)."""
    pad = (size - kernel.shape[0]) // 2
    if pad < 0 or (size - kernel.shape[0]) % 2:
        raise InputError("cannot pad kernel", expected=f"odd size >= {kernel.shape[0]}", found=size)
    return np.pad(kernel, pad)


def check_beta(beta: float) -> None:
    if not beta > 0:
        raise InputError("kernel shape beta must be positive", expected="> 0", found=beta)


def kernel_from_params(params: dict) -> np.ndarray:
    """Build the kernel a manifest entry describes (`kind`, `size`, and the kind's shape parameters)."""
    kind, size = params.get("kind"), params.get("size")
    if kind not in KERNEL_KINDS:
        raise InputError("unknown kernel kind", expected=KERNEL_KINDS, found=kind)
    if kind == "sinc":
        return sinc_kernel(size, params["omega"])
    sigma_x = params["sigma_x"]
    isotropic = kind.endswith("iso") and not kind.endswith("aniso")
    # isotropic kernels use sigma_x for both axes and no rotation [BSR random_bivariate_*]
    sigma_y, theta = (sigma_x, 0.0) if isotropic else (params["sigma_y"], params["theta"])
    if kind in ("iso", "aniso"):
        return gaussian_kernel(size, sigma_x, sigma_y, theta)
    if kind.startswith("generalized"):
        return generalized_gaussian_kernel(size, sigma_x, sigma_y, theta, params["beta"])
    return plateau_kernel(size, sigma_x, sigma_y, theta, params["beta"])


SUBNORMAL_TAPS = ("keep", "zero")  # what the filters do with taps below FLT_MIN (see `filter_taps`)


def filter_taps(entry: dict) -> np.ndarray:
    """The float32 kernel the blur filters apply for a manifest entry: `kernel_from_params` rounded to float32; with
    `subnormal_taps: zero` (cards from version 1.1 on), taps below FLT_MIN = 2^-126, subnormal in float32, are 0.

    Why: narrow Gaussians put taps down to 1e-45 in the corners of an 11 x 11 kernel, and every product with a
    subnormal takes the CPU's slow microcode path (OpenCV's filter2D and oneDNN alike): one such blur took a third of
    the RealBasicVSR pipeline's CPU time. Such a tap adds under 2^-126 to an output (inputs lie in [0, 1]), below
    half an ulp of any sum above 2^-100, so it can change an output only where every larger tap sees (near-)black
    input (or, with fused multiply-adds, where a product sits exactly on a rounding tie), and an 8-bit LQ byte almost
    never; entries without the key (older manifests) keep every tap.
    """
    kernel = kernel_from_params(entry).astype(np.float32)
    mode = entry.get("subnormal_taps", "keep")
    if mode not in SUBNORMAL_TAPS:
        raise InputError("bad blur 'subnormal_taps'", expected=SUBNORMAL_TAPS, found=mode)
    if mode == "zero":
        kernel[np.abs(kernel) < np.finfo(np.float32).tiny] = 0
    return kernel


def opencv_gaussian_sigma(size: int) -> float:
    """Sigma OpenCV picks for sigma=0: 0.3 ((k - 1) / 2 - 1) + 0.8 (8.0 for k = 51) [OpenCV getGaussianKernel]."""
    return 0.3 * ((check_kernel_size(size) - 1) / 2 - 1) + 0.8


def gaussian_kernel_1d(size: int, sigma: float | None = None) -> np.ndarray:
    """Normalised 1-D Gaussian taps; the USM kernel is its outer product with itself [BSR USMSharp]."""
    sigma = opencv_gaussian_sigma(size) if sigma is None else sigma
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    return normalised(np.exp(-(offsets**2) / (2 * sigma**2)))


def second_moments(kernel: np.ndarray) -> np.ndarray:
    """Empirical covariance sum_p K(p) p p^T of a normalised kernel (a test and audit helper)."""
    x, y = kernel_grid(kernel.shape[0])
    xx, xy, yy = (kernel * x * x).sum(), (kernel * x * y).sum(), (kernel * y * y).sum()
    return np.array([[xx, xy], [xy, yy]])
