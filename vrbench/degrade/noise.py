"""Noise realisations shared by the batched pipeline and the per-frame reference.

A manifest records one integer seed per frame and noise stage; the random field is a pure function of that seed
and the frame's shape, so LQ can be regenerated from the manifest without replaying the clip's RNG stream.

- Gaussian: standard normal float32 field from NumPy's PCG64 (stable across platforms), times sigma / 255
  [BSR random_add_gaussian_noise_pt: sigma in 0-255 units].
- Poisson: BSR's formula in [0, 1] units [BSR random_add_poisson_noise_pt]: round to 8-bit levels, vals = 2^ceil(log2
  (number of distinct levels)), counts ~ Poisson(level / 255 * vals), noise = (counts / vals - level / 255) * scale.
  Counts are drawn by inverting the Poisson CDF at one uniform per pixel, so every pixel consumes exactly one
  random number: a one-level change upstream then changes one pixel, not the rest of the frame.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from vrbench.degrade.libclock import library_call

# torchvision rgb_to_grayscale weights, used for gray Poisson noise in the PyTorch pipeline [BSR]
LUMA = (0.2989, 0.587, 0.114)
GUIDE_BINS = 1024  # guide-table resolution for the Poisson CDF inversion (speed only; results are exact)


def generator(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(int(seed)))


@library_call
def gaussian_field(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal float32 field of the given (C, H, W) shape."""
    return generator(seed).standard_normal(shape, dtype=np.float32)


@library_call
def uniform_field(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform [0, 1) float64 field of the given (C, H, W) shape (one draw per pixel)."""
    return generator(seed).random(shape)


def poisson_vals(distinct_levels: int) -> int:
    """vals = 2^ceil(log2(n)) for n distinct 8-bit levels [BSR]."""
    return 2 ** math.ceil(math.log2(max(int(distinct_levels), 1)))


@functools.lru_cache(maxsize=16)
def poisson_cdf_table(vals: int) -> np.ndarray:
    """CDF of Poisson(level / 255 * vals) for the 256 levels, shape (256, K), last column exactly 1.

    The pmf is built by the recurrence p(k) = p(k-1) lam / k in float64; K = vals + 10 sqrt(vals) + 10 leaves a
    tail below 1e-20, which the final column folds in.
    """
    lam = np.arange(256, dtype=np.float64) / 255.0 * vals
    size = int(vals + 10 * math.sqrt(vals) + 10)
    pmf = np.empty((256, size))
    pmf[:, 0] = np.exp(-lam)
    for k in range(1, size):
        pmf[:, k] = pmf[:, k - 1] * lam / k
    cdf = np.minimum(np.cumsum(pmf, axis=1), 1.0)
    cdf[:, -1] = 1.0
    return cdf


@functools.lru_cache(maxsize=16)
def poisson_guide_table(vals: int) -> np.ndarray:
    """guide[level, j] = smallest k with CDF_level(k) >= j / GUIDE_BINS: where the search for u in bin j starts."""
    cdf = poisson_cdf_table(vals)
    grid = np.arange(GUIDE_BINS, dtype=np.float64) / GUIDE_BINS
    return np.stack([np.searchsorted(row, grid, side="left") for row in cdf]).astype(np.int64)


@library_call
def poisson_counts(levels: np.ndarray, uniforms: np.ndarray, vals: int) -> np.ndarray:
    """Smallest k with CDF_level(k) >= u for every pixel (levels: ints in [0, 255], uniforms in [0, 1)).

    Exact inverse-CDF sampling, sped up by a guide table: start at the first k that bin floor(u * GUIDE_BINS)
    can need and step forward while CDF(k) < u (rarely more than one step).
    """
    cdf = poisson_cdf_table(vals)
    flat_cdf = cdf.ravel()
    level = levels.astype(np.int64).ravel()
    u = uniforms.ravel()
    k = poisson_guide_table(vals)[level, (u * GUIDE_BINS).astype(np.int64)]
    active = np.flatnonzero(flat_cdf[level * cdf.shape[1] + k] < u)
    while active.size:
        k[active] += 1
        still = flat_cdf[level[active] * cdf.shape[1] + k[active]] < u[active]
        active = active[still]
    return k.reshape(levels.shape)
