"""Few-step samplers for the SATB restorer, k-diffusion style: `denoise(x, t) -> x0` plus a list of times.

All samplers start from the jump-started state x_{tau_S} = alpha x_p + sigma eps (SATB-VR, arXiv 2606.28677;
chenxx89/SATB-VR@824dc19 `add_noise`)
or, for the SDEdit baseline, from the noised upsampled LQ. The last step returns the x0 estimate itself, as the
released scheduler does when the previous timestep is -1. `noise(k)` returns the k-th Gaussian draw shaped like x,
so a sampler is deterministic given its noise source.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from vrbench.satb.schedule import add_noise, forward_posterior, rf_alpha, rf_sigma

Denoise = Callable[[torch.Tensor, float], torch.Tensor]
Noise = Callable[[int], torch.Tensor]


def sample_ddim(denoise: Denoise, x: torch.Tensor, ts: list[float], noise: Noise | None = None,
                eta: float = 0.0) -> torch.Tensor:
    """DDIM (Song et al. 2021, eq. 12) on rectified flow; eta = 1 samples the forward posterior q(x_s | x_t, x0)
    (the DDPM step; Kingma et al. 2021, eq. 33), eta = 0 is deterministic."""
    for i, t in enumerate(ts):
        x0 = denoise(x, t)
        if i == len(ts) - 1:
            return x0
        s = ts[i + 1]
        eps = (x - rf_alpha(t) * x0) / rf_sigma(t)
        std = eta * forward_posterior(x, x0, t, s)[1] if eta else 0.0
        x = rf_alpha(s) * x0 + math.sqrt(rf_sigma(s) ** 2 - std**2) * eps
        if eta:
            x = x + std * noise(i + 1)
    return x


def sample_dpmpp_2m_sde(denoise: Denoise, x: torch.Tensor, ts: list[float], noise: Noise) -> torch.Tensor:
    """DPM-Solver++(2M) SDE (Lu et al. 2022; chenxx89/SATB-VR@824dc19 CogVideoXDPMScheduler.step), lambda = log(a/s):
    x_s = (s_s/s_t) e^-h x_t + a_s (1 - e^-2h) D + s_s sqrt(1 - e^-2h) z, D the 2nd-order x0 extrapolation."""
    x0_old, h_old = None, None
    for i, t in enumerate(ts):
        x0 = denoise(x, t)
        if i == len(ts) - 1:
            return x0
        s = ts[i + 1]
        h = math.log(rf_alpha(s) / rf_sigma(s)) - math.log(rf_alpha(t) / rf_sigma(t))
        d = x0
        if x0_old is not None:
            r = h_old / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_old
        x = (rf_sigma(s) / rf_sigma(t) * math.exp(-h)) * x + rf_alpha(s) * (1 - math.exp(-2 * h)) * d \
            + rf_sigma(s) * math.sqrt(1 - math.exp(-2 * h)) * noise(i + 1)
        x0_old, h_old = x0, h
    return x


SAMPLERS: dict[str, Callable] = {
    "ddim": lambda denoise, x, ts, noise: sample_ddim(denoise, x, ts),
    "ddpm": lambda denoise, x, ts, noise: sample_ddim(denoise, x, ts, noise, eta=1.0),
    "dpmpp-2m-sde": sample_dpmpp_2m_sde,
}


def jump_start(x_p: torch.Tensor, t_start: float, noise: Noise) -> torch.Tensor:
    """SATB-VR's start state x_{tau_S} = alpha x_p + sigma eps (chenxx89/SATB-VR@824dc19 `add_noise`)."""
    return add_noise(x_p, noise(0), t_start)


def sample(denoise: Denoise, start: torch.Tensor, ts: list[float], noise: Noise, sampler: str = "ddim"):
    """Few-step restoration from `start` (x_p for SATB, the upsampled LQ for SDEdit); no steps returns `start`."""
    if not ts:
        return start
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler '{sampler}': expected one of {sorted(SAMPLERS)}")
    return SAMPLERS[sampler](denoise, jump_start(start, ts[0], noise), ts, noise)


# ---- guidance -------------------------------------------------------------------------------------------------------
def anneal(u: float, kind: str = "exponential", k: float = 4.0) -> float:
    """A ramp a(u) with a(0) = 0, a(1) = 1 over the normalised time u = t / t_start: exponential (default),
    linear or cosine annealing of DTG's offset and scale (DTG-Restore, CVPR 2026)."""
    u = min(max(u, 0.0), 1.0)
    if kind == "exponential":
        return math.expm1(k * u) / math.expm1(k)
    if kind == "linear":
        return u
    if kind == "cosine":
        return (1 - math.cos(math.pi * u)) / 2
    raise ValueError(f"unknown annealing '{kind}': expected exponential, linear or cosine")


def cfg_denoiser(cond: Denoise, uncond: Denoise, scale: float) -> Denoise:
    """Classifier-free guidance F_u(x, t) + w [F_c(x, t) - F_u(x, t)] (Ho & Salimans 2022), on x0 estimates."""

    def denoise(x: torch.Tensor, t: float) -> torch.Tensor:
        u = uncond(x, t)
        return u + scale * (cond(x, t) - u)

    return denoise


def dtg_denoiser(cond: Denoise, uncond: Denoise, scale: float, delta: float, t_start: float,
                 kind: str = "exponential", t_min: float = 1e-3, rescale: bool = True) -> Denoise:
    """Decoupled Time Guidance (DTG-Restore): F_u(x', tau) + alpha_t [F_c(x, t) - F_u(x', tau)], tau = t - Delta_t with
    the unconditional branch at the cleaner time; Delta_t -> 0 and alpha_t -> 1 as t -> 0 by `anneal`. With
    `rescale`, x' = x alpha_tau / alpha_t keeps x / alpha (the signal's scale) fixed between the two times (ours: the
    branch otherwise sees a state scaled for another time); without it x' = x."""

    def denoise(x: torch.Tensor, t: float) -> torch.Tensor:
        a = anneal(t / t_start, kind)
        alpha_t, tau = 1 + (scale - 1) * a, max(t - delta * a, t_min)
        u = uncond(x * (rf_alpha(tau) / rf_alpha(t)) if rescale else x, tau)
        return u + alpha_t * (cond(x, t) - u)

    return denoise
