"""Noise schedule, SATB trajectory blending and the released few-step timestep rule, as small pure functions.

We diffuse with rectified flow (x_t = (1 - t) x_0 + t eps, t in [0, 1]; docs/satb.md, Schedule): alpha_t = 1 - t,
sigma_t = t, SNR gamma(t) = ((1 - t) / t)^2. The blending equation and its posterior reading hold for any Gaussian
schedule (docs/satb.md, Why the blend), and the released timestep indices of SATB-VR (a CogVideoX VP schedule) are
mapped onto ours by matching SNR.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

T_MAX = 0.5539  # rectified-flow time with the SNR of CogVideoX index 399 (0.5538), the latest start SATB-VR uses
T_MIN = 1e-3  # keeps SNR finite; t = 0 is the clean end


def rf_alpha(t):
    """Signal scale of rectified flow, alpha_t = 1 - t (Liu et al. 2022)."""
    return 1.0 - t


def rf_sigma(t):
    """Noise scale of rectified flow, sigma_t = t."""
    return t


def rf_snr(t):
    """Signal-to-noise ratio gamma(t) = alpha_t^2 / sigma_t^2 = ((1 - t) / t)^2."""
    return (rf_alpha(t) / rf_sigma(t)) ** 2


def rf_time_from_snr(snr):
    """Rectified-flow time with a given SNR: t = 1 / (1 + sqrt(gamma)) (docs/satb.md, Schedule)."""
    return 1.0 / (1.0 + snr**0.5)


def add_noise(x0, eps, t):
    """Forward process x_t = alpha_t x_0 + sigma_t eps (t broadcasts against x0)."""
    return rf_alpha(t) * x0 + rf_sigma(t) * eps


# ---- SATB blending -------------------------------------------------------------------------------------------------
def satb_weight(t, tau_s):
    """SATB-VR blend weight w = gamma(tau_s) / gamma(t) in (0, 1] for t <= tau_s (arXiv 2606.28677, framework fig.)"""
    return rf_snr(tau_s) / rf_snr(t)


def naive_weight(t, tau_s):
    """Naive joint training: w = 0, the standard GT trajectory (docs/satb.md, Ablations)."""
    return 0.0 * t


def predictor_weight(t, tau_s):
    """Predictor trajectory only: w = 1 at every t <= tau_s (docs/satb.md, Ablations, "w1")."""
    return 0.0 * t + 1.0


def linear_weight(t, tau_s):
    """Ablation: w linear in time, t / tau_s."""
    return t / tau_s


def cosine_weight(t, tau_s):
    """Ablation: DoSSR-like cosine ramp (1 - cos(pi t / tau_s)) / 2 (Cui et al. 2024, eta_t)."""
    return (1.0 - _cos(math.pi * t / tau_s)) / 2.0


def _cos(x):
    return np.cos(x) if isinstance(x, (float, np.ndarray)) else x.cos()


BLEND_WEIGHTS: dict[str, Callable] = {
    "snr": satb_weight, "naive": naive_weight, "w1": predictor_weight, "linear": linear_weight,
    "cosine": cosine_weight,
}


def satb_blend(x_gt, x_p, t, tau_s, weight: Callable = satb_weight):
    """Blended clean state x_b^t = x_gt + w(t; tau_s) (x_p - x_gt) (SATB-VR, arXiv 2606.28677, framework figure)."""
    return x_gt + weight(t, tau_s) * (x_p - x_gt)


def forward_posterior(x_s, x0, s, t):
    """Mean and std of q(x_t | x_s, x_0) for t < s under rectified flow (Kingma et al. 2021, eq. 33; docs/satb.md)."""
    a_s, a_t, sig_s, sig_t = rf_alpha(s), rf_alpha(t), rf_sigma(s), rf_sigma(t)
    a_st = a_s / a_t
    var_st = sig_s**2 - a_st**2 * sig_t**2
    mean = (a_t * var_st / sig_s**2) * x0 + (a_st * sig_t**2 / sig_s**2) * x_s
    std = (sig_t**2 * var_st / sig_s**2) ** 0.5
    return mean, std


# ---- the released timestep rule ------------------------------------------------------------------------------------
def cogvideox_snr(index) -> np.ndarray:
    """SNR of CogVideoX1.5-5B's schedule: scaled_linear betas 0.00085..0.012, 1000 steps, zero terminal SNR
    (Lin et al. 2024, Alg. 1), the schedule SATB-VR samples with (CogVideoX-5B scheduler config)."""
    betas = np.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=np.float64) ** 2
    sqrt_ab = np.sqrt(np.cumprod(1.0 - betas))
    sqrt_ab = (sqrt_ab - sqrt_ab[-1]) * sqrt_ab[0] / (sqrt_ab[0] - sqrt_ab[-1])
    alphas_cumprod = sqrt_ab**2
    ab = alphas_cumprod[np.asarray(index)]
    return ab / (1.0 - ab)


def released_timesteps(steps: int) -> list[int]:
    """SATB-VR `get_inference_timesteps`: base 200 / 300 / 400 for N <= 2 / 3 / >= 4, stride base // N,
    tau_i = i * stride - 1 for i = N..1 (chenxx89/SATB-VR@824dc19 get_inference_timesteps)."""
    if steps < 1:
        raise ValueError(f"the timestep rule needs at least one step, found steps={steps}")
    base = 200 if steps <= 2 else 300 if steps == 3 else 400
    stride = base // steps
    if stride < 1:
        raise ValueError(f"the released timestep rule supports at most 400 steps, found steps={steps}")
    return [i * stride - 1 for i in range(steps, 0, -1)]


def satb_timesteps(steps: int) -> list[float]:
    """The released rule mapped onto rectified-flow time by equal SNR, start first (docs/satb.md, Timesteps)."""
    return [float(rf_time_from_snr(cogvideox_snr(i))) for i in released_timesteps(steps)]


def uniform_timesteps(steps: int, t_start: float = T_MAX) -> list[float]:
    """N evenly spaced times t_start, ..., t_start / N, start first (docs/satb.md, Timesteps)."""
    if steps < 1 or not 0 < t_start < 1:
        raise ValueError(f"uniform timesteps need steps >= 1 and 0 < t_start < 1, found steps={steps}, "
                         f"t_start={t_start}")
    return [t_start * (steps - i) / steps for i in range(steps)]
