"""Listing commands: piped tables keep each entry on one line, `--json` is machine-readable, and the status
columns give the verdict of the same checks a run makes (method runnable, metric ready)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.clikit import json_key
from vrbench.errors import InputError
from vrbench.metrics.engine import build_metrics
from vrbench.registry import DATASETS, METHODS, METRICS

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[1] / "method_adapters" / "examples"

LISTINGS = {
    ("datasets", "list"): ["name", "kind", "clips", "frames", "scale", "LQ", "status here", "summary"],
    ("methods", "list"): ["name", "kind", "steps", "scale", "seed", "runnable here", "summary"],
    ("metrics", "list"): ["name", "kind", "dir", "range", "ver", "status", "convention"],
    ("weights", "status"): ["file", "used by", "status", "path", "url"],
}


def _vrbench(*args: str, **env: str) -> str:
    """Run the installed command line with stdout piped (not a terminal) and a narrow COLUMNS."""
    proc = subprocess.run([sys.executable, "-m", "vrbench.cli", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, "COLUMNS": "40", **env})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _rows(table: str) -> dict[str, list[str]]:
    return {cells[0]: cells for line in table.splitlines() if line.startswith("│")
            for cells in [[c.strip() for c in line.strip("│").split("│")]]}


def test_piped_metrics_list_keeps_every_name_and_its_row_on_one_line():
    out = _vrbench("metrics", "list")
    rows = _rows(out)
    assert set(rows) == set(METRICS.names())  # no name folded into two cells
    (line,) = [x for x in out.splitlines() if "dover-tech100" in x]  # what `| grep dover-tech100` finds
    assert "needs DOVER.pth" in line and "100 sigmoid((T - 0.1107) / 0.07355)" in line
    assert rows["psnr-y"][5] == "ready"


def test_narrow_cli_runner_tables_do_not_fold_names():
    for command, columns in LISTINGS.items():
        out = runner.invoke(app, list(command), terminal_width=30)
        assert out.exit_code == 0, out.output
        rows = _rows(out.output)
        assert all(len(cells) == len(columns) for cells in rows.values()), command
        names = {"datasets": DATASETS.names(), "methods": METHODS.names(), "metrics": METRICS.names()}
        if command[0] in names:
            assert set(rows) == set(names[command[0]]), command


@pytest.mark.parametrize("command", list(LISTINGS), ids=" ".join)
def test_json_lists_one_object_per_entry_with_the_columns_as_keys(command):
    out = runner.invoke(app, [*command, "--json"])
    assert out.exit_code == 0, out.output
    records = json.loads(out.output)
    assert records and all(list(r) == [json_key(c) for c in LISTINGS[command]] for r in records)
    by_name = {r.get("name", r.get("file")): r for r in records}
    if command == ("metrics", "list"):
        assert set(by_name) == set(METRICS.names()) and by_name["vmaf"]["dir"] == "↑"
    if command == ("methods", "list"):
        assert by_name["bicubic"]["runnable_here"] == "yes" and by_name["satb"]["steps"] == "4*"
    if command == ("datasets", "list"):
        assert by_name["demo"]["lq"] and "[" not in by_name["demo"]["status_here"]  # markup stripped
    if command == ("weights", "status"):
        assert set(by_name["RN50.pt"]["used_by"].split(", ")) == {"clipiqa", "clip-consistency"}
        assert by_name["DOVER.pth"]["status"] == "missing"


def test_json_takes_the_pattern_too():
    records = json.loads(runner.invoke(app, ["metrics", "list", "ewarp*", "--json"]).output)
    assert [r["name"] for r in records] == ["ewarp", "ewarp-dis", "ewarp-gt", "ewarp-gt-dis"]


def _card_with_python(tmp_path: Path, python: str) -> Path:
    """The stand-in example card, renamed and pointed at `python` and the example tool."""
    folder = tmp_path / "adapters"
    folder.mkdir(exist_ok=True)
    data = yaml.safe_load((EXAMPLES / "standin-x4.yaml").read_text())
    data["name"], data["vars"]["python"] = "probe-standin", python
    text = yaml.safe_dump(data).replace("{card_dir}", str(EXAMPLES))
    (folder / "probe-standin.yaml").write_text(text)
    return folder


def _python_without_site_packages(tmp_path: Path) -> str:
    """This interpreter started with -S: a real Python that cannot import numpy or cv2."""
    wrapper = tmp_path / "bare-python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def test_methods_list_tries_the_imports_the_tool_needs(tmp_path):
    bare = _python_without_site_packages(tmp_path)
    folder = _card_with_python(tmp_path, bare)
    line = [x for x in _vrbench("methods", "list", VRBENCH_METHOD_ADAPTERS=str(folder)).splitlines()
            if "probe-standin" in x][0]
    assert f"no: {bare} cannot import numpy (ModuleNotFoundError" in line and "cannot import cv2" in line
    # building the method for a run refuses for the same reason
    from vrbench.methods.catalog import load_into
    from vrbench.registry import Registry

    reg = Registry("method", "vrbench.tests-no-entry-points")
    load_into(reg, [folder])
    with pytest.raises(InputError, match="cannot import cv2"):
        reg.create("probe-standin")
    # with an interpreter that has them, the list says what it checked and what it did not
    folder = _card_with_python(tmp_path, sys.executable)
    records = json.loads(_vrbench("methods", "list", "probe-*", "--json", VRBENCH_METHOD_ADAPTERS=str(folder)))
    assert records[0]["runnable_here"] == ("yes (program, 1 required file(s) found; it imports numpy, cv2; the tool "
                                           "itself is not run until a benchmark does)")


def test_a_program_that_is_not_python_is_not_taken_for_one(tmp_path):
    folder = _card_with_python(tmp_path, "/bin/true")
    records = json.loads(_vrbench("methods", "list", "probe-*", "--json", VRBENCH_METHOD_ADAPTERS=str(folder)))
    assert records[0]["runnable_here"].startswith("no: /bin/true did not run as a Python interpreter")


def _status_and_run_verdicts() -> tuple[dict[str, str], dict[str, str]]:
    listed = {r["name"]: r["status"] for r in json.loads(runner.invoke(app, ["metrics", "list", "--json"]).output)}
    built = build_metrics(sorted(listed), "cpu")
    run = {**dict.fromkeys(built.ready, "ready"), **{n: e.reason for n, e in built.unavailable.items()}}
    return listed, run


def test_metrics_list_status_is_what_the_run_finds(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    listed, run = _status_and_run_verdicts()
    assert set(listed) == set(run)
    for name in listed:
        assert (listed[name] == "ready") == (run[name] == "ready"), name
    assert listed["clip-consistency"] == "needs RN50.pt" and run["clip-consistency"] == "weights missing"
    assert listed["vmaf"] == "ready" and listed["flicker"] == "ready"


def test_a_weights_file_with_the_wrong_checksum_is_not_ready_in_the_list_either(tmp_path, monkeypatch):
    from vrbench.metrics.learned import CLIP_RN50

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS", raising=False)
    CLIP_RN50.path.parent.mkdir(parents=True)
    CLIP_RN50.path.write_bytes(b"not the CLIP RN50 checkpoint")
    listed, run = _status_and_run_verdicts()
    assert listed["clip-consistency"] == run["clip-consistency"] == "weights have the wrong checksum"
    assert listed["clipiqa"] == run["clipiqa"] == "weights have the wrong checksum"
