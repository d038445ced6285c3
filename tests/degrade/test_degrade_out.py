"""`vrbench degrade IN OUT` never overwrites: an existing manifest, video or file at OUT is refused; the LQ appears at
OUT complete or not at all, and what a killed degrade left beside OUT is removed by the next one."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from processes import dead_pid as _dead_pid
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.fsutil import host_id
from vrbench.video import list_frame_files, open_video, write_frames


@pytest.fixture(scope="module")
def gt_folder(tmp_path_factory, bbb_frames):
    folder = tmp_path_factory.mktemp("gt") / "bunny"
    write_frames(bbb_frames, folder)
    return folder


def _degrade(*args):
    result = CliRunner().invoke(app, ["degrade", "--preset", "bd-x4", *map(str, args)])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes is not None else "")


def test_an_existing_manifest_or_file_at_out_is_refused(gt_folder, tmp_path):
    (tmp_path / "lq").mkdir()
    (tmp_path / "lq" / "manifest.json").write_text('{"mine": true}')
    code, out = _degrade(gt_folder, tmp_path / "lq")
    assert code == 2 and "manifest already exists" in out and str(tmp_path / "lq" / "manifest.json") in out
    assert [p.name for p in (tmp_path / "lq").iterdir()] == ["manifest.json"]
    assert json.loads((tmp_path / "lq" / "manifest.json").read_text()) == {"mine": True}
    for name in ("clip.mkv", "clip.mp4", "plain"):
        (tmp_path / name).write_bytes(b"precious")
        code, out = _degrade(gt_folder, tmp_path / name)
        assert code == 2 and "already exists" in out and (tmp_path / name).read_bytes() == b"precious", out
    (tmp_path / "new.mkv.manifest.json").write_text("{}")
    code, out = _degrade(gt_folder, tmp_path / "new.mkv")
    assert code == 2 and not (tmp_path / "new.mkv").exists(), out
    assert (tmp_path / "new.mkv.manifest.json").read_text() == "{}"


def test_replay_never_overwrites_the_manifest_it_replays(gt_folder, tmp_path):
    assert _degrade(gt_folder, tmp_path / "lq")[0] == 0
    before = (tmp_path / "lq" / "manifest.json").read_bytes()
    result = CliRunner().invoke(app, ["degrade", "--replay", str(tmp_path / "lq" / "manifest.json"),
                                      str(tmp_path / "lq")])
    assert result.exit_code == 2 and (tmp_path / "lq" / "manifest.json").read_bytes() == before


def test_a_folder_with_other_files_gets_the_frames_and_keeps_them(gt_folder, tmp_path):
    (tmp_path / "lq").mkdir()
    (tmp_path / "lq" / "README.txt").write_text("notes")
    code, out = _degrade(gt_folder, tmp_path / "lq")
    assert code == 0, out
    assert (tmp_path / "lq" / "README.txt").read_text() == "notes" and open_video(tmp_path / "lq").num_frames == 12
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _complete(out) -> bool:
    manifest = json.loads((out / "manifest.json").read_text())
    return len(list_frame_files(out)) == manifest["lq"]["frames"] == 12


@pytest.mark.slow
def test_a_killed_degrade_leaves_no_partial_clip_and_the_next_cleans_up(gt_folder, tmp_path):
    stale = tmp_path / f".lq.vrbench.tmp-{_dead_pid()}-{host_id()}-0badf00d"
    (stale / "00000000.png").parent.mkdir()
    (stale / "00000000.png").write_bytes(b"partial")
    cmd = [sys.executable, "-m", "vrbench.cli", "degrade", "--preset", "bd-x4", str(gt_folder), str(tmp_path / "lq")]
    out, kills = tmp_path / "lq", 0
    for _ in range(6):  # killed the moment anything new appears beside OUT (its frames being written)
        before = set(os.listdir(tmp_path))
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        while proc.poll() is None and set(os.listdir(tmp_path)) <= before:
            time.sleep(0.0005)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        assert not out.exists() or _complete(out), sorted(p.name for p in out.iterdir())
        if kills:
            break
        shutil.rmtree(out)  # it finished before the kill: try again
    assert kills >= 1, "the test must actually interrupt a degrade"
    assert not stale.exists()  # removed by the first degrade that ran
    if not out.exists():
        assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert _complete(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lq"]  # the killed runs' staging folders are gone
