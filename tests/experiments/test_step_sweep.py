"""`vrbench sweep` end to end on the demo (a steps-supporting method, two seeds), and the sweep table and plots."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from vrbench.errors import InputError
from vrbench.experiments.cli import sweep_command
from vrbench.experiments.sweep import (
    RUNTIME,
    distortion_and_perception,
    plot_perception_distortion,
    plot_sweep,
    sweep_table,
)

app = typer.Typer()
app.command("sweep")(sweep_command)
app.command("noop")(lambda: None)  # two commands, so "sweep" stays a subcommand as in the real app


def test_sweep_refuses_a_method_without_steps(ibp_method, tmp_path):
    out = CliRunner().invoke(app, ["sweep", "--method", "bicubic", "--steps", "1,2", "--store",
                                   str(tmp_path / "r.sqlite")])
    assert out.exit_code != 0 and isinstance(out.exception, InputError)
    assert "method 'bicubic' has no step count to sweep" in str(out.exception) and ibp_method in str(out.exception)
    assert not (tmp_path / "r.sqlite").exists()  # refused before anything ran


@pytest.fixture()
def area_x4(demo_root, tmp_path):
    """The demo's carphone GT with an area-downsampled LQ: back-projection is exactly the right model for it."""
    import cv2

    from vrbench.video import open_video, write_frames

    gt = open_video(demo_root / "GT" / "carphone").read()
    write_frames(gt, tmp_path / "area" / "GT" / "carphone")
    write_frames(np.stack([cv2.resize(f, (44, 36), interpolation=cv2.INTER_AREA) for f in gt]),
                 tmp_path / "area" / "LQ" / "carphone")
    return tmp_path / "area"


@pytest.mark.slow
def test_sweep_runs_every_step_count_and_seed(ibp_method, area_x4, tmp_path):
    out = CliRunner().invoke(app, [
        "sweep", "--method", ibp_method, "--steps", "1,2,4", "--seeds", "0,1", "--dataset", "folder",
        "--root", str(area_x4), "--clips", "carphone",
        "--metrics", "psnr-y,ssim-y", "--option", "noise=1.0", "--store", str(tmp_path / "r.sqlite"),
        "--outputs", str(tmp_path / "outputs"), "--out", str(tmp_path / "sweep")], terminal_width=160)
    assert out.exit_code == 0, out.output
    table = pd.read_csv(tmp_path / "sweep" / "sweep.csv")
    assert sorted(table["steps"].unique()) == [1, 2, 4] and set(table["metric"]) == {"psnr-y", "ssim-y", RUNTIME}
    assert (table["seeds"] == 2).all() and (table["clips"] == 1).all()
    psnr = table[table["metric"] == "psnr-y"].set_index("steps")
    # back-projection iterations pull the result towards consistency with the input: fidelity rises with steps
    assert psnr.loc[1, "mean"] < psnr.loc[2, "mean"] < psnr.loc[4, "mean"]
    assert (psnr["std"] > 0).all()  # the seeded noise makes the two seeds differ
    assert (table[table["metric"] == RUNTIME]["mean"] > 0).all()
    for name in ("sweep.png", "sweep.pdf", "index.html"):
        assert (tmp_path / "sweep" / name).stat().st_size > 5000
    html = (tmp_path / "sweep" / "index.html").read_text()
    assert 'id="sweeps"' in html and "test-ibp (4 steps)" in html and 'alt="step sweep on folder"' in html


def _results(rows):
    return pd.DataFrame([{"dataset": "d", "clip": c, "method": m, "steps": s, "seed": seed, "metric": metric,
                          "value": v} for m, s, seed, c, metric, v in rows])


def test_sweep_table_means_over_clips_then_seeds():
    rows = [("m", 1, 0, "a", "psnr-y", 20.0), ("m", 1, 0, "b", "psnr-y", 22.0),
            ("m", 1, 1, "a", "psnr-y", 24.0), ("m", 1, 1, "b", "psnr-y", 26.0),
            ("m", 2, 0, "a", "psnr-y", 30.0), ("m", 2, 0, "b", "psnr-y", math.inf),
            ("x", -1, 0, "a", "psnr-y", 1.0)]  # a method without steps is not part of a sweep
    cost = pd.DataFrame([{"dataset": "d", "clip": "a", "method": "m", "steps": 1, "seed": 0, "seconds": 2.0,
                          "frames": 10}, {"dataset": "d", "clip": "b", "method": "m", "steps": 1, "seed": 0,
                                          "seconds": 4.0, "frames": 20}])
    t = sweep_table(_results(rows), cost).set_index(["method", "steps", "metric"])
    assert t.loc[("m", 1, "psnr-y"), "mean"] == 23.0  # seed means 21 and 25
    assert t.loc[("m", 1, "psnr-y"), "std"] == pytest.approx(math.sqrt(8.0))  # sample std of (21, 25)
    assert t.loc[("m", 2, "psnr-y"), "mean"] == math.inf and t.loc[("m", 2, "psnr-y"), "std"] == 0.0
    assert t.loc[("m", 1, RUNTIME), "mean"] == pytest.approx(0.2)  # 6 s over 30 frames
    assert "x" not in t.index.get_level_values("method")


def test_sweep_plots_and_the_perception_distortion_view():
    rows = [(m, s, 0, "a", metric, v) for m, off in (("one", 0.0), ("two", 1.0)) for s in (1, 2, 4)
            for metric, v in (("psnr-y", 25 + s + off), ("lpips-alex", 0.4 - 0.05 * s), ("ssim-y", 0.7))]
    table = sweep_table(_results(rows))
    fig, axes = plot_sweep(table)
    assert [ax.get_title() for ax in axes.flat if ax.get_visible()] == ["psnr-y", "ssim-y", "lpips-alex"]
    assert [int(t) for t in axes.flat[0].get_xticks()] == [1, 2, 4]
    assert distortion_and_perception(["psnr-y", "ssim-y", "lpips-alex"]) == ("psnr-y", ["lpips-alex"])
    fig, axes = plot_perception_distortion(table, "psnr-y", ["lpips-alex"])
    ax = axes.flat[0]
    assert len(ax.lines) == 2 and sorted(t.get_text() for t in ax.texts) == ["1", "1", "2", "2", "4", "4"]
    assert ax.get_xlabel() == "psnr-y ↑" and ax.get_ylabel() == "lpips-alex ↓"
    with pytest.raises(InputError, match="perceptual"):
        plot_perception_distortion(table, "psnr-y", ["musiq"])
