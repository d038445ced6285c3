"""The stand-in command card through the benchmark harness: outputs cached, re-run after a config change, cost
recorded; and the cache policy each card implies."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vrbench.config import parse_config
from vrbench.methods.base import MethodCard, cache_policy
from vrbench.methods.catalog import load_card_file
from vrbench.registry import METHODS
from vrbench.run import run_benchmark
from vrbench.store import Store
from vrbench.video import write_frames


@pytest.fixture
def tiny_dataset(tmp_path, bbb_frames):
    gt = bbb_frames[:6]
    lq = np.stack([cv2.resize(f, (32, 24), interpolation=cv2.INTER_AREA) for f in gt])
    write_frames(gt, tmp_path / "data" / "GT" / "bunny")
    write_frames(lq, tmp_path / "data" / "LQ" / "bunny")
    return tmp_path / "data"


STANDIN_CARD = Path(__file__).resolve().parents[2] / "method_adapters" / "examples" / "standin-x4.yaml"


def _config(name, root, runs, metrics=("psnr-rgb",), **options):
    load_card_file(METHODS, STANDIN_CARD)  # the example card is not in the shipped catalog
    return parse_config({"name": name, "datasets": [{"name": "folder", "root": str(root)}],
                         "methods": [{"name": "standin-x4", "options": {"python": sys.executable,
                                                                       "work_root": str(runs), **options}}],
                         "metrics": list(metrics)})


def test_command_outputs_are_cached_and_rerun_after_a_config_change(tmp_path, tiny_dataset):
    runs, db, outputs = tmp_path / "runs", tmp_path / "r.sqlite", tmp_path / "outputs"

    def command_runs() -> int:
        """Times the command ran: each run leaves one cached output (its own run folder is released)."""
        leftover = list((runs / "standin-x4").iterdir()) if (runs / "standin-x4").is_dir() else []
        assert leftover == [], "run folders are removed once their frames are cached"
        return len(list(outputs.rglob("done.json")))

    first = run_benchmark(_config("a", tiny_dataset, runs), db, outputs)
    assert first.failed == [] and first.computed == 1 and command_runs() == 1
    # a new metric on a new run: the cached output is scored, the command does not run again
    second = run_benchmark(_config("b", tiny_dataset, runs, ("psnr-rgb", "ssim-y")), db, outputs)
    assert second.failed == [] and second.computed == 1 and second.cached == 1 and command_runs() == 1
    # another configuration of the card (a variable changed): a new output, so the command runs again
    third = run_benchmark(_config("c", tiny_dataset, runs, tag="other"), db, outputs)
    assert third.failed == [] and third.computed == 1 and command_runs() == 2
    with Store(db) as store:
        cost = store.method_runs_frame("a").iloc[0]
        psnr = store.results_frame("a").iloc[0].value
    assert cost.seconds > 0 and cost.frames == 6 and (cost.out_height, cost.out_width) == (96, 128)
    assert cost.peak_rss_mb > 0 and cost.device
    assert 20 < psnr < 40  # a real upsampling of real frames, not garbage and not the GT


def test_a_failing_command_is_recorded_and_the_run_goes_on(tmp_path, tiny_dataset):
    summary = run_benchmark(_config("f", tiny_dataset, tmp_path / "runs", mode="wrong-size"), tmp_path / "r.sqlite",
                            tmp_path / "outputs")
    assert len(summary.failed) == 1 and summary.failed[0]["clip"] == "bunny"
    assert "wrong output size (clip 'bunny'" in summary.failed[0]["error"]


def test_cache_policy_follows_the_card():
    assert cache_policy(METHODS.card("bicubic")) == "reuse"
    assert cache_policy(METHODS.card("folder")) == "none" and cache_policy(METHODS.card("gt-oracle")) == "none"
    assert cache_policy(METHODS.card("seedvr2-3b")) == "reuse"  # takes our seed
    assert cache_policy(METHODS.card("star")) == "reuse"  # fixed internal seed: repeatable
    unseeded = MethodCard(name="x", summary="x", kind="generative", deterministic=False, seeded=False)
    assert cache_policy(unseeded) == "fresh"
    assert cache_policy(MethodCard(name="y", summary="y", kind="generative", deterministic=False, seeded=True)) \
        == "reuse"
