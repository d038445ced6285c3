"""The worked ffmpeg card of `method_adapters/examples/`: Debian's ffmpeg run end to end through `vrbench run`, the
output folders the harness creates for tools that never create them, and the frame-name check on tool outputs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
import yaml

from vrbench.errors import InputError
from vrbench.methods.catalog import command_factory, parse_card
from vrbench.methods.command import make_output_parents
from vrbench.methods.command_spec import CommandCard
from vrbench.video import list_frame_files, open_video

FFMPEG = "ffmpeg-bicubic.yaml"


def test_ffmpeg_card_runs_end_to_end_beside_the_builtin_bicubic(tmp_path, demo_root, examples_dir):
    config = tmp_path / "ffmpeg.yaml"
    config.write_text(yaml.safe_dump({
        "name": "ffmpeg-example", "datasets": [{"name": "demo", "clips": ["carphone", "bbb-bunny"]}],
        "methods": ["bicubic", "ffmpeg-bicubic"], "metrics": ["psnr-rgb"]}))
    env = {**os.environ, "VRBENCH_METHOD_ADAPTERS": str(examples_dir)}
    proc = subprocess.run([sys.executable, "-m", "vrbench.cli", "run", str(config), "--store",
                           str(tmp_path / "r.sqlite"), "--outputs", str(tmp_path / "outputs"), "--no-report"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 results computed" in proc.stdout and "0 failures" in proc.stdout
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        rows = db.execute("SELECT clip, method, value FROM results WHERE run = 'ffmpeg-example'").fetchall()
    psnr = {(clip, method): value for clip, method, value in rows}
    assert set(psnr) == {(c, m) for c in ("carphone", "bbb-bunny") for m in ("bicubic", "ffmpeg-bicubic")}
    for clip in ("carphone", "bbb-bunny"):
        # two bicubic kernels (swscale's and OpenCV's Keys a=-0.75) on the same LQ: close, not identical
        assert 10 < psnr[(clip, "ffmpeg-bicubic")] < 60
        assert abs(psnr[(clip, "ffmpeg-bicubic")] - psnr[(clip, "bicubic")]) < 1.0, psnr


def _ffmpeg(examples_dir, tmp_path, **command_overrides):
    data = yaml.safe_load((examples_dir / FFMPEG).read_text())
    data["command"].update(command_overrides)
    spec = CommandCard.model_validate(data)
    return command_factory(spec, spec.method_card(), examples_dir / FFMPEG)(work_root=str(tmp_path / "runs"))


def test_the_harness_creates_the_folder_ffmpeg_writes_into(tmp_path, demo_root, examples_dir):
    lq = open_video(demo_root / "LQ" / "carphone", name="carphone")
    out = _ffmpeg(examples_dir, tmp_path).restore(lq, scale=4)
    assert out.path.name == "carphone" and out.path.parent.name == "output"
    assert [f.name for f in list_frame_files(out.path)][:2] == ["00000000.png", "00000001.png"]
    assert out.read().shape == (32, 144, 176, 3) and out.conversions == ()
    gt = open_video(demo_root / "GT" / "carphone").read()
    assert 0 < np.abs(out.read().astype(int) - gt).mean() < 20  # an upscaled LQ: near the GT, not a copy of it
    # only the folder holding a named path is created; the path itself is left to the tool
    root = tmp_path / "output"
    make_output_parents(["-o", str(root / "a" / "%08d.png"), f"--dir={root / 'b' / 'c'}", str(root / "d.mp4"),
                         f"{root}/../escape/x.png"], root)
    assert sorted(p.name for p in root.iterdir()) == ["a", "b"] and not (root / "b" / "c").exists()
    assert not (tmp_path / "escape").exists()


def test_tool_outputs_whose_frame_numbers_do_not_start_at_0_or_1_fail(tmp_path, demo_root, examples_dir):
    lq = open_video(demo_root / "LQ" / "carphone", name="carphone")
    card = yaml.safe_load((examples_dir / FFMPEG).read_text())["command"]
    argv = list(card["argv"])
    at = argv.index("{output_dir}/{clip}/%08d.png") - 1  # the output's -start_number
    assert argv[at - 1: at + 1] == ["-start_number", "0"]
    argv[at] = "7"
    with pytest.raises(InputError) as err:
        _ffmpeg(examples_dir, tmp_path, argv=argv).restore(lq, scale=4)
    assert "clip 'carphone'" in str(err.value) and "'00000007.png' (number 7), not 0 or 1" in str(err.value)
    relaxed = _ffmpeg(examples_dir, tmp_path, argv=argv, output={"format": "frames", "path": "{clip}",
                                                                 "strict_names": False})
    assert relaxed.restore(lq, scale=4).num_frames == 32


def test_the_example_card_is_valid_and_says_what_it_needs(examples_dir):
    card = parse_card(examples_dir / FFMPEG)
    assert card.command.argv[0] == "{ffmpeg}" and card.vars == {"ffmpeg": "ffmpeg"}
    assert card.command.input.frame_name == "{:08d}.png"
    assert "{output_dir}/{clip}/%08d.png" in card.command.argv and "{input}/%08d.png" in card.command.argv
