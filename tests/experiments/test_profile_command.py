"""`vrbench profile` end to end on the demo: the paper figure of a row and of a column, PNG and PDF."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from vrbench.experiments.cli import profile_command

app = typer.Typer()
app.command("profile")(profile_command)
app.command("noop")(lambda: None)


@pytest.mark.slow
def test_profile_command_writes_paper_figures(demo_root, tmp_path):
    common = ["--clip", "bikes-railing", "--methods", "nearest,bicubic", "--store", str(tmp_path / "r.sqlite"),
              "--outputs", str(tmp_path / "outputs")]
    out = CliRunner().invoke(app, ["profile", *common, "--row", "0.5", "--zoom", "96:160",
                                   "--out", str(tmp_path / "p.png")], terminal_width=160)
    assert out.exit_code == 0, out.output
    assert "row 128 of bikes-railing" in out.output
    import cv2

    image = cv2.imread(str(tmp_path / "p.png"))
    assert image is not None and image.shape[1] > 1000 and image.shape[0] > 600  # paper resolution (200 dpi)
    out = CliRunner().invoke(app, ["profile", *common, "--column", "auto", "--no-curves", "--out",
                                   str(tmp_path / "p.pdf")], terminal_width=160)
    assert out.exit_code == 0, out.output
    assert (tmp_path / "p.pdf").read_bytes()[:5] == b"%PDF-" and "column" in out.output
