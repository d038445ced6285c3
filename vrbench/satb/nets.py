"""The two small networks of the built-in SATB restorer and the pixel-unshuffle space they work in.

Both run at LQ resolution on pixel-unshuffle(HR, scale) tensors, an exactly invertible stand-in for the VAE latent of
SATB-VR (arXiv 2606.28677; docs/satb.md, Networks). Layers mix space with 3x3 convolutions and time with (3, 1, 1)
convolutions over frames, so a clip of any length T >= 1 goes through (frames are replicate-padded in time). Tensors are
(B, T, C, h, w).

- `Predictor` P: z_lq -> x_p = z_lq + r(z_lq), the "offset-corrected latent"; it does not see tau_s, as in the
  released code, which fixes the predictor's timestep (chenxx89/SATB-VR@824dc19: predictor_t = 399).
- `Denoiser` D: (x_t, t, z_lq) -> x0 estimate. It is EDM-preconditioned (Karras et al. 2022, Table 1) on the
  residual x0 - z_lq rather than on x0, so that at every noise level an untrained D already returns roughly the
  upsampled LQ and the few CPU training steps go into the correction; with the null condition (z_lq = 0) this is
  plain EDM. `features` returns the outputs of its four stages, the feature set DDC compares (SATB-VR framework
  figure (c)), arXiv 2606.28677.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class NetConfig:
    """Architecture of one checkpoint. Stored in its metadata and checked on load."""

    scale: int = 4
    channels: int = 48  # width of the denoiser's full-resolution stage
    predictor_channels: int = 32
    predictor_blocks: int = 3
    window: int = 3  # frames seen together during training
    # [-1, 1] pixels times `gain` give unit-variance data (std 0.48 -> 0.97 on demo-train), the convention of latent
    # diffusion's scaling factor, so the released SNR-matched timesteps mean the same noise level relative to the
    # signal as in SATB-VR's scaled VAE latents
    gain: float = 2.0
    # std of x0 - z_lq (GT minus upsampled LQ) in that space on demo-train with realbasicvsr-x4: 2 x 0.124
    sigma_data: float = 0.25

    @property
    def space_channels(self) -> int:
        return 3 * self.scale * self.scale

    def to_dict(self) -> dict:
        return asdict(self)


# ---- the space ------------------------------------------------------------------------------------------------------
def to_space(frames: torch.Tensor, scale: int, gain: float = 2.0) -> torch.Tensor:
    """(B, T, 3, H, W) in [0, 1] -> (B, T, 3 s^2, H/s, W/s) in [-gain, gain] by pixel-unshuffle (exactly invertible)."""
    b, t = frames.shape[:2]
    z = F.pixel_unshuffle((frames.flatten(0, 1) * 2.0 - 1.0) * gain, scale)
    return z.unflatten(0, (b, t))


def from_space(z: torch.Tensor, scale: int, gain: float = 2.0) -> torch.Tensor:
    """Inverse of `to_space`: (B, T, 3 s^2, h, w) -> (B, T, 3, h s, w s) in [0, 1] (not clamped)."""
    b, t = z.shape[:2]
    return ((F.pixel_shuffle(z.flatten(0, 1), scale) / gain + 1.0) / 2.0).unflatten(0, (b, t))


def lq_to_space(lq: torch.Tensor, scale: int, gain: float = 2.0) -> torch.Tensor:
    """LQ (B, T, 3, h, w) in [0, 1] -> z_lq: bicubic x scale (replicate borders), then `to_space` (as the upsampling
    before the VAE in chenxx89/SATB-VR@824dc19 inference.py)."""
    b, t = lq.shape[:2]
    up = F.interpolate(lq.flatten(0, 1), scale_factor=scale, mode="bicubic", align_corners=False)
    return to_space(up.unflatten(0, (b, t)), scale, gain)


# ---- blocks ---------------------------------------------------------------------------------------------------------
def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of t in [0, 1] scaled to [0, 1000] (Vaswani et al. 2017; DDPM convention)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=1)


class TemporalConv(nn.Module):
    """A (3, 1, 1) convolution over frames with replicate padding; zero-initialised so it starts as identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(channels, channels, (3, 1, 1))
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, C, h, w)
        y = x.transpose(1, 2)  # (B, C, T, h, w)
        y = F.pad(y, (0, 0, 0, 0, 1, 1), mode="replicate")
        return x + self.conv(y).transpose(1, 2)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, FiLM from the time embedding (if any), then a temporal convolution."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int = 0) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * c_out) if emb_dim else None
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.temporal = TemporalConv(c_out)
        nn.init.zeros_(self.conv2.weight)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:  # x: (B, T, C, h, w)
        b, t = x.shape[:2]
        h = x.flatten(0, 1)
        y = self.conv1(F.silu(self.norm1(h)))
        y = self.norm2(y)
        if self.film is not None and emb is not None:
            scale, shift = self.film(emb).repeat_interleave(t, dim=0)[..., None, None].chunk(2, dim=1)
            y = y * (1 + scale) + shift
        y = self.conv2(F.silu(y))
        return self.temporal((self.skip(h) + y).unflatten(0, (b, t)))


