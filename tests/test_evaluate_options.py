"""`vrbench evaluate` on outputs as published methods name them: --pattern, --names, --geometry, --strict-names,
missing outputs naming the closest output names (difflib), and outputs no clip claims reported."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.video import open_video, write_frames, write_video_lossless

runner = CliRunner()
CLIPS = ("carphone", "bikes-railing")


@pytest.fixture
def dataset(tmp_path, demo_root):
    """Two demo clips (GT and LQ frames) as a `folder` dataset."""
    root = tmp_path / "data"
    for clip in CLIPS:
        for side in ("GT", "LQ"):
            shutil.copytree(demo_root / side / clip, root / side / clip)
    return root


def _evaluate(tmp_path, dataset, outputs, *extra):
    out = runner.invoke(app, ["evaluate", "--dataset", "folder", "--root", str(dataset), "--outputs", str(outputs),
                              "--method-name", "Mine", "--metrics", "psnr-rgb", "--store", str(tmp_path / "r.sqlite"),
                              "--no-report", *extra], terminal_width=400)
    return out.exit_code, " ".join(out.output.split())


def test_dove_style_video_names_are_scored_with_pattern(tmp_path, dataset):
    for clip in CLIPS:  # DOVE writes <clip>_ours.mp4
        write_video_lossless(open_video(dataset / "GT" / clip).read(), tmp_path / "dove" / f"{clip}_ours.mp4",
                             codec="libx264rgb")
    code, text = _evaluate(tmp_path, dataset, tmp_path / "dove", "--run", "plain")
    assert code == 1 and "no output for this clip" in text
    assert "closest outputs there: carphone_ours.mp4" in text
    assert "closest outputs there: bikes-railing_ours.mp4" in text
    code, text = _evaluate(tmp_path, dataset, tmp_path / "dove", "--pattern", "{clip}_ours.mp4", "--run", "dove")
    assert code == 0, text
    assert "2 results computed" in text and "matches no clip" not in text
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        values = db.execute("SELECT value FROM results WHERE run = 'dove'").fetchall()
    assert values == [(float("inf"),)] * 2  # lossless copies of the GT: every frame matched to its own


def test_near_miss_and_extra_outputs_are_reported_and_names_map_them(tmp_path, dataset):
    outputs = tmp_path / "res"
    for clip, name in (("carphone", "carphone"), ("bikes-railing", "bikes_railing"), ("carphone", "extra-clip")):
        write_frames(open_video(dataset / "GT" / clip).read(), outputs / name)
    code, text = _evaluate(tmp_path, dataset, outputs, "--run", "near")
    assert code == 1
    assert "clip 'bikes-railing'" in text and "found closest outputs there: bikes_railing" in text
    assert ("warning 'bikes_railing' matches no clip (near 'bikes-railing': map it with names, "
            "bikes-railing=bikes_railing)") in text
    assert "warning 'extra-clip' matches no clip" in text
    code, text = _evaluate(tmp_path, dataset, outputs, "--names", "bikes-railing=bikes_railing", "--run", "mapped")
    assert code == 0, text
    assert "2 results computed" in text and "'bikes_railing' matches no clip" not in text
    assert "warning 'extra-clip' matches no clip" in text
    (tmp_path / "names.json").write_text(json.dumps({"bikes-railing": "bikes_railing"}))
    code, text = _evaluate(tmp_path, dataset, outputs, "--names", str(tmp_path / "names.json"), "--run", "file")
    assert code == 0, text
    code, text = _evaluate(tmp_path, dataset, outputs, "--names", "bikes-railing", "--run", "bad")
    assert code == 2 and "names must be clip=name or a YAML/JSON file" in text


def test_strict_names_on_the_command_line(tmp_path, dataset):
    outputs = tmp_path / "res"
    for clip in CLIPS:
        write_frames(open_video(dataset / "GT" / clip).read(), outputs / clip)
    (outputs / "carphone" / "00000005.png").rename(outputs / "carphone" / "00000099.png")
    code, text = _evaluate(tmp_path, dataset, outputs, "--run", "strict")
    assert code == 1 and "1 results computed" in text
    assert "frame numbers do not form the sequence 0..T-1 or 1..T (clip 'carphone'" in text
    assert "'00000004.png' is followed by '00000006.png' (frame 5 missing)" in text
    code, text = _evaluate(tmp_path, dataset, outputs, "--strict-names", "off", "--run", "lax")
    assert code == 0 and "2 results computed" in text
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        (warnings,) = db.execute("SELECT warnings FROM method_runs WHERE run = 'lax' AND clip = 'carphone'").fetchone()
    assert json.loads(warnings) == ["warning: frame names do not number a sequence ('00000004.png' is followed by "
                                    "'00000006.png' (frame 5 missing)); taken in natural order as strict_names is off"]


def test_geometry_on_the_command_line(tmp_path, dataset):
    outputs = tmp_path / "res"
    for clip in CLIPS:  # a few pixels short of the GT, as SeedVR2's multiple-of-16 outputs are
        write_frames(open_video(dataset / "GT" / clip).read()[:, 2:-2, 2:-2], outputs / clip)
    code, text = _evaluate(tmp_path, dataset, outputs, "--run", "sizes")
    assert code == 1 and "wrong output size" in text
    code, text = _evaluate(tmp_path, dataset, outputs, "--geometry", "crop", "--run", "cropped")
    assert code == 0 and "2 results computed" in text
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        config = json.loads(db.execute("SELECT config FROM runs WHERE run = 'cropped'").fetchone()[0])
    assert config["methods"][0]["geometry"] == "crop"  # the geometry of these outputs, not of the whole run
    code, text = _evaluate(tmp_path, dataset, outputs, "--geometry", "resize", "--resize-filter", "area", "--run",
                           "resized")
    assert code == 0 and "2 results computed" in text
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        aligned = [json.loads(r[0]) for r in db.execute("SELECT data FROM alignments WHERE run = 'resized'")]
    assert len(aligned) == 2 and all(a["policy"] == "resize" and "with area" in a["warnings"][0] for a in aligned)
