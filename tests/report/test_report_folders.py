"""Reports are written only into new, empty or vrbench-made folders, every file atomically (a SIGKILL leaves the old
complete file or the new complete one), and no CSV cell is a spreadsheet formula."""

from __future__ import annotations

import contextlib
import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from processes import dead_pid as _dead_pid
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.config import parse_config
from vrbench.errors import InputError
from vrbench.report.html import write_report
from vrbench.run import run_benchmark
from vrbench.store import Store

runner = CliRunner()
FORMULA = '=HYPERLINK("http://example.invalid","click")'
TRUSTED = ("index.html", "results.csv", "results.json", "leaderboard.csv", "leaderboard.md", "leaderboard.tex")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, demo_root) -> tuple[Path, Path]:
    """A store with two small runs on one demo clip: 'fs-a' (one label a formula, one an option) and 'fs-b'."""
    work = tmp_path_factory.mktemp("fs-runs")
    clip = {"name": "demo", "clips": ["bbb-bunny"]}
    for name, methods in (("fs-a", [{"name": "nearest", "label": FORMULA}, {"name": "bicubic", "label": "-o"}]),
                          ("fs-b", ["bicubic"])):
        cfg = parse_config({"name": name, "datasets": [clip], "methods": methods, "metrics": ["psnr-rgb"]})
        assert run_benchmark(cfg, work / "r.sqlite", work / "outputs").failed == []
    return work / "r.sqlite", work / "outputs"


def _report(db, run, out):
    return runner.invoke(app, ["report", run, "--store", str(db), "--out", str(out)])


def test_report_refuses_a_folder_vrbench_did_not_make(two_runs, tmp_path):
    db, _ = two_runs
    foreign = tmp_path / "paper"
    (foreign / "figures").mkdir(parents=True)
    (foreign / "index.html").write_text("my own page")
    out = _report(db, "fs-a", foreign)
    assert isinstance(out.exception, InputError) and "\n" not in str(out.exception)
    assert str(foreign) in str(out.exception) and "figures/" in str(out.exception)
    assert (foreign / "index.html").read_text() == "my own page" and sorted(p.name for p in foreign.iterdir()) == [
        "figures", "index.html"]
    # a new folder is made and marked; a marked folder (or an empty one) is written again
    assert _report(db, "fs-a", tmp_path / "new" / "rep").exit_code == 0
    assert (tmp_path / "new" / "rep" / ".vrbench-report").is_file()
    assert _report(db, "fs-b", tmp_path / "new" / "rep").exit_code == 0
    (tmp_path / "empty").mkdir()
    assert _report(db, "fs-b", tmp_path / "empty").exit_code == 0 and (tmp_path / "empty" / "index.html").is_file()


def test_a_run_name_never_leads_the_report_out_of_reports(two_runs, tmp_path, monkeypatch):
    db, _ = two_runs
    monkeypatch.chdir(tmp_path)
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "index.html").write_text("not yours")
    for name in ("../victim", str(tmp_path / "victim"), "a/../../victim"):
        out = runner.invoke(app, ["report", name, "--store", str(db)])
        assert isinstance(out.exception, InputError) and "cannot name a folder under reports/" in str(out.exception)
    assert (tmp_path / "victim" / "index.html").read_text() == "not yours"
    assert runner.invoke(app, ["report", "fs-b", "--store", str(db)]).exit_code == 0
    assert (tmp_path / "reports" / "fs-b" / "index.html").is_file()


