"""One small real run on the demo dataset, reported once per session, for the report and browser tests.

nearest and bicubic on two clips, plus lanczos under a label that tries to inject markup: every test of the
page also checks that user-supplied names stay text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from vrbench.config import parse_config
from vrbench.report.html import write_report
from vrbench.run import run_benchmark
from vrbench.store import Store

EVIL = "<script>alert(1)</script><img src=x onerror=alert(2)>"
CHROMIUM = "/usr/bin/chromium"  # the Debian package; Playwright never downloads a browser here


@contextmanager
def offline_page(path: Path) -> Iterator[tuple[object, dict[str, list[str]]]]:
    """(page, seen) of a file opened in headless Chromium: every request is recorded in seen["requests"] and only
    file: and data: ones are let through; console errors, page errors and dialogs are recorded too."""
    from playwright.sync_api import sync_playwright

    seen: dict[str, list[str]] = {"requests": [], "errors": [], "dialogs": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})

        def route(r):
            seen["requests"].append(r.request.url)
            if r.request.url.startswith(("file:", "data:")):
                r.continue_()
            else:
                r.abort()

        pg.route("**/*", route)
        pg.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: seen["errors"].append(str(e)))
        pg.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
        pg.goto(path.as_uri())
        pg.wait_for_load_state("load")
        try:
            yield pg, seen
        finally:
            browser.close()


@pytest.fixture(scope="session")
def open_offline():
    """`offline_page` for the browser tests."""
    return offline_page


@pytest.fixture(scope="session")
def evil_label() -> str:
    return EVIL


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, demo_root) -> tuple[Path, Path, str]:
    """(store, outputs folder, run name) of the small demo run."""
    work = tmp_path_factory.mktemp("report-run")
    cfg = parse_config({"name": "report-demo", "description": "nearest and bicubic on two demo clips",
                        "datasets": [{"name": "demo", "clips": ["bbb-bunny", "bikes-railing"]}],
                        "methods": ["nearest", "bicubic", {"name": "lanczos", "label": EVIL}],
                        "metrics": ["psnr-rgb", "ssim-y"]})
    summary = run_benchmark(cfg, work / "r.sqlite", work / "outputs")
    assert summary.failed == [] and summary.computed == 12
    return work / "r.sqlite", work / "outputs", cfg.name


@pytest.fixture(scope="session")
def demo_report(demo_run, tmp_path_factory) -> Path:
    """index.html of the demo run (with frames, profiles and curves)."""
    db, _, run = demo_run
    with Store(db) as store:
        return write_report(store, run, tmp_path_factory.mktemp("report") / run)


@pytest.fixture(scope="session")
def submissions(demo_run, tmp_path_factory) -> tuple[Path, Path]:
    """Two submissions of the same protocol and LQ, exported with `vrbench export`: the demo run, and a second run
    (bicubic again, and lanczos under its own name) scored into a copy of its store."""
    import sqlite3

    from typer.testing import CliRunner

    from vrbench.cli import app

    db, outputs, run = demo_run
    work = tmp_path_factory.mktemp("submissions")
    copy = work / "copy.sqlite"
    with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    cfg = parse_config({"name": "second-lab", "datasets": [{"name": "demo", "clips": ["bbb-bunny", "bikes-railing"]}],
                        "methods": ["bicubic", "lanczos"], "metrics": ["psnr-rgb", "ssim-y"]})
    assert run_benchmark(cfg, copy, outputs).failed == []
    files = (work / "lab-a.json", work / "lab-b.json")
    for name, store, file in ((run, db, files[0]), (cfg.name, copy, files[1])):
        out = CliRunner().invoke(app, ["export", name, "--store", str(store), "--submission", str(file)])
        assert out.exit_code == 0, out.output
    return files
