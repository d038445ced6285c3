"""`datasets prepare --dest DIR --force` replaces only a copy of the same dataset that vrbench prepared; anything
else is refused with one line that names the folder and what is in it, and never suggests --force; staging folders
of a killed prepare are removed by the next one."""

from __future__ import annotations

import json
import os

from dataset_replicas import build
from processes import dead_pid as _dead_pid
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.clikit import console
from vrbench.errors import InputError
from vrbench.fsutil import host_id, temp_name

runner = CliRunner()


def _thesis(folder):
    (folder / "thesis").mkdir(parents=True)
    (folder / "thesis" / "ch1.tex").write_text("\\chapter{One}\n")
    return folder / "thesis" / "ch1.tex"


def _prepare(*args):
    return runner.invoke(app, ["datasets", "prepare", *map(str, args)])


def _refusal(out) -> str:
    assert isinstance(out.exception, InputError), out.output
    text = str(out.exception)
    assert "\n" not in text
    return text


def test_force_never_deletes_a_folder_vrbench_did_not_prepare(tmp_path, bbb_frames):
    build("canonical", tmp_path / "src", bbb_frames, ["band"])
    dest = tmp_path / "mine"
    chapter = _thesis(dest)
    for flags in (["--force"], []):
        text = _refusal(_prepare("udm10", "--from", tmp_path / "src", "--dest", dest, *flags))
        assert str(dest) in text and "thesis/" in text and "vrbench did not prepare it" in text
        assert "--force" not in text
    assert chapter.read_text() == "\\chapter{One}\n" and sorted(p.name for p in dest.iterdir()) == ["thesis"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_force_replaces_a_prepared_copy_of_the_same_dataset_only(tmp_path, bbb_frames):
    build("canonical", tmp_path / "src", bbb_frames, ["band"])
    dest = tmp_path / "udm10"
    assert _prepare("udm10", "--from", tmp_path / "src", "--dest", dest).exit_code == 0
    marker = json.loads((dest / ".vrbench-dataset").read_text())
    assert marker["dataset"] == "udm10" and marker["made_by"] == "vrbench"
    # the prepared copy itself: --force is what the refusal suggests, and it works
    text = _refusal(_prepare("udm10", "--from", tmp_path / "src", "--dest", dest))
    assert "--force" in text
    (dest / "GT" / "band" / "00000000.png").write_bytes(b"damaged")
    assert _prepare("udm10", "--from", tmp_path / "src", "--dest", dest, "--force").exit_code == 0
    assert (dest / "GT" / "band" / "00000000.png").read_bytes() != b"damaged"
    # a vrbench copy of another dataset is not this one
    text = _refusal(_prepare("reds4", "--from", tmp_path / "src", "--dest", dest, "--force"))
    assert "a vrbench copy of 'udm10'" in text and "--force" not in text
    assert (dest / "manifest.json").is_file()


def test_a_copy_prepared_before_the_marker_is_still_recognised(tmp_path, bbb_frames):
    build("canonical", tmp_path / "src", bbb_frames, ["band"])
    dest = tmp_path / "udm10"
    assert _prepare("udm10", "--from", tmp_path / "src", "--dest", dest).exit_code == 0
    (dest / ".vrbench-dataset").unlink()
    assert _prepare("udm10", "--from", tmp_path / "src", "--dest", dest, "--force").exit_code == 0
    # a hand-made manifest naming the dataset is not enough
    (dest / ".vrbench-dataset").unlink()
    manifest = json.loads((dest / "manifest.json").read_text())
    (dest / "manifest.json").write_text(json.dumps({"dataset": "udm10", "files": manifest["files"]}))
    assert "vrbench did not prepare it" in _refusal(_prepare("udm10", "--from", tmp_path / "src", "--dest", dest,
                                                             "--force"))


def test_the_demo_never_replaces_a_foreign_folder(tmp_path):
    chapter = _thesis(tmp_path / "notdemo")
    text = _refusal(_prepare("demo", "--dest", tmp_path / "notdemo", "--force"))
    assert "thesis/" in text and "--force" not in text and chapter.is_file()


def test_staging_folders_of_a_killed_prepare_are_removed_by_the_next(tmp_path, bbb_frames, monkeypatch):
    monkeypatch.setattr(console, "width", 400)  # rich folds long lines at the default 80 columns
    build("canonical", tmp_path / "src", bbb_frames, ["band"])
    data = tmp_path / "data"
    mine = temp_name("udm10-staging")
    dead = mine.replace(f"-{os.getpid()}-", f"-{_dead_pid()}-")
    other_host = dead.replace(f"-{host_id()}-", "-00000000-" if host_id() != "00000000" else "-11111111-")
    user = ".udm10.tmp-keep"  # not a name vrbench gives
    for name in (mine, dead, other_host, user):
        (data / name / "UDM10").mkdir(parents=True)
        (data / name / "UDM10" / "big.bin").write_bytes(b"0" * 1024)
    out = _prepare("udm10", "--from", tmp_path / "src", "--dest", data / "udm10")
    assert out.exit_code == 0, out.output
    assert f"removed {dead}" in out.output
    left = sorted(p.name for p in data.iterdir())
    assert left == sorted([mine, other_host, user, "udm10"])  # a live process's, another host's and a user's stay
