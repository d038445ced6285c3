"""Cost profiling: per-run peaks (not lifetime maxima), child-process RAM, output fps, and the store columns."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from vrbench.methods.profiling import (
    measure,
    parse_nvidia_smi_apps,
    process_group_pids,
    record_output,
    run_profiled,
)
from vrbench.registry import METHODS
from vrbench.store import Store
from vrbench.video import Video


def test_child_peak_rss_is_measured_per_run(make_standin, lq_clip):
    method = make_standin(alloc_mb="300")
    _, big = run_profiled(method, lq_clip, scale=4, steps=None, seed=0)
    method = make_standin(alloc_mb="0")
    out, small = run_profiled(method, lq_clip, scale=4, steps=None, seed=0)
    assert big.peak_child_rss_mb >= 300 and big.method_rss_mb == big.peak_child_rss_mb
    # neither a lifetime high-water mark (RUSAGE_CHILDREN) nor this process's size leaks into the figure
    assert small.peak_child_rss_mb < 200 and small.peak_child_rss_mb < big.peak_child_rss_mb - 200
    assert small.frames == 6 and (small.out_height, small.out_width) == (96, 128) and small.device == "cpu"
    assert small.seconds > 0 and small.fps == small.frames / small.seconds
    assert small.seconds_per_frame == small.seconds / 6
    assert small.params is None and small.to_dict()["fps"] == small.fps


PEAK_CHILD = """
import time
import numpy as np
from vrbench.methods.profiling import current_rss_mb, measure

base = current_rss_mb()
with measure(None, "cpu") as cost:
    block = np.ones((160, 2**20 // 8), np.float64)  # 160 MiB, touched
    time.sleep(0.1)
    del block
with measure(None, "cpu") as quiet:
    time.sleep(0.05)
print(base, cost.peak_rss_mb, quiet.peak_rss_mb)
"""


def test_in_process_peak_is_this_runs_peak():
    # in a fresh interpreter: the sampler thread's view of RSS must not depend on what earlier tests left in this
    # process (threads of other libraries busy on both cores, memory the allocator keeps for reuse)
    done = subprocess.run([sys.executable, "-c", PEAK_CHILD], capture_output=True, text=True, timeout=120, check=True)
    base, peak, quiet = map(float, done.stdout.split())
    assert peak >= base + 140
    assert quiet < peak - 100  # not the lifetime maximum of the process


def test_cost_fields_are_recorded_in_the_store(tmp_path, lq_clip):
    method = METHODS.create("bicubic")
    out, cost = run_profiled(method, lq_clip, device="cpu", scale=4, steps=None, seed=0)
    assert out.num_frames == 6 and cost.frames == 6
    key = {"run": "r", "dataset": "d", "clip": "bunny", "method": "bicubic", "config_hash": "abc", "steps": -1,
           "seed": 0}
    with Store(tmp_path / "s.sqlite") as store:
        store.put_method_run(key, **cost.store_fields(), config=method.config(), output="")
        row = store.method_runs_frame("r").iloc[0]
    assert row.seconds == cost.seconds and row.frames == 6 and (row.out_height, row.out_width) == (96, 128)
    # the method's own peak: above what the process held before the restore
    assert row.peak_rss_mb == cost.method_rss_mb == max(cost.peak_rss_mb - cost.base_rss_mb, 0.0)
    assert row.device == "cpu" and pd.isna(row.peak_gpu_mb)


def test_record_output_and_params_from_the_card():
    class Adapter:
        card = type("Card", (), {"params": 1234})()
        last_cost = {"peak_child_rss_mb": 50.0, "peak_gpu_mb": 1000.0, "device": "cuda (test)"}

    adapter = Adapter()
    with measure(adapter) as cost:
        adapter.last_cost = {"peak_child_rss_mb": 50.0, "peak_gpu_mb": 1000.0, "device": "cuda (test)"}
    record_output(cost, Video.from_array(np.zeros((3, 8, 8, 3), np.uint8)))
    assert (cost.params, cost.peak_gpu_mb, cost.device, cost.method_rss_mb) == (1234, 1000.0, "cuda (test)", 50.0)
    assert cost.store_fields()["peak_rss_mb"] == 50.0 and cost.frames == 3


def test_nvidia_smi_parsing_and_process_groups():
    text = "12345, 20480\n12346, 512\n[N/A], 3\n12345, 100\n99, [N/A]\n"
    assert parse_nvidia_smi_apps(text) == {12345: 20580.0, 12346: 512.0}
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"], start_new_session=True)
    try:
        assert process_group_pids(child.pid) == [child.pid]
    finally:
        child.kill()
        child.wait()
