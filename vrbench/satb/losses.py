"""SATB training losses: the diffusion loss on the blended trajectory, the DDC loss and the predictor loss.

One training iteration (docs/satb.md, Training step): draw tau_s over the whole range, a share of draws exactly at
the sampler's starts with t on that sampler's grid; x_p = P(z_lq); blend x_b = x_gt + w(t; tau_s)(sg[x_p] - x_gt);
noise at t with one draw shared by each block of `window` frames (as sampling does); regress D's x0 estimate on x_gt
with the v-objective's weight 1 + SNR, clipped; DDC noises x_p and x_gt at tau_s with one shared eps and matches the
features of an evaluator denoiser (the EMA copy of D), frozen so that only P learns from it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import torch

from vrbench.satb.nets import Denoiser, Predictor
from vrbench.satb.schedule import BLEND_WEIGHTS, T_MIN, add_noise, rf_snr, satb_blend, satb_timesteps


@dataclass(frozen=True)
class LossConfig:
    """The training recipe; the ablation variants differ only here (see `VARIANTS`)."""

    blend: str = "snr"  # key of schedule.BLEND_WEIGHTS
    # docs/satb.md's first recipe had (1, 0.1); on demo-train that let the normalised DDC term (0.2-0.5) drown the
    # predictor loss (~0.02) and the predictor fell 1 dB below naive training's on validation, so both terms are kept
    # comparable
    lambda_ddc: float = 0.1
    lambda_pred: float = 1.0
    stopgrad_blend: bool = True  # sg[x_p] in the blend (docs/satb.md, Training step 5)
    cond_dropout: float = 0.1  # null LQ condition, so D also has an unconditional mode for CFG / DTG
    t_max: float = 1.0 - T_MIN  # tau_s ~ U(T_MIN, t_max]: the whole range, as the paper's U{1..T}
    released_share: float = 0.5  # share of draws at the sampler's starts (N = 1..5), t on that N's grid
    snr_clip: float = 5.0  # x0-loss weight 1 + min(SNR, snr_clip) (v-objective, clipped as min-SNR weighting)
    ddc_batch: int = 4  # DDC on the first samples of the batch only: it costs two more passes of D

    def to_dict(self) -> dict:
        return asdict(self)


VARIANTS: dict[str, LossConfig] = {
    "satb": LossConfig(),
    "naive": LossConfig(blend="naive", lambda_ddc=0.0),  # naive joint training: GT trajectory, no DDC
    "no-ddc": LossConfig(lambda_ddc=0.0),
    "w1": LossConfig(blend="w1"),
    "linear": LossConfig(blend="linear"),
    "cosine": LossConfig(blend="cosine"),
}


@contextlib.contextmanager
def frozen(module: torch.nn.Module) -> Iterator[None]:
    """Build the graph through `module` without making its parameters leaves, so they get no gradient."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def diffusion_loss(x0_hat: torch.Tensor, x_gt: torch.Tensor, t: torch.Tensor, snr_clip: float) -> torch.Tensor:
    """SATB-VR diffusion loss between the denoiser output and x_gt (framework figure): x0-MSE weighted by 1 + SNR(t),
    which makes it the v-prediction MSE SATB-VR's CogVideoX backbone trains with (||v - v_hat||^2 = (1 + SNR)
    ||x0 - x0_hat||^2 for alpha^2 + sigma^2 = 1), with the SNR clipped at `snr_clip` (min-SNR weighting, Hang et al.
    2023, arXiv 2303.09556, eq. 6) so that nearly clean times do not dominate."""
    w = 1.0 + rf_snr(t).clamp(max=snr_clip)
    return (_b(w) * (x0_hat - x_gt).pow(2)).mean()


