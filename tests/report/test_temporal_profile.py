"""Temporal profiles: x-t slices of a synthetic moving pattern, automatic row choice, zoom."""

from __future__ import annotations

import numpy as np
import pytest

from vrbench.errors import InputError
from vrbench.report.temporal_profile import (
    auto_line,
    auto_zoom,
    lq_profile,
    parse_zoom,
    profile_panels,
    resolve_line,
    temporal_profile,
)
from vrbench.video import Video


@pytest.fixture(scope="module")
def moving() -> Video:
    """20 frames of 48x64: a random texture moves 1 px per frame to the right in rows 20..29; the rest is still."""
    rng = np.random.default_rng(0)
    still = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    band = rng.integers(0, 255, (10, 128, 3), dtype=np.uint8)
    frames = np.repeat(still[None], 20, axis=0)
    for t in range(20):
        frames[t, 20:30] = band[:, 40 - t : 104 - t]
    return Video.from_array(frames, fps=10, name="moving")


def test_profile_is_the_line_of_every_frame_in_time_order(moving):
    p = temporal_profile(moving, 25, "row")
    frames = moving.read()
    assert p.shape == (20, 64, 3) and np.array_equal(p, frames[:, 25])
    assert np.array_equal(p[1, 1:], p[0, :-1])  # a pattern moving right draws diagonal streaks
    c = temporal_profile(moving, 7, "column")
    assert c.shape == (20, 48, 3) and np.array_equal(c, frames[:, :, 7])
    with pytest.raises(InputError, match="row out of range"):
        temporal_profile(moving, 48)
    with pytest.raises(InputError, match="unknown profile axis"):
        temporal_profile(moving, 1, "diagonal")


def test_auto_line_picks_the_moving_rows(moving):
    assert 20 <= auto_line(moving, "row") <= 29
    assert resolve_line(None, 48, moving) == auto_line(moving)
    assert resolve_line("0.5", 48) == 24 and resolve_line("12", 48) == 12 and resolve_line("1", 48) == 1
    for bad in ("48", "x", "-3"):
        with pytest.raises(InputError):
            resolve_line(bad, 48)


def test_lq_profile_uses_the_line_under_the_output_line(moving):
    small = Video.from_array(moving.read()[:, ::4, ::4], fps=10, name="lq")
    p = lq_profile(small, 25, "row", 4, 64)  # output row 25 -> LQ row (25 + 0.5) / 4 = 6
    assert p.shape == (20, 64, 3) and np.array_equal(p[:, ::4], small.read()[:, 6])
    panels = profile_panels(moving, small, {"copy": moving}, 25, "row", 4)
    assert list(panels) == ["GT", "Input", "copy"] and all(v.shape == (20, 64, 3) for v in panels.values())


def test_zoom_choice(moving):
    p = temporal_profile(moving, 25)
    start, stop = auto_zoom(p)
    assert stop - start == 16
    assert parse_zoom("auto", 64) == "auto" and parse_zoom(None, 64) is None and parse_zoom("none", 64) is None
    assert parse_zoom("8:24", 64) == (8, 24) and parse_zoom("0.25:0.5", 64) == (16, 32)
    with pytest.raises(InputError, match="zoom out of range"):
        parse_zoom("30:20", 64)
