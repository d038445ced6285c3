"""The reported block of a report (`--reported`): HTML, Markdown and LaTeX mark it "reported, not measured here" with
its citation, show where papers disagree, and rank it with the run's rows only when the protocol matches exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.report import html
from vrbench.report.reported import measured_summary, reported_block
from vrbench.store import Store

runner = CliRunner()


@pytest.fixture(scope="module")
def reported_report(demo_run, tmp_path_factory) -> Path:
    db, _, run = demo_run
    out = tmp_path_factory.mktemp("reported") / run
    res = runner.invoke(app, ["report", run, "--store", str(db), "--out", str(out), "--reported", "seedvr2-table1",
                              "--reported", "dtg-restore-table1"])
    assert res.exit_code == 0, res.output
    return out


def test_html_has_the_marked_and_cited_block(reported_report):
    page = (reported_report / "index.html").read_text()
    block = page[page.index('<section id="reported">'):page.index('<section id="clips">')]
    assert block.count('<table class="reported sortable"') == 6 + 3  # SeedVR2: 6 sets, DTG-Restore: 3
    assert block.count("reported, not measured here") >= 9 and "arXiv 2506.05301, Table 1" in block
    assert "Not ranked with the measured rows: no measured results on this dataset" in block
    assert "SeedVR2-7B (seedvr2-7b) on spmcs, psnr-rgb: 20.66 in dtg-restore-table1; 22.90 in seedvr2-table1" in block
    assert '<a href="#reported">Reported (9)</a>' in page
    # the measured leaderboard is the run's alone
    start = page.index('<table class="leaderboard')
    board = page[start:page.index("</table>", start)]
    assert "SeedVR2" not in board and "RealViformer" not in board


def test_markdown_and_latex_carry_the_block(reported_report):
    md = (reported_report / "leaderboard.md").read_text()
    measured, reported = md.split("## Reported results (not measured here)")
    assert "RealViformer" not in measured
    assert "**SPMCS** — *reported, not measured here*: Wang et al." in reported
    assert "| SeedVR2-7B | 22.90 | 0.638 | <u>0.322</u> | <u>0.134</u> |" in reported
    assert "- SeedVR2-7B \\(seedvr2-7b\\) on spmcs, psnr-rgb: 20.66 in dtg-restore-table1; 22.90 in seedvr2-table1" \
        in reported
    tex = (reported_report / "leaderboard.tex").read_text()
    assert r"\caption{SPMCS: reported, not measured here. Wang et al." in tex
    assert r"SeedVR2-7B & 22.90 & 0.638 & \underline{0.322} & \underline{0.134} \\" in tex
    assert r"RealViformer & \textbf{24.19}" in tex and "Papers disagree: " in tex
    # UDM10: the excerpt prints PSNR for every method and LPIPS (from the text) for DTG-Restore only
    assert r"RealViformer & \textbf{26.78} & -- \\" in tex and r"DTG-Restore & 25.61 & \textbf{0.271} \\" in tex


def _card(tmp_path: Path, lq: str, exact: bool = True) -> Path:
    card = {"name": "own-table", "title": "our own earlier numbers", "source": {"paper": "Ours", "table": "Table 1"},
            "protocol": {"lq": "vrbench demo LQ", "vrbench_protocol": "default", "lq_manifest_sha256": {"demo": lq}},
            "datasets": {"Demo": "demo"}, "metrics": {"PSNR": {"id": "psnr-rgb", "exact": exact}},
            "methods": {"Earlier": None}, "columns": ["Earlier"], "rows": {"Demo": {"PSNR": ["99.00"]}}}
    path = tmp_path / "own-table.yaml"
    path.write_text(yaml.safe_dump(card))
    return path


def test_rows_rank_with_measured_ones_only_when_the_protocol_matches_exactly(demo_run, tmp_path):
    db, _, run = demo_run
    with Store(db) as store:
        rt = html.run_tables(store, run)
    lq = measured_summary(rt.boards, rt.info)["demo"]["lq_manifest_sha256"]
    same = reported_block([str(_card(tmp_path, lq))], rt.boards, rt.info, rt.cards)["tables"][0]
    assert same.ranked_with_run and same.apart_because == []
    labels = [r["label"] for r in same.rows]
    assert labels[0] == "Earlier" and "bicubic (measured here)" in labels and len(labels) == 4
    assert same.marks["PSNR"]["Earlier"] == "best"  # one ranking over reported and measured rows
    assert list(same.marks["PSNR"].values()).count("second") == 1
    other = reported_block([str(_card(tmp_path, "ef" * 32))], rt.boards, rt.info, rt.cards)["tables"][0]
    assert not other.ranked_with_run and [r["label"] for r in other.rows] == ["Earlier"]
    assert other.apart_because == [f"LQ manifest efefefefefef differs from the measured rows' {lq[:12]}"]
    inexact = reported_block([str(_card(tmp_path, lq, exact=False))], rt.boards, rt.info, rt.cards)["tables"][0]
    assert inexact.apart_because == ["metric conventions not known to match: PSNR"]
