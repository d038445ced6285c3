"""An example method adapter file: drop a file like this into `method_adapters/` (or a folder named in
`VRBENCH_METHOD_ADAPTERS`) and its methods appear in `vrbench methods list`.

The adapter implements the protocol `restore(lq, *, scale, steps, seed, device) -> Video` and `config() -> dict`, and
registers a card that says what it can do. This one is a toy: bicubic upsampling followed by `steps` unsharp-mask
passes, so it also shows a method with a step count. It is deterministic and ignores the seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vrbench.methods.base import MethodCard
from vrbench.registry import METHODS
from vrbench.video import Video


class SharpenedBicubic:
    def __init__(self, card: MethodCard, amount: float) -> None:
        self.card, self.amount = card, amount

    def config(self) -> dict[str, Any]:
        # everything that changes the output goes here: it is part of the cache key
        return {"amount": self.amount, "impl": "cv2.resize+GaussianBlur"}

    def restore(self, lq: Video, *, scale: int, steps: int | None = None, seed: int = 0,
                device=None) -> Video:
        import cv2

        steps = self.card.default_steps if steps is None else steps
        out = []
        for chunk in lq.iter_chunks():  # stream the clip; never hold a long clip whole
            for frame in chunk:
                up = cv2.resize(frame, (lq.width * scale, lq.height * scale), interpolation=cv2.INTER_CUBIC)
                x = up.astype(np.float32)
                for _ in range(steps):
                    x = x + self.amount * (x - cv2.GaussianBlur(x, (0, 0), 1.0))
                out.append(np.clip(np.rint(x), 0, 255).astype(np.uint8))
        return Video.from_array(np.stack(out), fps=lq.fps, name=lq.name)


@METHODS.register(MethodCard(name="example-sharpened-bicubic",
                             summary="Example adapter: bicubic + unsharp mask per step", kind="baseline",
                             supports_steps=True, default_steps=1, scale=None, deterministic=True,
                             license="Apache-2.0", notes="options: amount=0.5"))
def example_sharpened_bicubic(amount: float = 0.5) -> SharpenedBicubic:
    return SharpenedBicubic(METHODS.card("example-sharpened-bicubic"), float(amount))
