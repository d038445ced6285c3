"""The one home of safe writes: atomic replacement, folder markers, CSV cells, and `vrbench clean`, which removes
only the temporaries of vrbench processes that are gone, never anything else."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from processes import dead_pid as _dead_pid
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.clikit import console
from vrbench.errors import InputError
from vrbench.fsutil import (
    atomic_path,
    atomic_write_text,
    claim_folder,
    csv_cell,
    host_id,
    is_vrbench_made,
    temp_name,
    write_csv,
)


def _temp(folder, base, pid=None, host=None):
    name = temp_name(base).replace(f"-{os.getpid()}-", f"-{pid if pid is not None else os.getpid()}-")
    return folder / name.replace(f"-{host_id()}-", f"-{host or host_id()}-")


def test_a_failed_atomic_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = atomic_write_text(tmp_path / "index.html", "old page")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half a new pa")
        raise RuntimeError("killed while writing")
    assert target.read_text() == "old page" and sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]
    atomic_write_text(target, "new page")
    assert target.read_text() == "new page" and sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]


def test_a_link_in_place_of_the_target_is_replaced_not_followed(tmp_path):
    (tmp_path / "elsewhere.txt").write_text("someone else's file")
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "results.json").symlink_to(tmp_path / "elsewhere.txt")
    atomic_write_text(tmp_path / "rep" / "results.json", "{}")
    assert (tmp_path / "elsewhere.txt").read_text() == "someone else's file"
    assert (tmp_path / "rep" / "results.json").read_text() == "{}"


@pytest.mark.parametrize(("cell", "written"), [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-o", "'-o"), ("@cmd", "'@cmd"), ("\tx", "'\tx"),
    ("\r=x", "'\r=x"), ("-inf", "-inf"), ("-0.25", "-0.25"), ("ours-v2", "ours-v2"), ("", ""), (-1.5, -1.5)])
def test_csv_cells_that_start_a_formula_are_neutralised(cell, written):
    assert csv_cell(cell) == written


def test_write_csv_neutralises_text_and_keeps_numbers(tmp_path):
    frame = pd.DataFrame({"method": ["=HYPERLINK(\"x\")", "ok"], "value": [-1.0, 2.0], "=col": ["a", "b"]})
    write_csv(frame, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv")
    assert list(back.columns) == ["method", "value", "'=col"]
    assert back["method"].tolist() == ["'=HYPERLINK(\"x\")", "ok"] and back["value"].tolist() == [-1.0, 2.0]


def test_claim_folder_takes_only_new_empty_or_marked_folders(tmp_path):
    assert is_vrbench_made(claim_folder(tmp_path / "a" / "b", "report", run="r1"), "report", run="r1")
    (tmp_path / "a" / "b" / "index.html").write_text("x")
    claim_folder(tmp_path / "a" / "b", "report", run="r2")  # vrbench's: written again, marked anew
    assert is_vrbench_made(tmp_path / "a" / "b", "report", run="r2")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    (tmp_path / "mine" / ".vrbench-report").write_text('{"made_by": "someone"}')  # not a marker vrbench wrote
    with pytest.raises(InputError, match=r"did not make .* 2 entries: \.vrbench-report, thesis\.tex"):
        claim_folder(tmp_path / "mine", "report")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="found a file"):
        claim_folder(tmp_path / "file", "report")
    assert (tmp_path / "file").read_text() == "x"


def test_clean_removes_only_dead_temporaries_of_this_host(tmp_path, monkeypatch):
    monkeypatch.setattr(console, "width", 400)  # rich folds long lines at the default 80 columns
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VRBENCH_DATA", str(tmp_path / "data"))
    seed = tmp_path / "outputs" / "bicubic" / "0123abcd" / "steps-none" / "seed-0"
    finished = seed / "00112233445566ff"
    (finished / "frames").mkdir(parents=True)
    (finished / "done.json").write_text("{}")
    dead = _dead_pid()
    remove = [_temp(seed, finished.name, dead), seed / f"{finished.name}.tmp-{dead}-1700000000000000000",
              _temp(tmp_path / "data", "udm10-staging", dead), _temp(tmp_path / "reports" / "r", "index.html", dead),
              _temp(tmp_path / "degraded", "lq", dead)]
    keep = [_temp(seed, finished.name), _temp(seed, finished.name, dead, host="ffffffff" if host_id() != "ffffffff"
                                              else "00000000"),
            seed / "notes.tmp-1-2", tmp_path / "data" / ".udm10.tmp-abc", tmp_path / "degraded" / "lq",
            _temp(tmp_path / "elsewhere", "x", dead)]
    for path in remove + keep:
        path.mkdir(parents=True)
        (path / "f").write_text("x")
    args = ["clean", str(tmp_path / "degraded"), "--outputs", str(tmp_path / "outputs")]
    out = CliRunner().invoke(app, [*args, "--dry-run"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert all(any(line.startswith("would remove") and line.endswith(str(p.relative_to(tmp_path))) for line in lines)
               for p in remove) and "5 stale" in out.output, out.output
    assert all(p.is_dir() for p in remove + keep)
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0 and sum(line.startswith("removed ") for line in out.output.splitlines()) == 5
    assert not any(p.exists() for p in remove) and all(p.is_dir() for p in keep) and finished.is_dir()
    assert "0 stale" in CliRunner().invoke(app, args).output
