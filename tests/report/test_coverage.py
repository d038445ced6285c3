"""Leaderboards that never lie: partial coverage is shown and never ranked, metrics that do not apply say so,
warnings reach every output, one method's bad output fails only that method, and published outputs a few pixels off
are scored under a named, recorded geometry policy."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import textwrap

import cv2
import numpy as np

from vrbench.config import parse_config
from vrbench.report.html import write_report
from vrbench.run import run_benchmark
from vrbench.store import Store
from vrbench.video import open_video, write_frames

CLIPS = ["carphone", "bbb-bunny", "bikes-railing"]


def _gt_copies(demo_root, target, clips):
    for name in clips:
        write_frames(open_video(demo_root / "GT" / name).read(), target / name)


def _report(db, run, out):
    with Store(db) as store:
        return write_report(store, run, out, media=False).read_text()


def _row(html: str, method: str) -> str:
    return next(r for r in re.findall(r"<tr>.*?</tr>", html, flags=re.S) if f'class="method">{method}' in r)


def test_a_method_missing_a_clip_is_shown_with_its_coverage_and_never_marked_best(tmp_path, demo_root):
    _gt_copies(demo_root, tmp_path / "mine", CLIPS[:2])  # GT copies: infinite PSNR, on 2 of the 3 clips
    cfg = parse_config({"name": "cov", "datasets": [{"name": "demo", "clips": CLIPS}],
                        "methods": ["bicubic", "nearest", {"name": "folder", "label": "MyMethod",
                                                           "options": {"root": str(tmp_path / "mine")}}],
                        "metrics": ["psnr-rgb", "ssim-y"]})
    summary = run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out")
    assert [f["clip"] for f in summary.failed] == ["bikes-railing"] and not summary.ok
    html = _report(tmp_path / "r.sqlite", "cov", tmp_path / "rep")
    mine = _row(html, "MyMethod")
    assert "2/3 clips" in mine and 'class="best"' not in mine and 'class="second"' not in mine
    assert 'class="best"' in _row(html, "bicubic")  # ranked among the methods with every clip
    assert "shown but not ranked: MyMethod (2/3 clips)" in html
    assert "Failures affecting this table" in html and "bikes-railing / MyMethod" in html
    md = (tmp_path / "rep" / "leaderboard.md").read_text()
    line = next(ln for ln in md.splitlines() if ln.startswith("| MyMethod"))
    assert "(2/3 clips)" in line and "**" not in line and "<u>" not in line and "(2/3)" in line
    assert "shown, not ranked or marked: MyMethod" in md
    tex = (tmp_path / "rep" / "leaderboard.tex").read_text()
    row = next(ln for ln in tex.splitlines() if ln.startswith("MyMethod"))
    assert r"\textbf" not in row and r"\underline" not in row and "Coverage:" in tex
    rows = list(csv.DictReader((tmp_path / "rep" / "leaderboard.csv").open()))
    mine_rows = [r for r in rows if r["method"] == "MyMethod"]
    assert {(r["clips"], r["of_clips"], r["complete"], r["mark"]) for r in mine_rows} == {("2", "3", "False", "")}
    assert any(r["method"] == "bicubic" and r["mark"] == "best" for r in rows)
    board = json.loads((tmp_path / "rep" / "results.json").read_text())["leaderboards"]
    assert {r["complete"] for r in board if r["method"] == "MyMethod"} == {False}


def test_metrics_that_cannot_apply_say_so_in_the_summary_and_every_table(tmp_path, demo_root):
    cfg = tmp_path / "nogt.yaml"
    cfg.write_text(textwrap.dedent("""
        name: nogt
        datasets: [{name: demo, clips: [carphone-real]}]
        methods: [bicubic]
        metrics: [psnr-y, ewarp-dis]
    """))
    proc = subprocess.run([sys.executable, "-m", "vrbench.cli", "run", str(cfg), "--store", str(tmp_path / "r.sqlite"),
                           "--outputs", str(tmp_path / "out"), "--report-dir", str(tmp_path / "rep")],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "n/a demo: psnr-y on 1 clip(s) without GT (carphone-real)" in proc.stdout
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "n/a: no GT" in html and "n/a (no GT)" in html
    md = (tmp_path / "rep" / "leaderboard.md").read_text()
    assert "psnr-y" in md and "n/a (no GT)" in md
    rows = list(csv.DictReader((tmp_path / "rep" / "leaderboard.csv").open()))
    assert [(r["metric"], r["mark"]) for r in rows if r["mark"].startswith("n/a")] == [("psnr-y", "n/a (no GT)")]


def _lossy_mp4(frames: np.ndarray, file) -> None:
    from fractions import Fraction

    import av

    with av.open(str(file), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(24))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "18"}
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p")))
        container.mux(stream.encode())


def test_lossy_output_warnings_reach_the_summary_the_page_and_every_export(tmp_path, demo_root):
    (tmp_path / "mp4").mkdir()
    _lossy_mp4(open_video(demo_root / "GT" / "carphone").read(), tmp_path / "mp4" / "carphone.mp4")
    cfg = tmp_path / "lossy.yaml"
    cfg.write_text(textwrap.dedent(f"""
        name: lossy
        datasets: [{{name: demo, clips: [carphone]}}]
        methods: [{{name: folder, label: Mp4Method, options: {{root: {tmp_path / 'mp4'}}}}}]
        metrics: [psnr-rgb]
    """))
    proc = subprocess.run([sys.executable, "-m", "vrbench.cli", "run", str(cfg), "--store", str(tmp_path / "r.sqlite"),
                           "--report-dir", str(tmp_path / "rep")], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning demo/carphone Mp4Method: warning: lossy yuv420p output" in " ".join(proc.stdout.split())
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "⚠ warning: lossy yuv420p output" in _row(html, "Mp4Method")
    rows = list(csv.DictReader((tmp_path / "rep" / "results.csv").open()))
    assert rows and all("lossy yuv420p" in r["warnings"] for r in rows)
    assert "lossy yuv420p" in json.loads((tmp_path / "rep" / "results.json").read_text())["results"][0]["warnings"]
    assert "lossy yuv420p" in (tmp_path / "rep" / "leaderboard.md").read_text()
    assert "lossy yuv420p" in (tmp_path / "rep" / "leaderboard.tex").read_text()


def test_a_bad_output_fails_only_its_own_method_on_that_clip(tmp_path, demo_root):
    _gt_copies(demo_root, tmp_path / "mine", ["carphone"])
    (tmp_path / "mine" / "carphone" / sorted(p.name for p in (tmp_path / "mine" / "carphone").iterdir())[7]
     ).write_bytes(b"")  # one empty frame file
    cfg = parse_config({"name": "bad", "datasets": [{"name": "demo", "clips": ["carphone"]}],
                        "methods": ["bicubic", {"name": "folder", "label": "MyMethod",
                                                "options": {"root": str(tmp_path / "mine")}}],
                        "metrics": ["psnr-rgb"]})
    summary = run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out")
    assert [f["method"] for f in summary.failed] == ["MyMethod"]
    with Store(tmp_path / "r.sqlite") as store:
        assert set(store.results_frame("bad")["method"]) == {"bicubic"}


def test_published_outputs_a_few_pixels_off_are_resized_under_a_named_recorded_policy(tmp_path, demo_root):
    gt = open_video(demo_root / "GT" / "bbb-bunny").read()
    off = np.stack([cv2.resize(f, (gt.shape[2], gt.shape[1] - 16), interpolation=cv2.INTER_AREA) for f in gt])
    write_frames(off, tmp_path / "crop16" / "bbb-bunny")  # like SeedVR2's multiple-of-16 crop
    entry = {"name": "folder", "label": "Seedish", "options": {"root": str(tmp_path / "crop16")}}
    base = {"datasets": [{"name": "demo", "clips": ["bbb-bunny"]}], "metrics": ["psnr-rgb"]}
    strict = run_benchmark(parse_config({**base, "name": "strict", "methods": [entry]}), tmp_path / "r.sqlite")
    (fail,) = strict.failed
    assert "wrong output size" in fail["error"] and "x4 of the LQ" in fail["error"] and "256x240" in fail["error"]
    fitted = run_benchmark(parse_config({**base, "name": "fit", "methods": [{**entry, "geometry": "resize",
                                                                              "resize_filter": "bicubic"}]}),
                           tmp_path / "r.sqlite")
    assert fitted.failed == [] and fitted.computed == 1
    with Store(tmp_path / "r.sqlite") as store:
        (alignment,) = store.alignments("fit")
        value = store.results_frame("fit")["value"].iloc[0]
    assert alignment["policy"] == "resize" and "resized to the GT's 256x256 with bicubic" in alignment["warnings"][0]
    assert 20 < value < 60
    html = _report(tmp_path / "r.sqlite", "fit", tmp_path / "rep")
    assert "resized to the GT" in _row(html, "Seedish")


def test_on_a_set_without_gt_only_the_frame_count_of_an_output_is_checked(tmp_path, demo_root):
    lq = open_video(demo_root / "LQ" / "carphone-real").read()
    odd = np.stack([cv2.resize(f, (318, 180)) for f in lq])  # not x4 of the LQ
    write_frames(odd, tmp_path / "odd" / "carphone-real")
    cfg = parse_config({"name": "nr", "datasets": [{"name": "demo", "clips": ["carphone-real"]}],
                        "methods": [{"name": "folder", "label": "Odd", "options": {"root": str(tmp_path / "odd")}}],
                        "metrics": ["ewarp-dis"]})
    summary = run_benchmark(cfg, tmp_path / "r.sqlite")
    assert summary.failed == [] and summary.computed == 1


def test_a_unit_that_fails_now_never_keeps_its_earlier_numbers(tmp_path, demo_root):
    _gt_copies(demo_root, tmp_path / "mine", CLIPS)
    cfg = parse_config({"name": "again", "datasets": [{"name": "demo", "clips": CLIPS}],
                        "methods": ["bicubic", {"name": "folder", "label": "Mine",
                                                "options": {"root": str(tmp_path / "mine")}}],
                        "metrics": ["psnr-rgb"]})
    assert run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out").computed == 6
    frames = sorted((tmp_path / "mine" / "carphone").iterdir())
    frames[-1].unlink()  # Mine's carphone is now one frame short
    summary = run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out")
    assert [(f["clip"], f["method"]) for f in summary.failed] == [("carphone", "Mine")]
    with Store(tmp_path / "r.sqlite") as store:
        mine = store.results_frame("again").query("method == 'Mine'")
    assert sorted(mine["clip"]) == ["bbb-bunny", "bikes-railing"]  # the old carphone value is gone
    html = _report(tmp_path / "r.sqlite", "again", tmp_path / "rep")
    assert "2/3 clips" in _row(html, "Mine") and 'class="best"' not in _row(html, "Mine")


def test_a_method_without_any_value_keeps_its_row(tmp_path, demo_root):
    (tmp_path / "empty").mkdir()
    cfg = parse_config({"name": "ghost", "datasets": [{"name": "demo", "clips": CLIPS}],
                        "methods": ["bicubic", {"name": "folder", "label": "Ghost",
                                                "options": {"root": str(tmp_path / "empty")}}],
                        "metrics": ["psnr-rgb"]})
    run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out")
    _report(tmp_path / "r.sqlite", "ghost", tmp_path / "rep")
    md = (tmp_path / "rep" / "leaderboard.md").read_text()
    assert "| Ghost (0/3 clips) | – (0/3) |" in md and "shown, not ranked or marked: Ghost" in md
    rows = list(csv.DictReader((tmp_path / "rep" / "leaderboard.csv").open()))
    assert [(r["method"], r["clips"], r["of_clips"]) for r in rows] == [("bicubic", "3", "3"), ("Ghost", "0", "3")]


def test_complete_methods_carry_no_coverage_mark_when_some_clips_have_no_gt(tmp_path, demo_root):
    cfg = parse_config({"name": "mixed", "datasets": ["demo"], "methods": ["bicubic", "nearest"],
                        "metrics": ["psnr-y"]})
    run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out")
    html = _report(tmp_path / "r.sqlite", "mixed", tmp_path / "rep")
    md = (tmp_path / "rep" / "leaderboard.md").read_text()
    assert "clips)" not in md.split("Dataset means")[0]  # 3 of 3 clips with GT: nothing to mark
    assert "3 of 4 clips" in html  # the header says which clips the metric applies to


def test_a_clean_rerun_records_its_own_outputs(tmp_path, demo_root):
    base = {"datasets": [{"name": "demo", "clips": ["carphone"]}], "methods": ["bicubic"], "metrics": ["psnr-rgb"]}
    run_benchmark(parse_config({**base, "name": "first"}), tmp_path / "r.sqlite", tmp_path / "out")
    second = run_benchmark(parse_config({**base, "name": "second"}), tmp_path / "r.sqlite", tmp_path / "out")
    assert second.computed == 0 and second.cached == 1
    with Store(tmp_path / "r.sqlite") as store:
        (row,) = store.method_runs_frame("second").to_dict(orient="records")
    assert row["clip"] == "carphone" and row["output"].startswith(str(tmp_path / "out"))