# ---- networks -------------------------------------------------------------------------------------------------------
class Predictor(nn.Module):
    """P: z_lq -> x_p = z_lq + r(z_lq), a residual ResNet at LQ resolution (docs/satb.md, Networks)."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, cs = cfg.predictor_channels, cfg.space_channels
        self.inp = nn.Conv2d(cs, c, 3, padding=1)
        self.blocks = nn.ModuleList(ResBlock(c, c) for _ in range(cfg.predictor_blocks))
        self.out = nn.Conv2d(c, cs, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, z_lq: torch.Tensor) -> torch.Tensor:
        b, t = z_lq.shape[:2]
        h = self.inp(z_lq.flatten(0, 1)).unflatten(0, (b, t))
        for block in self.blocks:
            h = block(h)
        return z_lq + self.out(h.flatten(0, 1)).unflatten(0, (b, t))


class Denoiser(nn.Module):
    """D: (x_t, t, z_lq) -> x0 estimate; a two-level U-Net whose input is concat(x_t, z_lq) (docs/satb.md, Networks)."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, cs, emb = cfg.channels, cfg.space_channels, 4 * cfg.channels
        self.emb = nn.Sequential(nn.Linear(c, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.inp = nn.Conv2d(2 * cs, c, 3, padding=1)
        self.enc0 = ResBlock(c, c, emb)
        self.down = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.mid = nn.ModuleList([ResBlock(2 * c, 2 * c, emb), ResBlock(2 * c, 2 * c, emb)])
        self.up = nn.Conv2d(2 * c, 4 * c, 3, padding=1)  # pixel-shuffle x2 -> c channels
        self.dec0 = ResBlock(2 * c, c, emb)
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, cs, 3, padding=1))
        self.sigma_data = cfg.sigma_data

    def precondition(self, x_t: torch.Tensor, t: torch.Tensor, z_lq: torch.Tensor):
        """EDM preconditioning (Karras et al. 2022, Table 1) of the residual x0 - z_lq: returns the scaled network
        input and (c_skip, c_out) with x0 = z_lq + c_skip (x_ve - z_lq) + c_out F, x_ve = x_t / alpha_t."""
        sigma = (t / (1 - t))[:, None, None, None, None]  # the variance-exploding sigma of x_ve
        sd2 = self.sigma_data**2
        residual = x_t / (1 - t)[:, None, None, None, None] - z_lq
        c_in = 1.0 / (sigma**2 + sd2).sqrt()
        return c_in * residual, residual, sd2 / (sigma**2 + sd2), sigma * self.sigma_data / (sigma**2 + sd2).sqrt()

    def features(self, x_t: torch.Tensor, t: torch.Tensor, z_lq: torch.Tensor) -> list[torch.Tensor]:
        """The outputs of the four stages (enc0, mid 1, mid 2, dec0); the last one feeds the output head."""
        return self._features(self.precondition(x_t, t, z_lq)[0], t, z_lq)

    def _features(self, h_in: torch.Tensor, t: torch.Tensor, z_lq: torch.Tensor) -> list[torch.Tensor]:
        b, n = h_in.shape[:2]
        emb = self.emb(timestep_embedding(t, self.inp.out_channels))
        h = self.inp(torch.cat([h_in, z_lq], dim=2).flatten(0, 1)).unflatten(0, (b, n))
        f0 = self.enc0(h, emb)
        hd = self.down(f0.flatten(0, 1)).unflatten(0, (b, n))
        f1 = self.mid[0](hd, emb)
        f2 = self.mid[1](f1, emb)
        up = F.pixel_shuffle(self.up(f2.flatten(0, 1)), 2).unflatten(0, (b, n))
        f3 = self.dec0(torch.cat([f0, up], dim=2), emb)
        return [f0, f1, f2, f3]

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, z_lq: torch.Tensor) -> torch.Tensor:
        """x0 estimate from the noisy state, its time and the LQ condition (zeros: the unconditional mode)."""
        b, n = x_t.shape[:2]
        h_in, residual, c_skip, c_out = self.precondition(x_t, t, z_lq)
        out = self.out(self._features(h_in, t, z_lq)[-1].flatten(0, 1)).unflatten(0, (b, n))
        return z_lq + c_skip * residual + c_out * out


def pad_to_multiple(z: torch.Tensor, multiple: int = 2) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the last two dims up to a multiple (the U-Net halves them once); return the padding used."""
    h, w = z.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        b, t = z.shape[:2]
        mode = "reflect" if h > ph and w > pw else "replicate"
        z = F.pad(z.flatten(0, 1), (0, pw, 0, ph), mode=mode).unflatten(0, (b, t))
    return z, (ph, pw)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
