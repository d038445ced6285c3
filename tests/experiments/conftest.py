"""A small method with a real step count for the sweep tests: iterative back-projection (Irani & Peleg 1991).

Each step is one back-projection iteration, so fidelity to the x4 area-downsampled demo LQ really changes with
the step count; `noise` adds seeded Gaussian noise so that seeds give a spread, as for a stochastic restorer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vrbench.methods.base import MethodCard
from vrbench.registry import METHODS
from vrbench.video import Video

IBP = "test-ibp"


class BackProjection:
    card = MethodCard(name=IBP, summary="iterative back-projection, one iteration per step", kind="baseline",
                      supports_steps=True, default_steps=2, scale=None, deterministic=False)

    def __init__(self, noise: float = 0.0) -> None:
        self.noise = float(noise)

    def config(self) -> dict[str, Any]:
        return {"noise": self.noise, "impl": "tests/experiments/conftest.py"}

    def restore(self, lq: Video, *, scale: int, steps: int | None, seed: int, device=None) -> Video:
        import cv2

        low = lq.read().astype(np.float32)
        size, small = (lq.width * scale, lq.height * scale), (lq.width, lq.height)
        x = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in low])
        for _ in range(steps or 1):
            residual = low - np.stack([cv2.resize(f, small, interpolation=cv2.INTER_AREA) for f in x])
            x += np.stack([cv2.resize(r, size, interpolation=cv2.INTER_LINEAR) for r in residual])
        if self.noise:
            x += np.random.default_rng(seed).normal(0.0, self.noise, x.shape).astype(np.float32)
        return Video.from_array(np.clip(np.rint(x), 0, 255).astype(np.uint8), fps=lq.fps, name=lq.name)


def _factory(noise: float = 0.0) -> BackProjection:
    return BackProjection(noise)


@pytest.fixture(scope="session")
def ibp_method() -> str:
    if IBP not in METHODS:
        METHODS.add(BackProjection.card, _factory, origin="tests")
    return IBP


@pytest.fixture(scope="session")
def baselines_run(tmp_path_factory, demo_root) -> tuple[Path, Path, str]:
    """(store, outputs, run) of nearest, bicubic and lanczos on the demo clip bikes-railing, scored with psnr-y."""
    from vrbench.config import parse_config
    from vrbench.run import run_benchmark

    work = tmp_path_factory.mktemp("baselines")
    cfg = parse_config({"name": "baselines", "datasets": [{"name": "demo", "clips": ["bikes-railing"]}],
                        "methods": ["nearest", "bicubic", "lanczos"], "metrics": ["psnr-y"]})
    summary = run_benchmark(cfg, work / "r.sqlite", work / "outputs")
    assert summary.failed == [] and summary.computed == 3
    return work / "r.sqlite", work / "outputs", cfg.name
