"""Sanity methods: `gt-oracle` returns the ground truth, so every full-reference metric must hit its best value.

It checks the metric conventions end to end (PSNR = +inf, SSIM = 1, LPIPS = 0 on identical frames) through the
same harness path as a real method. The harness passes the GT because the card says `needs_gt=True`.
"""

from __future__ import annotations

from typing import Any

from vrbench.errors import InputError
from vrbench.methods.base import MethodCard
from vrbench.registry import METHODS
from vrbench.video import Video


class GtOracle:
    """Returns the clip's ground truth unchanged."""

    def __init__(self, card: MethodCard) -> None:
        self.card = card

    def config(self) -> dict[str, Any]:
        return {"returns": "gt"}

    def restore(self, lq: Video, *, scale: int, steps: int | None = None, seed: int = 0, device: Any = None,
                gt: Video | None = None) -> Video:
        if gt is None:
            raise InputError("gt-oracle needs the ground truth", clip=lq.name, expected="a clip with GT",
                             found="no GT (an LQ-only clip, or a harness that does not pass gt=)")
        return gt


@METHODS.register(MethodCard(name="gt-oracle", summary="Returns the GT: full-reference metrics must be perfect",
                             kind="sanity", scale=None, needs_gt=True, license="Apache-2.0",
                             notes="sanity check of metric conventions; never ranked"))
def gt_oracle() -> GtOracle:
    return GtOracle(METHODS.card("gt-oracle"))
