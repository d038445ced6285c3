"""Restore a video with a SATB checkpoint: predictor, jump-start, few-step sampling, optional guidance and colour fix,
streamed over time in overlapping chunks.

Each chunk of `chunk` output frames is computed with `overlap` extra LQ frames on both sides as temporal context,
and only its own frames are kept. The Gaussian noise of every frame is drawn from a generator seeded by
`vrbench.seeds.derive_seed(seed, frame index, draw)`, so overlapping chunks see the same noise and the result does
not depend on the chunking beyond the context window. A clip shorter than the 3-frame training window is handled by
replicate padding in time (inside the networks); a 1-frame clip works.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vrbench.errors import InputError
from vrbench.satb.sampling import Denoise, cfg_denoiser, dtg_denoiser, sample
from vrbench.satb.schedule import T_MAX, satb_timesteps, uniform_timesteps
from vrbench.seeds import derive_seed

# Version of what sampling a checkpoint computes for given options; part of `SamplingConfig.to_dict`, so of the
# method config and the output cache key. Bump it whenever the same checkpoint, options, steps and seed give
# different outputs.
#   1: per-frame noise seeded by (seed * 1_000_003 + frame * 9_973 + draw) mod (2^63 - 1)
#   2: per-frame noise seeded by derive_seed(seed, frame, draw); wavelet colour fix from vrbench.colorfix
#   3: one noise draw shared by each block of `window` frames (frames f with equal f // window), seeded by
#      derive_seed(seed, f // window, draw), as in training (the paper's latent shares noise over 4 frames)
SAMPLING_VERSION = 3


@dataclass(frozen=True)
class SamplingConfig:
    """How a checkpoint is sampled; goes into the method config (and so into the results' cache key)."""

    sampler: str = "dpmpp-2m-sde"  # the paper's (chenxx89/SATB-VR@824dc19 CogVideoXDPMScheduler) | ddim | ddpm
    timesteps: str = "released"  # released (SATB-VR's rule) | uniform (N evenly spaced times from t_start)
    t_start: float = T_MAX
    start: str = "predictor"  # predictor (SATB) | lq (SDEdit baseline: noise the upsampled LQ)
    guidance: str = "none"  # none | cfg | dtg
    guidance_scale: float = 1.5
    dtg_delta: float = 0.15  # largest offset of the unconditional branch's time (rectified-flow units)
    dtg_anneal: str = "exponential"
    dtg_rescale: bool = True  # the unconditional branch's input scaled to its own time (sampling.dtg_denoiser)
    colour_fix: str = "none"  # none | wavelet
    chunk: int = 12
    overlap: int = 2

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sampling_version": SAMPLING_VERSION}


def frame_noise(seed: int, frames: np.ndarray, shape: tuple[int, ...], dtype=None, block: int = 1):
    """noise(k): (1, T, *shape) standard normal draws; frame f gets the draw of its block f // `block`, from a
    generator seeded by derive_seed(seed, f // block, k), so frames of one block share their noise."""
    import torch

    def noise(k: int):
        draws: dict[int, torch.Tensor] = {}
        for f in frames:
            b = int(f) // block
            if b not in draws:
                g = torch.Generator().manual_seed(derive_seed(int(seed), b, int(k)))
                draws[b] = torch.randn(shape, generator=g, dtype=dtype or torch.float32)
        return torch.stack([draws[int(f) // block] for f in frames])[None]

    return noise


class SatbRestorer:
    """A loaded checkpoint plus its sampling configuration; `restore_frames` maps uint8 LQ to uint8 HR frames."""

    def __init__(self, checkpoint: str = "satb", sampling: SamplingConfig | None = None, device: str = "cpu") -> None:
        from vrbench.satb.checkpoint import load_checkpoint

        self.checkpoint = checkpoint
        self.sampling = sampling or SamplingConfig()
        self.predictor, self.denoiser, self.net, self.meta = load_checkpoint(checkpoint)
        self.device = device
        self.predictor.to(device)
        self.denoiser.to(device)
        check_sampling(self.sampling)

    def restore_frames(self, lq: np.ndarray, *, steps: int, seed: int, first_frame: int = 0) -> np.ndarray:
        """uint8 (T, h, w, 3) -> uint8 (T, h s, w s, 3), all frames at once (use `restore_stream` for long clips)."""
        return restore_array(self.predictor, self.denoiser, self.sampling, lq, steps=steps, seed=seed,
                             first_frame=first_frame, device=self.device)

    def restore_stream(self, chunks: Iterable[np.ndarray], *, steps: int, seed: int) -> Iterator[np.ndarray]:
        """Restore a clip given as consecutive uint8 LQ chunks of any size; yield uint8 output chunks in order.
        At most `chunk + 2 overlap` LQ frames (plus one input chunk) are held at a time."""
        s = self.sampling
        buf, buf_start, done = np.zeros((0, 0, 0, 3), np.uint8), 0, 0
        for piece in chunks:
            buf = piece if len(buf) == 0 else np.concatenate([buf, piece])
            while buf_start + len(buf) >= done + s.chunk + s.overlap:
                yield self._window(buf, buf_start, done, done + s.chunk, steps, seed)
                done += s.chunk
                keep = max(done - s.overlap, buf_start)
                buf, buf_start = buf[keep - buf_start :], keep
        while done < buf_start + len(buf):
            last = min(done + s.chunk, buf_start + len(buf))
            yield self._window(buf, buf_start, done, last, steps, seed)
            done = last

    def _window(self, buf: np.ndarray, buf_start: int, first: int, last: int, steps: int, seed: int) -> np.ndarray:
        """Output frames [first, last) computed with up to `overlap` context frames on each side."""
        a = max(first - self.sampling.overlap, buf_start)
        b = min(last + self.sampling.overlap, buf_start + len(buf))
        out = self.restore_frames(buf[a - buf_start : b - buf_start], steps=steps, seed=seed, first_frame=a)
        return out[first - a : last - a]


def sampling_times(steps: int, s: SamplingConfig) -> list[float]:
    """The sampler's times, start first; none for steps = 0 (predictor only)."""
    if steps == 0:
        return []
    return satb_timesteps(steps) if s.timesteps == "released" else uniform_timesteps(steps, s.t_start)


def denoise_fn(denoiser, z_lq, ts: list[float], s: SamplingConfig) -> Denoise:
    """The x0 estimator the sampler calls: conditional, or CFG- / DTG-guided with the null (zero) LQ condition."""
    import torch

    def branch(z):
        return lambda x, t: denoiser(x, torch.full((x.shape[0],), float(t), device=x.device), z)

    cond = branch(z_lq)
    if s.guidance == "cfg":
        return cfg_denoiser(cond, branch(torch.zeros_like(z_lq)), s.guidance_scale)
    if s.guidance == "dtg":
        return dtg_denoiser(cond, branch(torch.zeros_like(z_lq)), s.guidance_scale, s.dtg_delta, ts[0], s.dtg_anneal,
                            rescale=s.dtg_rescale)
    return cond


def restore_array(predictor, denoiser, s: SamplingConfig, lq: np.ndarray, *, steps: int, seed: int,
                  first_frame: int = 0, device: str = "cpu") -> np.ndarray:
    """uint8 LQ (T, h, w, 3) -> uint8 (T, h s, w s, 3): x_p = P(z_lq), then `steps` sampler steps (0: x_p)."""
    import torch

    from vrbench.colorfix import wavelet_fix
    from vrbench.metrics.engine import to_tensor
    from vrbench.satb.nets import from_space, lq_to_space, pad_to_multiple

    with torch.inference_mode():
        q = to_tensor(lq, device)[None]
        net = predictor.cfg
        z_lq, (ph, pw) = pad_to_multiple(lq_to_space(q, net), 2)
        ts = sampling_times(steps, s)
        noise = frame_noise(seed, np.arange(first_frame, first_frame + lq.shape[0]), tuple(z_lq.shape[2:]),
                            block=net.window)
        start = predictor(z_lq) if s.start == "predictor" else z_lq
        x = sample(denoise_fn(denoiser, z_lq, ts, s), start, ts, lambda k: noise(k).to(device), s.sampler)
        out = from_space(x[..., : x.shape[-2] - ph, : x.shape[-1] - pw], net)[0]
        if s.colour_fix == "wavelet":
            up = from_space(z_lq[..., : z_lq.shape[-2] - ph, : z_lq.shape[-1] - pw], net)[0]
            out = wavelet_fix(out, up)
        out = (out.clamp(0, 1) * 255.0).round().to(torch.uint8)
    return out.permute(0, 2, 3, 1).cpu().numpy()


def check_sampling(s: SamplingConfig) -> None:
    """Validate the options once, up front, naming the offending value."""
    from vrbench.satb.sampling import SAMPLERS

    choices = {"sampler": (s.sampler, tuple(SAMPLERS)), "start": (s.start, ("predictor", "lq")),
               "guidance": (s.guidance, ("none", "cfg", "dtg")), "timesteps": (s.timesteps, ("released", "uniform")),
               "colour_fix": (s.colour_fix, ("none", "wavelet")),
               "dtg_anneal": (s.dtg_anneal, ("exponential", "linear", "cosine"))}
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise InputError(f"unknown SATB option {key}", expected=" | ".join(allowed), found=repr(value))
    if s.chunk < 1 or s.overlap < 0:
        raise InputError("SATB chunking must be positive", expected="chunk >= 1, overlap >= 0",
                         found=f"chunk={s.chunk}, overlap={s.overlap}")
    if not 0 < s.t_start < 1 or s.guidance_scale < 0 or s.dtg_delta < 0:
        raise InputError("SATB sampling values out of range", expected="0 < t_start < 1, guidance_scale >= 0, "
                         "dtg_delta >= 0", found=f"t_start={s.t_start}, guidance_scale={s.guidance_scale}, "
                         f"dtg_delta={s.dtg_delta}")
