"""`vrbench sweep` end to end on the demo (a steps-supporting method, two seeds): runs, table, figures, report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from vrbench.errors import InputError
from vrbench.experiments.cli import sweep_command
from vrbench.report.step_sweep import RUNTIME

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
