"""The command line: list commands, env, evaluate and report, the shipped demo, and one-line errors for bad
input."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.video import open_video, write_frames

runner = CliRunner()


def test_list_commands_show_cards():
    out = runner.invoke(app, ["metrics", "list"], terminal_width=200)
    assert out.exit_code == 0 and "psnr-y" in out.output and "needs" in out.output
    out = runner.invoke(app, ["methods", "list"], terminal_width=200)
    assert out.exit_code == 0 and "lanczos" in out.output
    out = runner.invoke(app, ["datasets", "list"], terminal_width=200)
    assert out.exit_code == 0 and "demo" in out.output


def test_the_demo_shows_the_restorer_and_only_metrics_a_fresh_machine_computes(tmp_path, monkeypatch, demo_root):
    from vrbench.config import DatasetEntry, load_config
    from vrbench.metrics.base import unavailable
    from vrbench.registry import METRICS
    from vrbench.run import run_benchmark

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))  # no weights at all, as on a fresh clone
    cfg = load_config("demo")
    assert {m.name: m.steps for m in cfg.methods} == {"bicubic": [None], "satb": [1, 2, 4]}
    cards = [METRICS.card(name) for name in cfg.metrics]
    # all but NIQE run with no weights at all; NIQE's parameters file is what `make demo` fetches first
    assert [c.name for c in cards if unavailable(c) is not None] == ["niqe"]
    assert unavailable(METRICS.card("niqe")).files[0].startswith("niqe_pris_params.npz: download")
    assert {"FR", "video", "temporal"} <= {c.kind for c in cards} and "vmaf" in cfg.metrics
    # the no-GT clip is scored on the metrics that need no GT, for every method and step count
    no_gt = cfg.model_copy(update={"datasets": [DatasetEntry(name="demo", clips=["carphone-real"])]})
    summary = run_benchmark(no_gt, tmp_path / "d.sqlite", tmp_path / "out")
    no_gt_metrics = [c.name for c in cards if not c.needs_gt]
    assert no_gt_metrics == ["niqe", "ewarp-dis", "flicker"]
    assert summary.failed == [] and set(summary.unavailable) == {"niqe"} and summary.computed == 4 * 2
    assert set(summary.not_applicable["demo"]) == {"psnr-y", "ssim-y", "vmaf"}


def test_env_prints_versions():
    out = runner.invoke(app, ["env"])
    assert out.exit_code == 0
    info = json.loads(out.output)
    assert info["vrbench"] and "torch" in info["packages"] and info["paths"]["torch_hub"].endswith("hub")


def test_evaluate_and_report_from_the_command_line(tmp_path, demo_root):
    for name in ("carphone",):
        write_frames(open_video(demo_root / "GT" / name).read(), tmp_path / "res" / name)
    store = tmp_path / "r.sqlite"
    out = runner.invoke(app, ["evaluate", "--dataset", "demo", "--outputs", str(tmp_path / "res"),
                              "--method-name", "copy", "--metrics", "psnr-rgb", "--store", str(store),
                              "--no-report"])
    # two clips have no output: their failures are listed, the store still gets the one value, and the exit code says 1
    assert out.exit_code == 1, out.output
    assert "1 results computed" in out.output and "no output for this clip" in out.output
    out = runner.invoke(app, ["report", "eval-demo", "--store", str(store), "--out", str(tmp_path / "rep")])
    assert out.exit_code == 0 and (tmp_path / "rep" / "index.html").is_file()


def test_evaluate_exit_codes_say_whether_everything_was_scored(tmp_path, demo_root):
    for name in ("carphone", "bbb-bunny", "bikes-railing"):
        write_frames(open_video(demo_root / "GT" / name).read(), tmp_path / "all" / name)
    args = ["evaluate", "--dataset", "demo", "--method-name", "copy", "--metrics", "psnr-rgb", "--store",
            str(tmp_path / "r.sqlite"), "--no-report"]
    out = runner.invoke(app, [*args, "--outputs", str(tmp_path / "all")])
    assert out.exit_code == 0, out.output
    (tmp_path / "none").mkdir()
    out = runner.invoke(app, [*args, "--outputs", str(tmp_path / "none"), "--run", "nothing"])
    assert out.exit_code == 1 and "0 results computed" in out.output


def test_user_errors_are_one_line_not_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "vrbench.cli", "run", str(tmp_path / "missing.yaml")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "config not found" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndatasets: [demo]\nmethods: [bicubic]\nmetrics: [psnr-rgb]\nsede: 3\n")
    proc = subprocess.run([sys.executable, "-m", "vrbench.cli", "run", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and "sede: Extra inputs are not permitted" in proc.stdout