def test_run_report_dir_refuses_a_foreign_folder_and_stale_outputs_are_removed(two_runs, tmp_path, demo_root):
    db, outputs = two_runs
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "todo.txt").write_text("keep me")
    # leftovers of a killed run beside one cached output: the new temporary name and the older one
    done = sorted(outputs.rglob("done.json"))[0].parent
    dead = _dead_pid()
    stale = [done.parent / f".{done.name}.vrbench.tmp-{dead}-{_host()}-0badf00d", done.parent / f"{done.name}.tmp-"
             f"{dead}-1700000000000000000"]
    live = done.parent / f".{done.name}.vrbench.tmp-{os.getpid()}-{_host()}-0badf00d"
    for folder in (*stale, live):
        (folder / "frames").mkdir(parents=True)
    shutil.rmtree(done)  # so that the rerun restores this output again
    config = tmp_path / "fs-b.yaml"
    config.write_text("name: fs-b\ndatasets: [{name: demo, clips: [bbb-bunny]}]\nmethods: [bicubic]\n"
                      "metrics: [psnr-rgb]\n")
    out = runner.invoke(app, ["run", str(config), "--store", str(tmp_path / "s.sqlite"), "--outputs", str(outputs),
                              "--report-dir", str(foreign)])
    assert isinstance(out.exception, InputError) and "todo.txt" in str(out.exception), out.output
    assert sorted(p.name for p in foreign.iterdir()) == ["todo.txt"]
    with Store(tmp_path / "s.sqlite") as store:
        assert store.runs() == []  # refused before the run, not after it
    out = runner.invoke(app, ["run", str(config), "--store", str(tmp_path / "s.sqlite"), "--outputs", str(outputs),
                              "--no-report"])
    assert out.exit_code == 0, out.output
    assert not any(p.exists() for p in stale) and live.is_dir()
    shutil.rmtree(live)


def test_csv_cells_never_start_a_formula(two_runs, tmp_path):
    db, _ = two_runs
    with Store(db) as store:
        out = Path(write_report(store, "fs-a", tmp_path / "rep")).parent
    for name in ("results.csv", "leaderboard.csv"):
        with open(out / name, newline="") as f:
            cells = [c for row in csv.reader(f) for c in row]
        assert [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))] == []
        assert [c for c in cells if c.startswith("-") and not _number(c)] == []
        labels = set(pd.read_csv(out / name, keep_default_na=False)["method"])
        assert "'" + FORMULA in labels and "'-o" in labels, labels
    values = pd.read_csv(out / "results.csv")["value"]
    assert pd.api.types.is_numeric_dtype(values)  # numbers are not touched


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _host() -> str:
    from vrbench.fsutil import host_id

    return host_id()


def _signature(path: Path):
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _contents(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in TRUSTED}


@pytest.mark.slow
def test_sigkill_while_reporting_leaves_the_old_or_the_new_complete_files(two_runs, tmp_path):
    db, _ = two_runs
    refs = {}
    for run in ("fs-a", "fs-b"):
        with Store(db) as store:
            refs[run] = _contents(Path(write_report(store, run, tmp_path / f"ref-{run}")).parent)
    assert refs["fs-a"]["index.html"] != refs["fs-b"]["index.html"]
    out = tmp_path / "rep"
    shutil.copytree(tmp_path / "ref-fs-a", out)

    def command(run, folder=out):
        return [sys.executable, "-m", "vrbench.cli", "report", run, "--store", str(db), "--out", str(folder)]

    start = time.monotonic()  # how long one report takes here: only to spread the kill moments over it
    subprocess.run(command("fs-b", tmp_path / "timing"), check=True, capture_output=True)
    span = time.monotonic() - start
    rng, kills = random.Random(15), 0
    for attempt in range(8):
        proc = subprocess.Popen(command(("fs-b", "fs-a")[attempt % 2]), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        if attempt < 4:  # the moment index.html starts to change
            before = _signature(out / "index.html")
            while proc.poll() is None and _signature(out / "index.html") == before:
                time.sleep(0.0002)
        else:  # a random moment of the whole command
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=rng.uniform(0.3, 1.0) * span)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        for name, data in _contents(out).items():
            assert data in (refs["fs-a"][name], refs["fs-b"][name]), f"{name} is neither report after attempt {attempt}"
    assert kills >= 1, "the test must actually interrupt a report"
    subprocess.run(command("fs-a"), check=True, capture_output=True)
    assert _contents(out) == refs["fs-a"]
    assert [p.name for p in out.iterdir() if ".tmp-" in p.name] == []  # the killed reports' temporaries are gone
