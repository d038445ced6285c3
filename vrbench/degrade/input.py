"""Check and normalise a GT clip before degradation; every conversion is recorded for the manifest.

Documented handling of unusual input:
- gray (T, H, W) or (T, H, W, 1): replicated to RGB;
- RGBA (T, H, W, 4): alpha dropped;
- uint16: rescaled to 8 bits as round(x / 257) (65535 -> 255), as `vrbench.video` does for 16-bit files;
- H or W not a multiple of the scale: cropped to the largest multiple, keeping the top-left corner, so that
  LQ x scale matches the GT used for scoring;
- frames smaller than a blur kernel are fine: padding mirrors repeatedly (REFLECT_101 with period 2 (n - 1)).
Anything else (float frames, an empty clip, frames smaller than the scale, frames over the pixel budget of
`vrbench.video.max_frame_pixels`, checked from the header when the clip is opened from disk) raises InputError.
"""

from __future__ import annotations

import numpy as np

from vrbench.errors import InputError
from vrbench.video import check_frame_size


def prepare_gt(gt: np.ndarray, scale: int, clip_id: str = "") -> tuple[np.ndarray, list[str]]:
    """uint8 (T, H, W, 3) frames cropped to multiples of `scale`, plus the list of conversions applied."""
    frames = np.asarray(gt)
    clip = clip_id or None
    if int(scale) != scale or scale < 1:
        raise InputError("scale must be a positive integer", clip=clip, expected=">= 1", found=scale)
    if frames.ndim >= 3:  # before any conversion copies the frames (the pipeline then holds float copies too)
        check_frame_size(frames.shape[2], frames.shape[1], clip=clip)
    frames, notes = as_rgb(frames, clip)
    frames, more = as_uint8(frames, clip)
    notes += more
    t, h, w = frames.shape[:3]
    if t == 0:
        raise InputError("GT clip has no frames", clip=clip, expected=">= 1 frame", found=frames.shape)
    if h < scale or w < scale:
        raise InputError("GT frames are smaller than the scale factor", clip=clip,
                         expected=f"height and width >= {scale}", found=f"{w}x{h}")
    crop_h, crop_w = h - h % scale, w - w % scale
    if (crop_h, crop_w) != (h, w):
        frames = frames[:, :crop_h, :crop_w]
        notes.append(f"cropped {w}x{h} -> {crop_w}x{crop_h} (top-left, multiple of scale {scale})")
    return np.ascontiguousarray(frames), notes


def as_rgb(frames: np.ndarray, clip: str | None) -> tuple[np.ndarray, list[str]]:
    if frames.ndim == 3:
        return np.repeat(frames[..., None], 3, axis=-1), ["gray->rgb (replicated)"]
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3, 4):
        raise InputError("GT must be frames of shape (T, H, W, 3)", clip=clip,
                         expected="(T, H, W, 3), or (T, H, W) / (T, H, W, 1) gray", found=frames.shape)
    if frames.shape[-1] == 1:
        return np.repeat(frames, 3, axis=-1), ["gray->rgb (replicated)"]
    if frames.shape[-1] == 4:
        return frames[..., :3], ["rgba->rgb (alpha dropped)"]
    return frames, []


def as_uint8(frames: np.ndarray, clip: str | None) -> tuple[np.ndarray, list[str]]:
    if frames.dtype == np.uint8:
        return frames, []
    if frames.dtype == np.uint16:
        scaled = np.clip(np.round(frames.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
        return scaled, ["16-bit->8-bit (round(x/257))"]
    raise InputError("GT frames must be uint8 (or uint16)", clip=clip, expected="uint8", found=frames.dtype,
                     hint="convert float frames with np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)")
