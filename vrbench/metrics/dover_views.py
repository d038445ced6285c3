"""DOVER input views: seeded temporal sampling, 7x7 spatial fragments (technical) and 224x224 resize (aesthetic).

Behaviour follows the released ``dover.yml`` (``val-l1080p`` block) and ``dover/datasets/dover_datasets.py`` of
VQAssessment/DOVER @f1ddc96, including two quirks that change scores and are reproduced on purpose:

- short clips wrap: frame indices are taken modulo the frame count (``UnifiedFrameSampler``);
- clips whose short side is below 224 px are upscaled bilinearly (``scale_factor = 1/ratio``, cast back to uint8 by
  truncation), but the fragment grid is computed from the ORIGINAL height/width, so fragments come from the
  top-left part of the upscaled frames.

Randomness. The official scripts draw the temporal offsets from NumPy's global RNG and the fragment offsets from
torch's global RNG, unseeded, so repeated runs differ. Here both come from a ``seed``: a ``numpy.random.RandomState``
(the legacy MT19937 stream behind ``np.random.seed``) for the temporal offsets and a CPU ``torch.Generator`` for
the fragment offsets, drawn in the official order (technical then aesthetic frame offsets; fragment rows then
columns). Views built with ``seed=s`` are therefore identical to the official ones when ``np.random.seed(s)``
and ``torch.manual_seed(s)`` are called right before their view sampling (anything drawn from the global RNGs in
between, e.g. building the model or another clip, moves their offsets). Views are built on the CPU so rounding
does not depend on the scoring device.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms.functional import resize

# ImageNet statistics on the 0-255 scale (DOVER evaluate_one_video.py / ViewDecompositionDataset).
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
# Technical sample type of dover.yml: fragments_h/w 7, fsize_h/w 32, aligned 32, clip_len 32, frame_interval 2,
# num_clips 3. Aesthetic: size_h/w 224, clip_len 32, frame_interval 2, t_frag 32, num_clips 1.
FRAGMENTS = 7
FRAGMENT_SIZE = 32
CLIP_LEN = 32
FRAME_INTERVAL = 2
TECHNICAL_CLIPS = 3
AESTHETIC_SIZE = 224
VIEW_SIZE = FRAGMENTS * FRAGMENT_SIZE  # 224


def frame_indices(num_frames: int, segments: int, clip_len: int, interval: int,
                  rng: np.random.RandomState) -> np.ndarray:
    """``UnifiedFrameSampler(clip_len, segments, interval)``: one run of ``clip_len`` frames per equal segment.

    Each segment starts at ``num_frames // segments * i`` plus a random offset in
    ``[0, num_frames // segments - clip_len * interval)`` when the segment is long enough, else 0; indices wrap
    modulo ``num_frames``.
    """
    length = num_frames // segments
    starts = np.arange(segments) * length
    if length > clip_len * interval:
        offsets = rng.randint(0, length - clip_len * interval, size=segments)
    else:
        offsets = np.zeros(segments, dtype=np.int64)
    runs = np.arange(clip_len)[None, :] * interval + offsets[:, None] + starts[:, None]
    return np.mod(runs.reshape(-1), num_frames)


def to_uint8(frames: Tensor) -> Tensor:
    """uint8 as DOVER's decoder delivers it: float [0, 1] frames are scaled by 255, rounded and clamped."""
    if frames.dtype == torch.uint8:
        return frames
    return (frames.float() * 255.0).round_().clamp_(0, 255).to(torch.uint8)


def _check_frames(frames: Tensor) -> None:
    if not isinstance(frames, Tensor) or frames.ndim != 4 or frames.shape[1] != 3:
        shape = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
        raise ValueError(f"DOVER expects frames of shape (T, 3, H, W), got {shape}")
    t, _, h, w = frames.shape
    if t < 1 or min(h, w) < FRAGMENT_SIZE:
        raise ValueError(f"DOVER needs at least 1 frame of at least {FRAGMENT_SIZE}x{FRAGMENT_SIZE} px, "
                         f"got {t} frames of {h}x{w}")
    if frames.dtype != torch.uint8:
        if not frames.is_floating_point():
            raise ValueError(f"DOVER expects uint8 or float frames, got dtype {frames.dtype}")
        bad = (~torch.isfinite(frames)).flatten(1).any(1).nonzero()
        if len(bad):
            raise ValueError(f"frame {int(bad[0])} contains NaN or Inf values")


def _fragment_grid(size: int) -> tuple[list[int], int]:
    """Grid origins ``min(size // 7 * i, size - 32)`` and cell length ``size // 7`` (from the ORIGINAL size)."""
    cell = size // FRAGMENTS
    return [min(cell * i, size - FRAGMENT_SIZE) for i in range(FRAGMENTS)], cell


def _fragment_offsets(cell: int, chunks: int, gen: torch.Generator) -> Tensor:
    shape = (FRAGMENTS, FRAGMENTS, chunks)
    if cell > FRAGMENT_SIZE:
        return torch.randint(cell - FRAGMENT_SIZE, shape, generator=gen)
    return torch.zeros(shape, dtype=torch.int64)


def _upscale(video: Tensor, ratio: float) -> Tensor:
    """Bilinear upscale by ``1/ratio`` on [0, 1] floats, back to uint8 by truncation (``type_as`` in DOVER)."""
    up = F.interpolate(video.float() / 255.0, scale_factor=1 / ratio, mode="bilinear")
    return (up * 255.0).to(torch.uint8)


def _crop(frames: Tensor, pick: Tensor | None, top: int, left: int) -> Tensor:
    """The 32x32 patch at (top, left) of the frames ``pick`` (None: all frames), uint8 on the CPU."""
    patch = frames[:, :, top:top + FRAGMENT_SIZE, left:left + FRAGMENT_SIZE]
    return to_uint8((patch if pick is None else patch.index_select(0, pick)).cpu())


def technical_view(frames: Tensor, indices: np.ndarray, gen: torch.Generator) -> Tensor:
    """Fragments of the sampled frames: (len(indices), 3, 224, 224) float on 0-255, not yet normalised."""
    _, _, h, w = frames.shape
    chunks = len(indices) // CLIP_LEN
    hgrid, hcell = _fragment_grid(h)
    wgrid, wcell = _fragment_grid(w)
    off_h = _fragment_offsets(hcell, chunks, gen)
    off_w = _fragment_offsets(wcell, chunks, gen)
    ratio = min(h / VIEW_SIZE, w / VIEW_SIZE)
    out = torch.zeros(len(indices), 3, VIEW_SIZE, VIEW_SIZE)
    size = FRAGMENT_SIZE
    for c in range(chunks):
        chunk = torch.as_tensor(indices[c * CLIP_LEN:(c + 1) * CLIP_LEN], device=frames.device)
        if ratio < 1:  # upscale the whole frames, then cut with the grid of the original size (DOVER quirk)
            source, pick = _upscale(to_uint8(frames.index_select(0, chunk).cpu()), ratio), None
        else:
            source, pick = frames, chunk
        for i in range(FRAGMENTS):
            for j in range(FRAGMENTS):
                patch = _crop(source, pick, hgrid[i] + int(off_h[i, j, c]), wgrid[j] + int(off_w[i, j, c]))
                out[c * CLIP_LEN:(c + 1) * CLIP_LEN, :, i * size:(i + 1) * size, j * size:(j + 1) * size] = patch
    return out


def aesthetic_view(frames: Tensor, indices: np.ndarray, *, antialias: bool = True) -> Tensor:
    """224x224 resize of the sampled frames (aspect ratio not kept, bilinear), uint8 like torchvision's Resize."""
    resized = [resize(to_uint8(frames[int(i)].cpu()), [AESTHETIC_SIZE, AESTHETIC_SIZE], antialias=antialias)
               for i in indices]
    return torch.stack(resized)


def _normalise(view: Tensor, clips: int) -> Tensor:
    """(clips * T, 3, H, W) on 0-255 -> ImageNet-normalised (clips, 3, T, H, W)."""
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    x = (view - mean) / std
    return x.view(clips, -1, *x.shape[1:]).permute(0, 2, 1, 3, 4).contiguous()


def dover_views(frames: Tensor, seed: int = 0, *, antialias: bool = True) -> dict[str, Tensor]:
    """Both DOVER views of a clip ``(T, 3, H, W)``, uint8 or float in [0, 1] (converted with round(255 x)).

    Returns ``technical`` (3, 3, 32, 224, 224) and ``aesthetic`` (1, 3, 32, 224, 224), normalised float32 on CPU.
    ``seed`` fixes the temporal and fragment offsets (see the module docstring). ``antialias`` applies to the
    aesthetic resize only: True is torchvision >= 0.17's default for ``transforms.Resize`` on tensors (what the
    official code does when run today); False reproduces DOVER's pinned torch 1.13 / torchvision 0.14 environment.
    """
    _check_frames(frames)
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    rng = np.random.RandomState(int(seed))
    gen = torch.Generator().manual_seed(int(seed))
    n = frames.shape[0]
    tech_idx = frame_indices(n, TECHNICAL_CLIPS, CLIP_LEN, FRAME_INTERVAL, rng)
    aes_idx = frame_indices(n, CLIP_LEN, 1, FRAME_INTERVAL, rng)
    technical = technical_view(frames, tech_idx, gen)
    aesthetic = aesthetic_view(frames, aes_idx, antialias=antialias).float()
    return {"technical": _normalise(technical, TECHNICAL_CLIPS), "aesthetic": _normalise(aesthetic, 1)}
