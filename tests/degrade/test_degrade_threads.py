"""The library clock counts time inside the shared library calls, once per outermost call; the frame threads."""

from __future__ import annotations

import numpy as np
import pytest

from vrbench.degrade.jpeg import jpeg_roundtrip
from vrbench.degrade.libclock import library_call, library_seconds


def test_counts_the_time_of_nested_decorated_calls_once_by_the_outermost():
    now = [0.0]  # a clock the test advances by hand: the count is exact, whatever the machine's load

    @library_call(clock=lambda: now[0])
    def inner():
        now[0] += 2.0

    @library_call(clock=lambda: now[0])
    def outer(fail=False):
        inner()
        now[0] += 3.0
        if fail:
            raise ValueError("inside a library call")

    start = library_seconds()
    outer()
    assert library_seconds() - start == pytest.approx(5.0)  # not 7: inner is not counted again inside outer
    inner()
    assert library_seconds() - start == pytest.approx(7.0)  # called on its own, inner counts
    with pytest.raises(ValueError, match="inside a library call"):
        outer(fail=True)
    assert library_seconds() - start == pytest.approx(12.0)  # a call that raises is counted
    inner()
    assert library_seconds() - start == pytest.approx(14.0)  # and leaves no call marked as running


def test_shared_calls_are_counted():
    start = library_seconds()
    jpeg_roundtrip(np.zeros((64, 64, 3), np.uint8), 50)
    assert library_seconds() > start


def _double_in_child(queue) -> None:
    from vrbench.degrade.ops_torch import frame_map

    queue.put(frame_map(lambda i: 2 * i, range(4)))


def test_frame_threads_work_in_a_forked_child():
    """A forked child inherits the thread pool object but none of its threads; it must make its own, not hang."""
    import multiprocessing

    import torch

    from vrbench.degrade.ops_torch import frame_map

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert frame_map(lambda i: i + 1, range(4)) == [1, 2, 3, 4]  # the parent's pool exists now
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_double_in_child, args=(queue,))
        child.start()
        child.join(timeout=30)
        hung = child.is_alive()
        if hung:
            child.kill()
        assert not hung and queue.get(timeout=5) == [0, 2, 4, 6]
    finally:
        torch.set_num_threads(before)
