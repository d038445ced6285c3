"""SATB training losses: the diffusion loss on the blended trajectory, the DDC loss and the predictor loss.

One training iteration (docs/satb.md, Training step): draw tau_s, x_p = P(z_lq), draw t <= tau_s, blend
x_b = x_gt + w(t; tau_s)(sg[x_p] - x_gt), noise at t, regress D's x0 estimate on x_gt; DDC noises x_p and x_gt at
tau_s with one shared eps and matches D's features, with D frozen so that only P learns from it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import torch

from vrbench.satb.nets import Denoiser, Predictor
from vrbench.satb.schedule import BLEND_WEIGHTS, T_MAX, T_MIN, add_noise, satb_blend


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
    t_max: float = T_MAX
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


def diffusion_loss(x0_hat: torch.Tensor, x_gt: torch.Tensor) -> torch.Tensor:
    """SATB-VR diffusion loss between the denoiser output and x_gt (framework figure); x0-MSE, weight 1."""
    return (x0_hat - x_gt).pow(2).mean()


def predictor_loss(x_p: torch.Tensor, x_gt: torch.Tensor) -> torch.Tensor:
    """Direct predictor loss ||x_p - x_gt||^2 (docs/satb.md, Training step 9)."""
    return (x_p - x_gt).pow(2).mean()


def ddc_loss(denoiser: Denoiser, x_p: torch.Tensor, x_gt: torch.Tensor, tau_s: torch.Tensor, z_lq: torch.Tensor,
             eps: torch.Tensor) -> torch.Tensor:
    """Denoiser-Driven Consistency (SATB-VR fig. (c)): MSE between D's features of x_p and x_gt noised at tau_s with
    a shared eps, each layer normalised by the GT branch's mean square; D frozen, GT branch stop-gradient."""
    with torch.no_grad():
        target = denoiser.features(add_noise(x_gt, eps, _b(tau_s)), tau_s, z_lq)
    with frozen(denoiser):
        feats = denoiser.features(add_noise(x_p, eps, _b(tau_s)), tau_s, z_lq)
    terms = [(f - g).pow(2).mean() / (g.pow(2).mean() + 1e-6) for f, g in zip(feats, target, strict=True)]
    return torch.stack(terms).mean()


def _b(t: torch.Tensor) -> torch.Tensor:
    """Per-sample times (B,) broadcast against (B, T, C, h, w)."""
    return t[:, None, None, None, None]


def draw_times(batch: int, t_max: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """tau_s ~ U(T_MIN, t_max], t ~ U(T_MIN, tau_s] (docs/satb.md, Training steps 2 and 4)."""
    tau_s = T_MIN + (t_max - T_MIN) * torch.rand(batch, generator=generator)
    t = T_MIN + (tau_s - T_MIN) * torch.rand(batch, generator=generator)
    return tau_s, t


def satb_losses(predictor: Predictor, denoiser: Denoiser, x_gt: torch.Tensor, z_lq: torch.Tensor, cfg: LossConfig,
                generator: torch.Generator, ddc_on: bool = True) -> dict[str, torch.Tensor]:
    """All losses of one SATB iteration on a batch (x_gt, z_lq) in the unshuffled space; 'total' is their sum."""
    b = x_gt.shape[0]
    weight: Callable = BLEND_WEIGHTS[cfg.blend]
    tau_s, t = draw_times(b, cfg.t_max, generator)
    x_p = predictor(z_lq)
    x_p_blend = x_p.detach() if cfg.stopgrad_blend else x_p
    x_b = satb_blend(x_gt, x_p_blend, _b(t), _b(tau_s), weight)
    x_t = add_noise(x_b, torch.randn(x_gt.shape, generator=generator), _b(t))
    keep = (torch.rand(b, generator=generator) >= cfg.cond_dropout).float()
    losses = {"diff": diffusion_loss(denoiser(x_t, t, z_lq * _b(keep)), x_gt), "pred": predictor_loss(x_p, x_gt)}
    total = losses["diff"] + cfg.lambda_pred * losses["pred"]
    if cfg.lambda_ddc > 0 and ddc_on:
        n = min(cfg.ddc_batch, b)
        eps = torch.randn(x_gt[:n].shape, generator=generator)
        losses["ddc"] = ddc_loss(denoiser, x_p[:n], x_gt[:n], tau_s[:n], z_lq[:n], eps)
        total = total + cfg.lambda_ddc * losses["ddc"]
    losses["total"] = total
    return losses
