"""What `vrbench datasets` tells a researcher holds: `list` suggests only commands that work here, `prepare` decodes
every frame it checksums, and its messages name the archive a file came from, never the deleted staging folder."""

from __future__ import annotations

import json
import re
import shlex
import zipfile

import pytest
from dataset_replicas import build
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.data.prepare import prepare_dataset
from vrbench.errors import InputError
from vrbench.registry import DATASETS

runner = CliRunner()


def _zip(folder, archive):
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder).as_posix())
    return archive


def _suggested(pattern: str = "*") -> dict[str, list[str]]:
    out = runner.invoke(app, ["datasets", "list", pattern, "--json"])
    assert out.exit_code == 0, out.output
    return {row["name"]: re.findall(r"`vrbench ([^`]+)`", row["status_here"]) for row in json.loads(out.output)}


def test_list_suggests_only_commands_that_work_here(tmp_path, bbb_frames, monkeypatch):
    monkeypatch.setenv("VRBENCH_DATA", str(tmp_path / "data"))  # nothing prepared; the tests run offline
    suggested = _suggested()
    assert suggested["demo"] == ["datasets prepare demo"]
    for name, commands in suggested.items():
        for command in commands:  # offline, every set but the demo needs files fetched by hand first
            assert command == "datasets prepare demo" or command == f"datasets prepare {name} --from PATH", name
    out = runner.invoke(app, shlex.split(suggested["demo"][0]))
    assert out.exit_code == 0, out.output
    assert "demo: 4 clips" in out.output and _suggested("demo")["demo"] == []
    out = runner.invoke(app, ["datasets", "prepare", "demo", "--lq", "released"])
    assert out.exit_code != 0 and "--from and --lq do not apply" in str(out.exception)
    # a --from PATH suggestion works once PATH holds the set, in a layout its card accepts
    build("flat", tmp_path / "dl" / "AIGC28", bbb_frames, ["gen-1", "gen-2"], gt=False)
    build("spmc", tmp_path / "dl" / "SPMCS", bbb_frames, ["calendar", "city"])
    for name, folder in (("aigc28", "AIGC28"), ("spmcs", "SPMCS")):
        (command,) = suggested[name]
        out = runner.invoke(app, shlex.split(command.replace("PATH", str(tmp_path / "dl" / folder))))
        assert out.exit_code == 0, out.output
        assert f"{name}: 2 clips" in out.output


def test_prepare_decodes_what_it_checksums_and_names_the_archive(tmp_path, bbb_frames):
    build("spmc", tmp_path / "src" / "SPMCS", bbb_frames, ["calendar", "city"])
    frame = tmp_path / "src" / "SPMCS" / "city" / "truth" / "Frame 002.png"
    frame.write_bytes(frame.read_bytes()[: frame.stat().st_size // 2])  # truncated: the header is still intact
    assert len(DATASETS.create("spmcs", root=tmp_path / "src").clips()) == 2  # the header checks cannot see it
    archive = _zip(tmp_path / "src", tmp_path / "SPMCS-original.zip")
    lines: list[str] = []
    dest = tmp_path / "data" / "spmcs"
    manifest = prepare_dataset(DATASETS.card("spmcs"), [archive], dest=dest, log=lines.append)
    assert sorted(manifest["clips"]) == ["calendar"]
    (problem,) = manifest["problems"]
    assert "cannot decode image" in problem and "SPMCS-original.zip:SPMCS/city/truth/Frame 002.png" in problem
    (left_out,) = [line for line in lines if "left out" in line]
    assert "\n" not in left_out and "Frame 002.png" in left_out and "staging" not in left_out
    assert not (dest / "GT" / "city").exists() and all((dest / rel).is_file() for rel in manifest["files"])
    assert [c.name for c in DATASETS.create("spmcs", root=dest).clips()] == ["calendar"]


def test_prepare_errors_never_show_the_deleted_staging_folder(tmp_path, bbb_frames):
    build("spmc", tmp_path / "one" / "SPMCS", bbb_frames, ["calendar"])
    frame = tmp_path / "one" / "SPMCS" / "calendar" / "input4" / "Frame 003.png"
    frame.write_bytes(frame.read_bytes()[:60])
    archive = _zip(tmp_path / "one", tmp_path / "SPMCS-one.zip")
    with pytest.raises(InputError) as err:
        prepare_dataset(DATASETS.card("spmcs"), [archive], dest=tmp_path / "spmcs", log=lambda _m: None)
    text = str(err.value)
    assert text.startswith("no usable clips") and "staging" not in text
    assert "file SPMCS-one.zip:SPMCS" in text and "SPMCS-one.zip:SPMCS/calendar/input4/Frame 003.png" in text
    (tmp_path / "odd" / "a" / "b").mkdir(parents=True)
    (tmp_path / "odd" / "a" / "b" / "notes.txt").write_text("not a dataset")
    archive = _zip(tmp_path / "odd", tmp_path / "odd.zip")
    with pytest.raises(InputError) as err:
        prepare_dataset(DATASETS.card("udm10"), [archive], dest=tmp_path / "udm10", log=lambda _m: None)
    text = str(err.value)
    assert text.startswith("no known dataset layout found (dataset 'udm10', file odd.zip")
    assert "staging" not in text and not list(tmp_path.glob(".*"))
