"""Fixtures for the method adapter tests: the stand-in command card and small real clips."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from vrbench.methods.catalog import command_factory
from vrbench.methods.command_spec import CommandCard
from vrbench.video import Video

EXAMPLES = Path(__file__).resolve().parents[2] / "method_adapters" / "examples"
STANDIN_CARD = EXAMPLES / "standin-x4.yaml"


def _standin_data(**command_overrides) -> dict:
    data = yaml.safe_load(STANDIN_CARD.read_text())
    data["command"].update(command_overrides)
    return data


@pytest.fixture
def standin_data():
    """`standin_data(**command_overrides)`: the stand-in card as a dict, with `command` keys replaced."""
    return _standin_data


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture
def standin_card() -> Path:
    return STANDIN_CARD


@pytest.fixture
def make_standin(tmp_path):
    """Build a stand-in `CommandMethod` (optionally from a modified card) that runs with this Python."""

    def make(data: dict | None = None, **options):
        spec = CommandCard.model_validate(data or _standin_data())
        factory = command_factory(spec, spec.method_card(), STANDIN_CARD)
        return factory(python=sys.executable, work_root=str(tmp_path / "runs"), **options)

    return make


@pytest.fixture
def lq_clip(bbb_frames) -> Video:
    """6 real Big Buck Bunny frames, 24x32, as an in-memory LQ clip (x4 output: 96x128)."""
    import cv2

    small = np.stack([cv2.resize(f, (32, 24), interpolation=cv2.INTER_AREA) for f in bbb_frames[:6]])
    return Video.from_array(small, fps=24.0, name="bunny")
