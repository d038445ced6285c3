"""End to end: the demo config through restore -> evaluate -> store -> report, resume, and bad inputs."""

from __future__ import annotations

import functools
import json
import shutil

import numpy as np
import pytest

from vrbench.config import parse_config
from vrbench.report.html import write_report
from vrbench.run import run_benchmark
from vrbench.store import Store
from vrbench.video import open_video, write_frames

FR = ["psnr-rgb", "psnr-y", "ssim-y", "ssim-rgb"]


def config(name, methods=("bicubic", "nearest"), metrics=(*FR, "lpips-alex", "niqe"), datasets=None):
    return parse_config({"name": name, "datasets": datasets or [{"name": "demo", "clips": ["carphone", "bbb-bunny"]}],
                         "methods": list(methods), "metrics": list(metrics)})


def test_demo_run_scores_stores_and_resumes(tmp_path, demo_root):
    db, outputs = tmp_path / "r.sqlite", tmp_path / "out"
    first = run_benchmark(config("t1"), db, outputs)
    assert first.failed == []
    assert first.computed == 2 * 2 * 4 and first.cached == 0
    assert set(first.unavailable) == {"lpips-alex", "niqe"}
    again = run_benchmark(config("t1"), db, outputs)
    assert again.computed == 0 and again.cached == 16
    with Store(db) as store:
        df = store.results_frame("t1")
        assert len(df) == 16
        row = df[(df["clip"] == "carphone") & (df["method"] == "bicubic") & (df["metric"] == "psnr-rgb")].iloc[0]
        assert len(row.per_frame) == 32 and row.value == pytest.approx(np.mean(row.per_frame))
        # the interpolation lower bound really is worse than bicubic
        sel = (df["clip"] == "carphone") & (df["method"] == "nearest") & (df["metric"] == "psnr-rgb")
        nearest = df[sel].value.iloc[0]
        assert nearest < row.value


def test_interrupted_run_recomputes_only_what_is_missing(tmp_path, demo_root):
    db, outputs = tmp_path / "r.sqlite", tmp_path / "out"
    run_benchmark(config("t2", metrics=FR), db, outputs)
    with Store(db) as store:  # simulate a run killed before these rows were committed
        store.db.execute("DELETE FROM results WHERE run='t2' AND clip='bbb-bunny' AND metric IN ('ssim-y','psnr-y')")
    resumed = run_benchmark(config("t2", metrics=FR), db, outputs)
    assert (resumed.computed, resumed.cached) == (4, 12), "only the 2 metrics x 2 methods that were lost"
    with Store(db) as store:
        store.db.execute("DELETE FROM results")
    shutil.rmtree(outputs)
    fresh = run_benchmark(config("t2", metrics=FR), db, outputs)
    assert fresh.computed == 16


def test_cached_values_are_shared_across_runs(tmp_path, demo_root):
    db, outputs = tmp_path / "r.sqlite", tmp_path / "out"
    run_benchmark(config("a", metrics=FR), db, outputs)
    other = run_benchmark(config("b", metrics=FR), db, outputs)
    assert other.computed == 0 and other.cached == 16


def test_report_lists_unavailable_metrics_with_file_and_place(tmp_path, demo_root):
    db, outputs = tmp_path / "r.sqlite", tmp_path / "out"
    run_benchmark(config("t3"), db, outputs)
    with Store(db) as store:
        index = write_report(store, "t3", tmp_path / "report")
    html = index.read_text()
    assert "LPIPS_v0.1_alex-df73285e.pth" in html and "hub/pyiqa/LPIPS_v0.1_alex-df73285e.pth" in html
    assert "psnr-rgb ↑" in html and 'class="best"' in html and "data:image/png;base64," in html
    weights_hosts = ("https://huggingface.co", "https://download.pytorch.org", "https://github.com/XPixelGroup/BasicSR")
    assert "http://" not in html and "https://" not in functools.reduce(lambda t, h: t.replace(h, ""), weights_hosts,
                                                                          html)
    rows = json.loads((tmp_path / "report" / "results.json").read_text())["results"]
    assert len(rows) == 16 and len(rows[0]["per_frame"]) in (24, 32)
    assert (tmp_path / "report" / "results.csv").read_text().count("\n") == 17


def _outputs_from_gt(demo_root, target, mutate=None):
    for name in ("carphone", "bbb-bunny"):
        frames = open_video(demo_root / "GT" / name).read()
        write_frames(mutate(name, frames) if mutate else frames, target / name)


def test_evaluate_precomputed_outputs_gt_oracle_is_perfect(tmp_path, demo_root):
    _outputs_from_gt(demo_root, tmp_path / "res")
    cfg = parse_config({"name": "oracle", "datasets": [{"name": "demo", "clips": ["carphone", "bbb-bunny"]}],
                        "methods": [{"name": "folder", "label": "GT copy", "options": {"root": str(tmp_path / "res")}}],
                        "metrics": ["psnr-rgb", "ssim-y"]})
    summary = run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out")
    assert summary.failed == []
    with Store(tmp_path / "r.sqlite") as store:
        df = store.results_frame("oracle")
    assert np.all(np.isinf(df[df["metric"] == "psnr-rgb"].value))
    np.testing.assert_allclose(df[df["metric"] == "ssim-y"].value, 1.0)


def test_wrong_frame_count_and_size_are_reported_per_clip(tmp_path, demo_root):
    def mutate(name, frames):
        return frames[:-1] if name == "carphone" else frames[:, :200]

    _outputs_from_gt(demo_root, tmp_path / "res", mutate)
    cfg = parse_config({"name": "bad", "datasets": [{"name": "demo", "clips": ["carphone", "bbb-bunny"]}],
                        "methods": [{"name": "folder", "label": "broken", "options": {"root": str(tmp_path / "res")}}],
                        "metrics": ["psnr-rgb"]})
    summary = run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out")
    errors = {f["clip"]: f["error"] for f in summary.failed}
    assert "wrong number of output frames (clip 'carphone' of demo" in errors["carphone"]
    assert "expected 32 frames, found 31 frames" in errors["carphone"]
    assert str(tmp_path / "res" / "carphone") in errors["carphone"]
    assert "wrong output size (clip 'bbb-bunny'" in errors["bbb-bunny"]
    assert "expected 256x256 (x4 of the LQ), found 256x200" in errors["bbb-bunny"]


def test_missing_dataset_and_unreadable_output_do_not_stop_the_run(tmp_path, demo_root):
    (tmp_path / "res" / "carphone").mkdir(parents=True)
    (tmp_path / "res" / "carphone" / "00000000.png").write_bytes(b"\x89PNG garbage")
    cfg = parse_config({
        "name": "mixed",
        "datasets": [{"name": "folder", "root": str(tmp_path / "nowhere")},
                     {"name": "demo", "clips": ["carphone", "bbb-bunny"]}],
        "methods": ["bicubic", {"name": "folder", "label": "junk", "options": {"root": str(tmp_path / "res")}}],
        "metrics": ["psnr-rgb"]})
    summary = run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out")
    by = {(f["dataset"], f["clip"], f["method"]): f["error"] for f in summary.failed}
    assert "dataset not found" in by[("folder", "*", "*")] and "nowhere" in by[("folder", "*", "*")]
    assert "cannot decode image" in by[("demo", "carphone", "junk")]
    assert "no output for this clip" in by[("demo", "bbb-bunny", "junk")]
    assert summary.computed == 2  # bicubic still scored both clips