def predictor_loss(x_p: torch.Tensor, x_gt: torch.Tensor, pixel_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Direct predictor loss ||x_p - x_gt||^2 (docs/satb.md, Training step 9); with `pixel_weight` (C,), each band's
    squared error is scaled back to pixel units (the space divides band c by its RMS), so the loss is a pixel MSE."""
    err = (x_p - x_gt).pow(2)
    if pixel_weight is not None:
        err = err * pixel_weight.view(1, 1, -1, 1, 1)
    return err.mean()


def ddc_loss(evaluator: Denoiser, x_p: torch.Tensor, x_gt: torch.Tensor, tau_s: torch.Tensor, z_lq: torch.Tensor,
             eps: torch.Tensor) -> torch.Tensor:
    """Denoiser-Driven Consistency (SATB-VR fig. (c)): MSE between the evaluator denoiser's features of x_p and x_gt
    noised at tau_s with a shared eps, each layer normalised by the GT branch's mean square; the evaluator frozen,
    GT branch stop-gradient."""
    with torch.no_grad():
        target = evaluator.features(add_noise(x_gt, eps, _b(tau_s)), tau_s, z_lq)
    with frozen(evaluator):
        feats = evaluator.features(add_noise(x_p, eps, _b(tau_s)), tau_s, z_lq)
    terms = [(f - g).pow(2).mean() / (g.pow(2).mean() + 1e-6) for f, g in zip(feats, target, strict=True)]
    return torch.stack(terms).mean()


def _b(t: torch.Tensor) -> torch.Tensor:
    """Per-sample times (B,) broadcast against (B, T, C, h, w)."""
    return t[:, None, None, None, None]


def draw_times(batch: int, cfg: LossConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(tau_s, t) per sample. A share `released_share` of draws takes a sampler: N ~ U{1..5}, tau_s = its start and
    t one of its times (t = tau_s included: the start state, w = 1); the rest tau_s ~ U(T_MIN, t_max] and
    t ~ U(T_MIN, tau_s] (SATB-VR framework figure: tau_s ~ U{1..T}, t ~ U{1..tau_s})."""
    tau_s = T_MIN + (cfg.t_max - T_MIN) * torch.rand(batch, generator=generator)
    t = T_MIN + (tau_s - T_MIN) * torch.rand(batch, generator=generator)
    released = torch.rand(batch, generator=generator) < cfg.released_share
    n = torch.randint(1, 6, (batch,), generator=generator)
    k = torch.rand(batch, generator=generator)
    for i in torch.nonzero(released).flatten().tolist():
        grid = _grid(int(n[i]))
        tau_s[i], t[i] = grid[0], grid[min(int(k[i] * len(grid)), len(grid) - 1)]
    return tau_s, t


@functools.lru_cache(maxsize=8)
def _grid(steps: int) -> tuple[float, ...]:
    return tuple(satb_timesteps(steps))


def window_noise(shape: tuple[int, ...], block: int, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise (B, T, ...) with one draw per block of `block` frames, the block boundaries at a random phase
    per sample (sampling shares noise over frames f with equal f // block, and a training window starts anywhere)."""
    b, n = shape[:2]
    draws = torch.randn(shape, generator=generator)
    phase = torch.randint(0, block, (b, 1), generator=generator)
    index = (torch.arange(n)[None] + phase) // block  # (B, T), values < T
    return torch.gather(draws, 1, index.view(b, n, *[1] * (len(shape) - 2)).expand(shape))


def satb_losses(predictor: Predictor, denoiser: Denoiser, x_gt: torch.Tensor, z_lq: torch.Tensor, cfg: LossConfig,
                generator: torch.Generator, ddc_on: bool = True, evaluator: Denoiser | None = None,
                block: int = 3, pixel_weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """All losses of one SATB iteration on a batch (x_gt, z_lq) in the network space; 'total' is their sum.
    `evaluator` is DDC's denoiser (default: D itself); `pixel_weight` (C,) makes the predictor loss a pixel MSE."""
    b, dev = x_gt.shape[0], x_gt.device
    weight: Callable = BLEND_WEIGHTS[cfg.blend]
    tau_s, t = (v.to(dev) for v in draw_times(b, cfg, generator))
    x_p = predictor(z_lq)
    x_p_blend = x_p.detach() if cfg.stopgrad_blend else x_p
    x_b = satb_blend(x_gt, x_p_blend, _b(t), _b(tau_s), weight)
    x_t = add_noise(x_b, window_noise(tuple(x_gt.shape), block, generator).to(dev), _b(t))
    keep = (torch.rand(b, generator=generator) >= cfg.cond_dropout).float().to(dev)
    losses = {"diff": diffusion_loss(denoiser(x_t, t, z_lq * _b(keep)), x_gt, t, cfg.snr_clip),
              "pred": predictor_loss(x_p, x_gt, pixel_weight)}
    total = losses["diff"] + cfg.lambda_pred * losses["pred"]
    if cfg.lambda_ddc > 0 and ddc_on:
        n = min(cfg.ddc_batch, b)
        eps = window_noise(tuple(x_gt[:n].shape), block, generator).to(dev)
        losses["ddc"] = ddc_loss(evaluator or denoiser, x_p[:n], x_gt[:n], tau_s[:n], z_lq[:n], eps)
        total = total + cfg.lambda_ddc * losses["ddc"]
    losses["total"] = total
    return losses
