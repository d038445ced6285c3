"""Straightforward per-frame NumPy/OpenCV implementation of the same manifest stages.

This is the yardstick of `vrbench bench degrade`: one frame at a time, (H, W, 3) float32 arrays, OpenCV for
filtering and resizing, NumPy for the rest, written for clarity rather than speed. It shares only the noise fields,
the JPEG round trip and the video codec with the batched pipeline, so comparing the two checks the filters,
resizes, USM, noise arithmetic and quantisation against an independent implementation.
"""

from __future__ import annotations

import numpy as np

from vrbench.degrade import noise as noise_fields
from vrbench.degrade.jpeg import jpeg_roundtrip, to_uint8
from vrbench.degrade.kernels import filter_taps, gaussian_kernel_1d


def unsharp_mask(frame: np.ndarray, stage: dict) -> np.ndarray:
    import cv2

    taps = gaussian_kernel_1d(stage["size"], stage["sigma"]).astype(np.float32)
    blurred = cv2.sepFilter2D(frame, -1, taps, taps, borderType=cv2.BORDER_REFLECT_101)
    residual = frame - blurred
    mask = (np.abs(residual) * 255 > stage["threshold"]).astype(np.float32)
    soft_mask = cv2.sepFilter2D(mask, -1, taps, taps, borderType=cv2.BORDER_REFLECT_101)
    sharp = np.clip(frame + stage["weight"] * residual, 0, 1)
    return soft_mask * sharp + (1 - soft_mask) * frame


def blur(frame: np.ndarray, entry: dict) -> np.ndarray:
    import cv2

    kernel = filter_taps(entry)
    return cv2.filter2D(frame, -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def area_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Adaptive average pooling along one axis: output i averages inputs floor(i n / m) .. ceil((i + 1) n / m) - 1."""
    matrix = np.zeros((n_out, n_in), dtype=np.float32)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def resize(frame: np.ndarray, entry: dict) -> np.ndarray:
    import cv2

    height, width, mode = entry["height"], entry["width"], entry["mode"]
    if mode == "bilinear":
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
    if mode == "bicubic":
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_CUBIC)
    if mode == "area":
        rows = area_matrix(height, frame.shape[0]) @ frame.reshape(frame.shape[0], -1)
        rows = rows.reshape(height, frame.shape[1], 3).transpose(1, 0, 2).reshape(frame.shape[1], -1)
        return (area_matrix(width, frame.shape[1]) @ rows).reshape(width, height, 3).transpose(1, 0, 2)
    if mode == "bicubic_aa":
        from PIL import Image

        channels = [Image.fromarray(np.ascontiguousarray(frame[..., c]), mode="F") for c in range(3)]
        return np.stack([np.asarray(c.resize((width, height), Image.BICUBIC)) for c in channels], axis=-1)
    raise ValueError(f"unknown resize mode '{mode}'")


def gaussian_noise(frame: np.ndarray, entry: dict) -> np.ndarray:
    channels = 1 if entry["gray"] else 3
    field = noise_fields.gaussian_field(entry["seed"], (channels, *frame.shape[:2])).transpose(1, 2, 0)
    return np.clip(frame + field * np.float32(entry["sigma"] / 255.0), 0, 1)


def poisson_noise(frame: np.ndarray, entry: dict) -> np.ndarray:
    if entry["gray"]:
        luma = noise_fields.LUMA
        source = frame[..., 0:1] * luma[0] + frame[..., 1:2] * luma[1] + frame[..., 2:3] * luma[2]
    else:
        source = frame
    levels = np.clip(np.rint(source * 255), 0, 255).astype(np.int64)
    vals = noise_fields.poisson_vals(len(np.unique(levels)))
    height, width, channels = levels.shape
    uniforms = noise_fields.uniform_field(entry["seed"], (channels, height, width))
    counts = noise_fields.poisson_counts(levels.transpose(2, 0, 1), uniforms, vals).transpose(1, 2, 0)
    noise = (counts.astype(np.float32) / vals - levels.astype(np.float32) / 255) * np.float32(entry["scale"])
    return np.clip(frame + noise, 0, 1)


def add_noise(frame: np.ndarray, entry: dict) -> np.ndarray:
    return gaussian_noise(frame, entry) if entry["kind"] == "gaussian" else poisson_noise(frame, entry)


def jpeg(frame: np.ndarray, entry: dict) -> np.ndarray:
    return jpeg_roundtrip(to_uint8(frame), entry["quality"]).astype(np.float32) / 255


def quantize(frame: np.ndarray, stage: dict) -> np.ndarray:
    return np.clip(np.rint(frame * 255), 0, 255) / np.float32(255)


def subsample(frame: np.ndarray, stage: dict) -> np.ndarray:
    return frame[stage["offset"] :: stage["step"], stage["offset"] :: stage["step"]]


def video(frames: list[np.ndarray], stage: dict) -> list[np.ndarray]:
    from vrbench.degrade.codec import codec_arguments, compress_video

    decoded = compress_video(np.stack([to_uint8(f) for f in frames]), *codec_arguments(stage))
    return [f.astype(np.float32) / 255 for f in decoded]


def each_frame(fn):
    """A per-frame stage: fn(frame, entry) where the frame has an entry, the frame itself where it has none."""
    return lambda frames, stage: [f if e is None else fn(f, e) for f, e in zip(frames, stage["frames"], strict=True)]


def every_frame(fn):
    """A stage with one setting for all frames: fn(frame, stage) on each."""
    return lambda frames, stage: [fn(f, stage) for f in frames]


# Keyed by the names of `ops.OPS` (a test checks the two name sets agree); the implementations are independent.
REFERENCE = {
    "usm": every_frame(unsharp_mask), "blur": each_frame(blur), "resize": each_frame(resize),
    "noise": each_frame(add_noise), "jpeg": each_frame(jpeg), "video": video,
    "shuffle": lambda frames, stage: frames,  # a marker: the stages it orders follow it
    "subsample": every_frame(subsample), "quantize": every_frame(quantize),
}


def apply_stage(frames: list[np.ndarray], stage: dict) -> list[np.ndarray]:
    """One manifest stage on (H, W, 3) float32 frames, frame by frame (the video stage takes the whole clip)."""
    return REFERENCE[stage["op"]](frames, stage)


def run_reference(gt: np.ndarray, stages: list[dict]) -> np.ndarray:
    """Degrade uint8 (T, H, W, 3) GT by manifest stages, frame by frame; return uint8 (T, h, w, 3)."""
    frames = [f.astype(np.float32) / 255 for f in gt]
    for stage in stages:
        frames = apply_stage(frames, stage)
    return np.stack([to_uint8(f) for f in frames])
