"""The HTML report of a real demo run: self-contained, escaped, with viewer frames, profiles and exports."""

from __future__ import annotations

import base64
import json
import re

import cv2
import numpy as np

from vrbench.config import parse_config
from vrbench.report import sources
from vrbench.report.html import write_report
from vrbench.run import run_benchmark
from vrbench.store import Store
from vrbench.video import open_video, write_frames


def _viewers(html: str) -> list[dict]:
    blocks = re.findall(r'<script type="application/json" class="viewer-data">(.*?)</script>', html, re.S)
    return [json.loads(b) for b in blocks]


def _decode(uri: str) -> np.ndarray:
    head, data = uri.split(",", 1)
    assert head == "data:image/jpeg;base64"
    return cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)


def test_report_is_one_self_contained_file(demo_report):
    html = demo_report.read_text()
    # every src/href is a data URI, an in-page anchor or one of the export files beside the report
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert links and all(re.match(r"data:|#|results\.(csv|json)$|leaderboard\.(md|tex|csv)$", u) for u in links), links
    assert "http://" not in html and "https://" not in html
    assert "default-src 'none'" in html  # the browser itself refuses any request the page might try
    assert len(html) < 4_000_000


def test_leaderboard_rows_follow_the_config_and_marks_follow_direction(demo_report):
    html = demo_report.read_text()
    board = html.split('<table class="leaderboard sortable"', 1)[1].split("</table>", 1)[0]
    methods = re.findall(r'<td class="method">(.*?)</td>', board)
    assert methods[:2] == ["nearest", "bicubic"] and len(methods) == 3
    assert "psnr-rgb ↑" in board and "ssim-y ↑" in board and 'class="best"' in board
    nearest_row = board.split('<td class="method">nearest</td>', 1)[1].split("</tr>", 1)[0]
    assert 'class="best"' not in nearest_row  # nearest is the lower bound on every metric
    assert "95% CI [" in board and "rank " in board and "sign-flip" in board


def test_user_supplied_names_are_escaped(demo_report, evil_label):
    html = demo_report.read_text()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    for v in _viewers(html):  # inside JSON the name is \u003c-escaped, and the page sets it as textContent only
        assert evil_label in [p["name"] for p in v["panels"]]
    md = (demo_report.parent / "leaderboard.md").read_text()
    assert "&lt;script&gt;" in md and "<script>" not in md
    assert r"\textless{}script\textgreater{}" in (demo_report.parent / "leaderboard.tex").read_text()


def test_viewer_has_gt_input_and_every_method_at_the_same_frames(demo_report, evil_label):
    viewers = _viewers(demo_report.read_text())
    assert len(viewers) == 2
    v = viewers[0]
    assert [p["name"] for p in v["panels"]] == ["GT", "Input", "nearest", "bicubic", evil_label]
    assert v["frames"] == list(range(6, 18)) and all(len(p["src"]) == 12 for p in v["panels"])  # consecutive
    assert _decode(v["panels"][0]["src"][0]).shape == (256, 256, 3)
    assert _decode(v["panels"][1]["src"][0]).shape == (64, 64, 3)  # the x4 input, shown as it is


def test_profiles_curves_cost_and_exports(demo_report):
    html = demo_report.read_text()
    assert html.count('alt="temporal profile of') == 2 and html.count('alt="per-frame values for') == 2
    assert 'id="cost"' in html and "s / frame" in html
    folder = demo_report.parent
    assert {p.name for p in folder.iterdir()} >= {"index.html", "results.csv", "results.json", "leaderboard.md",
                                                   "leaderboard.tex"}
    assert (folder / "results.csv").read_text().count("\n") == 13


def test_outputs_restored_by_an_earlier_run_are_found(demo_run, tmp_path):
    db, outputs, _ = demo_run
    cfg = parse_config({"name": "again", "datasets": [{"name": "demo", "clips": ["bbb-bunny"]}],
                        "methods": ["bicubic"], "metrics": ["psnr-rgb", "ssim-y"]})
    summary = run_benchmark(cfg, db, outputs)
    assert summary.computed == 0
    with Store(db) as store:
        own = store.method_runs_frame("again")  # nothing restored by this run, but it records the output it used ...
        runs = sources.method_runs(store, "again")
    assert len(own) == 1 and own["clip"].iloc[0] == "bbb-bunny"
    assert len(runs) == 1 and runs["seconds"].iloc[0] > 0  # ... with the cost and folder of the run that made it
    assert (sources.Path(runs["output"].iloc[0]) / "frames").is_dir()


def test_precomputed_outputs_are_read_from_their_folder(demo_root, tmp_path):
    gt = open_video(demo_root / "GT" / "carphone").read()
    write_frames(gt, tmp_path / "res" / "carphone")
    cfg = parse_config({"name": "pre", "datasets": [{"name": "demo", "clips": ["carphone"]}],
                        "methods": [{"name": "folder", "label": "GT copy", "options": {"root": str(tmp_path / "res")}}],
                        "metrics": ["psnr-rgb"]})
    assert run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out").computed == 1
    with Store(tmp_path / "r.sqlite") as store:
        runs, info = sources.method_runs(store, "pre"), sources.run_media(store, "pre")
        index = write_report(store, "pre", tmp_path / "report", media=False)
    # nothing restored: the folder method's own files are the output, and the store says where they are
    assert runs["output"].tolist() == [str(tmp_path / "res" / "carphone")]
    clip = sources.dataset_clips(info, "demo")["carphone"]
    assert np.array_equal(sources.output_video(runs.iloc[0], info, clip).read(), gt)
    html = index.read_text()
    assert "GT copy" in html and "∞" in html and 'class="viewer-data"' not in html  # media=False: numbers only
    csv = (tmp_path / "report" / "results.csv").read_text().splitlines()
    assert csv[0].endswith("prov_vrbench,prov_git,prov_device") and csv[1].split(",")[8] == "inf"
