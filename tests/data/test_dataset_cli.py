"""`vrbench datasets list | info | prepare | verify` from the command line."""

from __future__ import annotations

import json
import zipfile

from dataset_replicas import build, write_pngs
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.clikit import console
from vrbench.registry import DATASETS

runner = CliRunner()


def _wide(monkeypatch):
    monkeypatch.setattr(console, "width", 400)  # rich folds long cells at the default 80 columns


def test_list_shows_every_card_with_its_status_here(tmp_path, bbb_frames, monkeypatch):
    monkeypatch.setenv("VRBENCH_DATA", str(tmp_path))
    _wide(monkeypatch)
    build("canonical", tmp_path / "videolq", bbb_frames, ["000"], gt=False)  # put there by hand: no manifest
    out = runner.invoke(app, ["datasets", "list"])
    assert out.exit_code == 0, out.output
    rows = {line.split("│")[1].strip(): line for line in out.output.splitlines() if line.count("│") > 3}
    assert set(DATASETS.names()) <= set(rows)
    assert "missing" in rows["spmcs"] and "partial" in rows["videolq"] and "any folder" in rows["folder"]
    assert runner.invoke(app, ["datasets", "verify", "videolq"]).exit_code == 0
    out = runner.invoke(app, ["datasets", "list", "video*"])
    assert "partial (1 of 50 clips" in out.output and "spmcs" not in out.output
    build("canonical", tmp_path / "movielq", bbb_frames, ["reel-1"], gt=False)  # the card fixes no clip count
    assert runner.invoke(app, ["datasets", "verify", "movielq"]).exit_code == 0
    assert "prepared (1 clips)" in runner.invoke(app, ["datasets", "list", "movielq"]).output


def test_info_reports_layout_clips_and_problems(tmp_path, bbb_frames, monkeypatch):
    _wide(monkeypatch)
    build("spmc", tmp_path / "SPMCS", bbb_frames, ["calendar", "city"])
    (tmp_path / "SPMCS" / "city" / "truth" / "Frame 002.png").write_bytes(b"")
    out = runner.invoke(app, ["datasets", "info", "spmcs", "--root", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "layout 'spmc'" in out.output and "1 of 2 clips load; 1 left out; LQ variant BIx4" in out.output
    assert "3 × 48x32" in out.output and "Frame 002.png" in out.output
    assert "2 clips found; the card expects 30" in out.output
    data = json.loads(runner.invoke(app, ["datasets", "info", "spmcs", "--root", str(tmp_path), "--json"]).output)
    assert data["layout"] == "spmc" and [c["ok"] for c in data["clips"]] == [True, False]
    assert data["clips"][0]["gt"]["frames"] == 3 and data["clips"][1]["problems"][0].startswith("unreadable frame")


def test_prepare_and_verify_round_trip_from_the_command_line(tmp_path, bbb_frames, monkeypatch):
    monkeypatch.setenv("VRBENCH_DATA", str(tmp_path / "data"))
    _wide(monkeypatch)
    build("mmagic", tmp_path / "src" / "UDM10", bbb_frames, ["archpeople", "band"])
    write_pngs(tmp_path / "src" / "UDM10" / "GT" / "lake", bbb_frames[:3, :32, :48])  # GT without LQ: left out
    archive = tmp_path / "UDM10-mmagic.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted((tmp_path / "src").rglob("*.png")):
            zf.write(p, p.relative_to(tmp_path / "src").as_posix())
    out = runner.invoke(app, ["datasets", "prepare", "udm10", "--from", str(archive), "--lq", "released:BDx4"],
                        terminal_width=400)
    assert out.exit_code == 0, out.output
    assert "udm10: 2 clips, layout 'canonical', LQ released:BDx4" in out.output
    # a file inside the archive is named by the archive, never by the staging folder deleted afterwards
    assert "left out no LQ input for this clip (clip 'lake' of udm10, file UDM10-mmagic.zip:UDM10/GT/lake)" \
        in out.output
    manifest = json.loads((tmp_path / "data" / "udm10" / "manifest.json").read_text())
    assert manifest["clips"]["band"]["lq"]["origin"] == "released:BDx4"
    out = runner.invoke(app, ["datasets", "verify", "udm10"])
    assert out.exit_code == 0 and "udm10: ok: 12 files checked" in out.output
    (tmp_path / "data" / "udm10" / "GT" / "band" / "00000001.png").write_bytes(b"changed")
    out = runner.invoke(app, ["datasets", "verify", "udm10"])
    assert out.exit_code == 1 and "changed GT/band/00000001.png" in out.output and "FAILED" in out.output
    out = runner.invoke(app, ["datasets", "list", "udm10"])
    assert "partial (2 of 10 clips" in out.output
