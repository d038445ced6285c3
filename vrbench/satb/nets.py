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
    window: int = 3  # frames seen together during training; sampling noise is shared within blocks of this many frames
    # space (docs/satb.md, Space): 'haar' = a 2-level orthonormal Haar transform of each unshuffled s x s block, every
    # band divided by its RMS on the training GT (`band_rms`, measured when training starts), so fine detail has the
    # same signal-to-noise ratio as coarse content at every diffusion time; 'unshuffle' = the unshuffled pixels times
    # `gain` (the first shipped space)
    space: str = "haar"
    band_rms: tuple[float, ...] = ()  # one value per space channel (3 s^2); empty: all 1
    # [-1, 1] pixels times `gain` give unit-variance data in the 'unshuffle' space (std 0.48 -> 0.97 on demo-train)
    gain: float = 2.0
    # std of x0 - z_lq (GT minus upsampled LQ) in the space: one value, or one per space channel (measured on the
    # training data for the 'haar' space, where the coarse bands differ little from the LQ and the fine ones a lot)
    sigma_data: float | tuple[float, ...] = 0.25

    def __post_init__(self) -> None:  # JSON metadata gives lists
        object.__setattr__(self, "band_rms", tuple(float(v) for v in self.band_rms))
        if not isinstance(self.sigma_data, (int, float)):
            object.__setattr__(self, "sigma_data", tuple(float(v) for v in self.sigma_data))

    @property
    def space_channels(self) -> int:
        return 3 * self.scale * self.scale

    def to_dict(self) -> dict:
        return asdict(self)


# ---- the space ------------------------------------------------------------------------------------------------------
def haar_matrix(n: int) -> torch.Tensor:
    """Orthonormal 1-D Haar matrix of size n (a power of 2), coarsest row first: H_n = [H_{n/2} (x) [1, 1] / sqrt 2;
    I_{n/2} (x) [1, -1] / sqrt 2] (Haar 1910; the standard recursive construction)."""
    if n == 1:
        return torch.ones(1, 1, dtype=torch.float64)
    if n % 2:
        raise ValueError(f"the Haar transform needs a power-of-two block size, found {n}")
    r = 2.0**-0.5
    top = torch.kron(haar_matrix(n // 2), torch.tensor([[r, r]], dtype=torch.float64))
    bottom = torch.kron(torch.eye(n // 2, dtype=torch.float64), torch.tensor([[r, -r]], dtype=torch.float64))
    return torch.cat([top, bottom])


def space_matrix(net: NetConfig) -> torch.Tensor:
    """(C, C) float32 map from unshuffled pixels (channel c s^2 + i s + j) to the space: per colour, kron(H, H) of the
    s x s block, then each band divided by its RMS (identity times `gain` for the 'unshuffle' space)."""
    c = net.space_channels
    if net.space == "unshuffle":
        return torch.eye(c) * net.gain
    if net.space != "haar":
        raise ValueError(f"unknown space '{net.space}': expected haar or unshuffle")
    h = haar_matrix(net.scale)
    m = torch.kron(torch.eye(3, dtype=torch.float64), torch.kron(h, h))
    rms = torch.tensor(net.band_rms or [1.0] * c, dtype=torch.float64)
    return (m / rms[:, None]).float()


def _channel_map(z: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return torch.einsum("dc,btchw->btdhw", m.to(z.device, z.dtype), z)


def unshuffle_pixels(frames: torch.Tensor, scale: int) -> torch.Tensor:
    """(B, T, 3, H, W) in [0, 1] -> (B, T, 3 s^2, H/s, W/s) pixels in [-1, 1], pixel-unshuffled."""
    b, t = frames.shape[:2]
    return F.pixel_unshuffle(frames.flatten(0, 1) * 2.0 - 1.0, scale).unflatten(0, (b, t))


def to_space(frames: torch.Tensor, net: NetConfig) -> torch.Tensor:
    """(B, T, 3, H, W) in [0, 1] -> (B, T, 3 s^2, H/s, W/s) in the network space (exactly invertible)."""
    return _channel_map(unshuffle_pixels(frames, net.scale), space_matrix(net))


def from_space(z: torch.Tensor, net: NetConfig) -> torch.Tensor:
    """Inverse of `to_space`: (B, T, 3 s^2, h, w) -> (B, T, 3, h s, w s) in [0, 1] (not clamped)."""
    b, t = z.shape[:2]
    u = _channel_map(z, torch.linalg.inv(space_matrix(net).double()).float())
    return ((F.pixel_shuffle(u.flatten(0, 1), net.scale) + 1.0) / 2.0).unflatten(0, (b, t))


def lq_to_space(lq: torch.Tensor, net: NetConfig) -> torch.Tensor:
    """LQ (B, T, 3, h, w) in [0, 1] -> z_lq: bicubic x scale (replicate borders), then `to_space` (as the upsampling
    before the VAE in chenxx89/SATB-VR@824dc19 inference.py)."""
    b, t = lq.shape[:2]
    up = F.interpolate(lq.flatten(0, 1), scale_factor=net.scale, mode="bicubic", align_corners=False)
    return to_space(up.unflatten(0, (b, t)), net)


def band_rms(frames: list[torch.Tensor], net: NetConfig) -> tuple[float, ...]:
    """RMS of every Haar band (before normalisation) over GT frames (B, T, 3, H, W) in [0, 1]."""
    raw = NetConfig(**{**net.to_dict(), "band_rms": ()})
    sums = sum(to_space(f, raw).double().pow(2).sum((0, 1, 3, 4)) for f in frames)
    count = sum(f.shape[0] * f.shape[1] * f.shape[-2] * f.shape[-1] / net.scale**2 for f in frames)
    return tuple(round(float(v), 5) for v in (sums / count).sqrt().clamp_min(1e-3))


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
        sd = torch.tensor(cfg.sigma_data, dtype=torch.float32).reshape(1, 1, -1, 1, 1)
        self.register_buffer("sigma_data", sd, persistent=False)

    def precondition(self, x_t: torch.Tensor, t: torch.Tensor, z_lq: torch.Tensor):
        """EDM preconditioning (Karras et al. 2022, Table 1) of the residual x0 - z_lq: returns the scaled network
        input and (c_skip, c_out) with x0 = z_lq + c_skip (x_ve - z_lq) + c_out F, x_ve = x_t / alpha_t."""
        sigma = (t / (1 - t))[:, None, None, None, None]  # the variance-exploding sigma of x_ve
        sd = self.sigma_data.to(x_t.dtype)
        sd2 = sd**2
        residual = x_t / (1 - t)[:, None, None, None, None] - z_lq
        c_in = 1.0 / (sigma**2 + sd2).sqrt()
        return c_in * residual, residual, sd2 / (sigma**2 + sd2), sigma * sd / (sigma**2 + sd2).sqrt()

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
