"""JPEG round trip through libjpeg (OpenCV), integer quality, 8-bit in and out.

Real-ESRGAN uses DiffJPEG [BSR basicsr/utils/diffjpeg.py]: float quality, float quantisation tables with no
integer rounding or [1, 255] clamp, zero padding to multiples of 16, 2x2 average-pooled chroma upsampled by
repetition, and a float (not 8-bit) output. libjpeg instead uses integer tables from an integer quality, "fancy"
chroma upsampling and uint8 output. We use libjpeg for every preset, as RealBasicVSR does, because it is what a
real JPEG file contains and it is reproducible byte for byte for a given libjpeg build.

Frames are handed to OpenCV in BGR order, so the encoder's YCbCr transform sees the true colours (mmedit 0.x
passed RGB arrays straight to cv2.imencode, swapping R and B inside the codec [MMA@725289f4]; we do not).
"""

from __future__ import annotations

import functools

import numpy as np

from vrbench.degrade.libclock import library_call
from vrbench.errors import InputError


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8 with rounding; clipped first so out-of-range values never wrap."""
    return np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)


@library_call
def jpeg_roundtrip(frame: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode one uint8 RGB (H, W, 3) frame at an integer quality in [1, 100]."""
    import cv2

    if int(quality) != quality or not 1 <= quality <= 100:
        raise InputError("JPEG quality must be an integer in [1, 100]", expected="1..100", found=quality)
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise InputError("libjpeg could not encode the frame", found=f"frame of shape {frame.shape}")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]


@functools.lru_cache(maxsize=1)
def jpeg_library() -> str:
    """The JPEG library OpenCV was built with, e.g. 'build-libjpeg-turbo (ver 3.1.2-70)'."""
    import cv2

    for line in cv2.getBuildInformation().splitlines():
        name, _, value = line.strip().partition(":")
        if name == "JPEG":
            return value.strip()
    return "unknown"
