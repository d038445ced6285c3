"""In headless Chromium: the reported block of a report and a leaderboard merged from submissions render, sort, and
load with no console errors and no request leaving the page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vrbench.cli import app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def pages(demo_run, submissions, tmp_path_factory) -> dict[str, Path]:
    db, _, run = demo_run
    work = tmp_path_factory.mktemp("reported-browser")
    runner = CliRunner()
    res = runner.invoke(app, ["report", run, "--store", str(db), "--out", str(work / "report"), "--reported",
                              "seedvr2-table1"])
    assert res.exit_code == 0, res.output
    apart = json.loads(submissions[1].read_text())
    apart["datasets"]["demo"]["lq_manifest_sha256"] = "ab" * 32
    (work / "lab-c.json").write_text(json.dumps(apart))
    res = runner.invoke(app, ["leaderboard", "build", *map(str, submissions), str(work / "lab-c.json"), "--out",
                              str(work / "site")])
    assert res.exit_code == 0, res.output
    return {"report": work / "report" / "index.html", "site": work / "site" / "index.html"}


def _cells(pg, table: str, col: int) -> list[str]:
    return pg.eval_on_selector_all(f"{table} tbody tr", f"rows => rows.map(r => r.cells[{col}].textContent.trim())")


def test_reported_block_renders_apart_from_the_measured_rows(pages, open_offline):
    with open_offline(pages["report"]) as (pg, seen):
        tables = pg.locator("table.reported")
        assert tables.count() == 6
        spmcs = "#reported-0"
        assert pg.locator(spmcs).get_attribute("data-dataset") == "spmcs"
        assert _cells(pg, spmcs, 0)[-1] == "SeedVR2-7B (seedvr2-7b)"
        badge = pg.locator("#reported .citation .reported-badge").first
        assert badge.is_visible() and badge.text_content() == "reported, not measured here"
        assert pg.locator("#reported .disagreements").first.is_visible()
        assert "20.66 in dtg-restore-table1; 22.90 in seedvr2-table1" in pg.locator("#reported").text_content()
        # the best PSNR of the paper's table is marked inside it; sorting works as in the measured tables
        assert pg.eval_on_selector(f"{spmcs} td.best .v", "v => v.textContent") == "24.19"
        pg.locator(f"{spmcs} thead th").nth(1).click()
        psnr = [float(v) for v in _cells(pg, spmcs, 1)]
        assert psnr == sorted(psnr, reverse=True)
        measured = _cells(pg, "table.leaderboard", 0)
        assert "SeedVR2-7B" not in " ".join(measured) and len(measured) == 3
        assert seen["errors"] == [] and all(u.startswith(("file:", "data:")) for u in seen["requests"])


def test_merged_leaderboard_opens_offline_without_errors(pages, open_offline):
    with open_offline(pages["site"]) as (pg, seen):
        boards = pg.locator("table.leaderboard")
        assert boards.count() == 2
        together = _cells(pg, "#board-0", 0)
        assert len(together) == 5 and {r.rsplit(" · ", 1)[1] for r in together} == {"lab-a", "lab-b"}
        assert _cells(pg, "#board-1", 0) == ["bicubic · lab-c", "lanczos · lab-c"]
        assert "lq_manifest_sha256 abababababab differs from lab-a.json's" in pg.locator("#apart").text_content()
        # one ranking over both labs: bicubic scored by each on the same LQ has the same value, so the same mark
        marks = pg.eval_on_selector_all("#board-0 tbody tr", "rows => Object.fromEntries(rows.map(r => "
                                        "[r.cells[0].textContent.trim(), r.cells[2].className]))")
        assert marks["bicubic · lab-a"] == marks["bicubic · lab-b"] and "best" in marks.values()
        pg.locator("#board-0 thead th").nth(2).click()
        values = [float(v) for v in pg.eval_on_selector_all(
            "#board-0 tbody tr", "rows => rows.map(r => r.cells[2].getAttribute('data-value'))")]
        assert values == sorted(values, reverse=True)
        assert seen["errors"] == [] and all(u.startswith("file:") for u in seen["requests"])
