"""The library clock counts time inside the shared library calls, once per outermost call."""

from __future__ import annotations

import time

import numpy as np

from vrbench.degrade.jpeg import jpeg_roundtrip
from vrbench.degrade.libclock import library_call, library_seconds


def test_counts_the_wall_time_of_decorated_calls_once():
    @library_call
    def inner():
        time.sleep(0.02)

    @library_call
    def outer():
        inner()
        time.sleep(0.02)

    start = library_seconds()
    outer()
    counted = library_seconds() - start
    assert 0.04 <= counted < 0.07  # 40 ms once, not 60 ms (inner counted inside outer)


def test_shared_calls_are_counted():
    start = library_seconds()
    jpeg_roundtrip(np.zeros((64, 64, 3), np.uint8), 50)
    assert library_seconds() > start
