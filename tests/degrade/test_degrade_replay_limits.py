"""Replay manifests are data from outside: sizes and parameters beyond the preset's ranges or the pixel budget are
refused with one line before anything is allocated."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.degrade import degrade_clip, replay_manifest
from vrbench.degrade.manifest import card_stages, check_manifest, read_manifest
from vrbench.errors import InputError
from vrbench.video import write_frames

runner = CliRunner()


@pytest.fixture(scope="module")
def made(bunny):
    return degrade_clip(bunny, preset="realbasicvsr-x4", seed=1, clip_id="bunny")


def _stage(manifest: dict, op: str) -> dict:
    return next(s for s in manifest["stages"] if s["op"] == op and any(s.get("frames") or [None]))


def test_an_untouched_manifest_passes_and_replays(bunny, made):
    lq, manifest = made
    check_manifest(manifest)
    assert np.array_equal(replay_manifest(bunny, manifest), lq)


def test_a_resize_to_20000_squared_is_refused(made):
    manifest = copy.deepcopy(made[1])
    entry = next(e for e in _stage(manifest, "resize")["frames"] if e is not None)
    entry.update(height=20000, width=20000)
    with pytest.raises(InputError, match=r"resizes beyond the preset's range \(clip 'bunny'\): expected at most "
                                         r"\d+x\d+ \(GT 128x96 x \d.*found 20000x20000"):
        check_manifest(manifest)


def _card_copy(manifest: dict) -> dict:
    """The blur stage of the manifest's own copy of its card, made the one that counts (its hash no longer matches
    the installed preset's, as for a card file or an older preset version)."""
    manifest["preset"]["sha256"] = "0" * 64
    return next(s for s in manifest["preset"]["stages"] if s["op"] == "blur")


def test_the_installed_preset_decides_when_the_manifest_copy_matches_its_hash(made):
    manifest = copy.deepcopy(made[1])
    for stage in card_stages(manifest["preset"]["stages"]):
        if stage["op"] == "blur":
            stage["sizes"] = [1]  # the manifest's copy edited, its hash unchanged
    check_manifest(manifest)  # the shipped card's ranges apply, not the edited copy's
    _card_copy(manifest)
    with pytest.raises(InputError, match="uses a kernel size its preset does not list"):
        check_manifest(manifest)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda m: next(e for e in _stage(m, "blur")["frames"] if e).update(size=10001),
     "uses a kernel size its preset does not list"),
    (lambda m: m["gt"].update(height=40000, width=40000), "frame exceeds the pixel budget"),
    (lambda m: m.update(scale=7), "manifest scale is not one its preset allows"),
    (lambda m: _card_copy(m).update(sizes=[999]), "bad kernel sizes"),
    (lambda m: m.pop("preset"), "manifest lacks its preset card"),
])
def test_out_of_range_parameters_are_refused(made, edit, message):
    manifest = copy.deepcopy(made[1])
    edit(manifest)
    with pytest.raises(InputError, match=message):
        check_manifest(manifest)


def test_replay_from_the_command_line_says_one_line(tmp_path, bunny, made):
    manifest = copy.deepcopy(made[1])
    next(e for e in _stage(manifest, "resize")["frames"] if e is not None).update(height=20000, width=20000)
    write_frames(bunny, tmp_path / "gt")
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    out = runner.invoke(app, ["degrade", "--replay", str(tmp_path / "m.json"), "--gt", str(tmp_path / "gt"),
                              str(tmp_path / "lq")])
    assert out.exit_code == 2 and out.output.count("\n") == 1, out.output
    assert out.output.startswith("error: manifest stage") and "resizes beyond the preset's range" in out.output
    with pytest.raises(InputError):
        read_manifest(tmp_path / "m.json")
