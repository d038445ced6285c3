"""Interpolation baselines: nearest (the lower bound), bicubic and Lanczos upsampling with OpenCV.

OpenCV's conventions are recorded on the cards because they change PSNR by tenths of a dB against PIL or
MATLAB resizers: half-pixel centres, Keys cubic with a = -0.75, Lanczos over an 8x8 neighbourhood.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vrbench.methods.base import MethodCard
from vrbench.registry import METHODS
from vrbench.video import Video


class InterpolationMethod:
    """Upsample every frame independently with one OpenCV interpolation mode."""

    def __init__(self, card: MethodCard, mode: str) -> None:
        self.card, self.mode = card, mode

    def config(self) -> dict[str, Any]:
        return {"mode": self.mode, "impl": "cv2.resize"}

    def restore(self, lq: Video, *, scale: int, steps: int | None = None, seed: int = 0,
                device: Any = None) -> Video:
        import cv2

        flag = {"nearest": cv2.INTER_NEAREST, "bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}[self.mode]
        size = (lq.width * scale, lq.height * scale)

        def chunks(n: int):
            for chunk in lq.iter_chunks(n):
                yield np.stack([cv2.resize(f, size, interpolation=flag) for f in chunk])

        # streamed: frames are upsampled as the harness reads them, so a long clip never sits whole in memory
        return Video.from_chunks(chunks, lq.num_frames, size[1], size[0], lq.fps, lq.name)


def _interp_card(name: str, summary: str) -> MethodCard:
    return MethodCard(name=name, summary=summary, kind="baseline", scale=None, license="Apache-2.0 (OpenCV)",
                      notes="cv2.resize, half-pixel centres; frames upsampled independently")


@METHODS.register(_interp_card("nearest", "Nearest-neighbour upsampling (lower bound)"))
def nearest() -> InterpolationMethod:
    return InterpolationMethod(METHODS.card("nearest"), "nearest")


@METHODS.register(_interp_card("bicubic", "Bicubic upsampling (cv2.INTER_CUBIC, Keys a=-0.75)"))
def bicubic() -> InterpolationMethod:
    return InterpolationMethod(METHODS.card("bicubic"), "bicubic")


@METHODS.register(_interp_card("lanczos", "Lanczos upsampling (cv2.INTER_LANCZOS4, 8x8 window)"))
def lanczos() -> InterpolationMethod:
    return InterpolationMethod(METHODS.card("lanczos"), "lanczos")
