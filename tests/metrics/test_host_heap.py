"""Freed host memory kept in the process while the engine scores (glibc's malloc): where large blocks come from,
that the last holder restores glibc's behaviour, and that the engine and the local executor hold it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vrbench.metrics import host_heap
from vrbench.metrics.base import MetricCard, StreamMetric
from vrbench.metrics.engine import evaluate_clip
from vrbench.video import open_video, write_frames

pytestmark = pytest.mark.skipif(host_heap.glibc() is None, reason="glibc's malloc only (CI runs on Debian)")

BLOCK = 64 * 1024 * 1024  # over glibc's largest mmap threshold (32 MiB): always mmapped unless held


def _mmapped_by(fn) -> int:
    """Bytes held in mmapped blocks that `fn`'s allocation added (its result is kept alive while measuring)."""
    before = host_heap.mallinfo().hblkhd
    kept = fn()
    grown = host_heap.mallinfo().hblkhd - before
    del kept
    return grown


def _block() -> np.ndarray:
    return np.ones(BLOCK, dtype=np.uint8)


def _beyond_free() -> np.ndarray:
    """A block larger than all the free memory the heap holds now (earlier tests may have left some): glibc can
    only serve it from the heap's top or a fresh mmap. Never touched."""
    return np.empty(host_heap.mallinfo().fordblks + BLOCK, dtype=np.uint8)


def _rss() -> int:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def test_held_heap_serves_large_blocks_from_the_heap_keeps_them_and_the_last_release_restores():
    assert not host_heap.held()
    with host_heap.retained_heap():
        assert host_heap.held()
        assert _mmapped_by(_block) == 0
        assert _mmapped_by(_beyond_free) == 0
        assert host_heap.mallinfo().fordblks >= BLOCK  # the freed blocks stayed in the process
        with host_heap.retained_heap():  # nested: the inner release restores nothing
            pass
        assert host_heap.held()
        assert _mmapped_by(_beyond_free) == 0
    assert not host_heap.held()
    assert _mmapped_by(_beyond_free) >= BLOCK  # glibc's mmap again


def test_the_last_release_hands_large_free_memory_back_to_the_kernel():
    big = host_heap.KEEP_ON_RELEASE + BLOCK
    with host_heap.retained_heap():
        block = np.ones(big, dtype=np.uint8)
        assert host_heap.mallinfo().hblkhd < big  # from the heap
        del block
        kept = _rss()
    assert _rss() < kept - big // 2


def test_a_release_without_a_hold_does_not_go_negative():
    host_heap.release()
    assert not host_heap.held()
    with host_heap.retained_heap():
        assert host_heap.held()
    assert not host_heap.held()


CARD = MetricCard(name="heap-probe", summary="allocates a large block per chunk", kind="video",
                  higher_is_better=True, level="clip", needs_gt=True)


class _HeapProbe(StreamMetric):
    card = CARD

    def start(self, num_frames):
        return []

    def update(self, state, out, gt, index, **kwargs):
        state.append((host_heap.held(), _mmapped_by(_block)))

    def finish(self, state):
        return float(len(state)), state


def test_the_engine_holds_the_heap_while_it_scores_a_clip(tmp_path, bbb_frames):
    write_frames(bbb_frames[:4], tmp_path / "gt")
    write_frames(bbb_frames[:4], tmp_path / "out")
    scores = evaluate_clip({"out": open_video(tmp_path / "out")}, open_video(tmp_path / "gt"),
                           {"probe": _HeapProbe()}, "cpu", chunk=2)
    assert scores.values["out"]["probe"][1] == [(True, 0), (True, 0)]
    assert not host_heap.held()


def test_the_local_executor_holds_the_heap_from_clip_to_clip(tmp_path):
    from vrbench.config import RunConfig
    from vrbench.run.executors import LocalExecutor

    with LocalExecutor(RunConfig.model_construct(), tmp_path) as ex:
        assert host_heap.held()
        assert list(ex.map([])) == []
    assert not host_heap.held()
