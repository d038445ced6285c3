"""Public dataset trees as researchers download them, as miniature replicas (real frames, the releases' own folder
and file names): each is read as the set it is, under every card that accepts it, or refused with a message that
says what was taken for a set and what for a clip, and which command reads it."""

from __future__ import annotations

import re
import shlex

import numpy as np
import pytest
from dataset_replicas import clip_frames, downscale, sides, spmcs_names, vimeo_names, write_pngs
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.errors import InputError
from vrbench.registry import DATASETS

runner = CliRunner()


def _clip_names(card_name: str) -> list[str]:
    return list(DATASETS.card(card_name).clip_names[:2]) or ["calendar", "city"]


SIDE_CASES = [  # (GT folder, LQ folder, card)
    ("gt", "lq", "folder"), ("gt", "lq", "udm10"), ("hr", "lr", "videolq"), ("HR", "LR", "folder"),
    ("GT", "BIx4", "folder"), ("Gt", "bdx4", "spmcs"), ("GT", "sharp_bicubic", "reds4"),
    ("GT", "sharp_bicubic", "folder"), ("GT", "input4", "youhq40"), ("gt", "blur4", "folder"),
]


@pytest.mark.parametrize(("gt_name", "lq_name", "card"), SIDE_CASES, ids=["-".join(c) for c in SIDE_CASES])
def test_side_folders_are_named_case_insensitively_under_every_card(gt_name, lq_name, card, tmp_path, bbb_frames):
    # e.g. BasicSR's REDS4 test set: REDS4/GT/000/00000000.png + REDS4/sharp_bicubic/000/00000000.png
    names = _clip_names(card)
    truth = sides(tmp_path / "set", bbb_frames, names, gt_name, lq_name)
    dataset = DATASETS.create(card, root=tmp_path / "set")
    clips = dataset.clips()
    assert dataset.report.found.layout == "canonical" and dataset.problems == []
    assert [c.name for c in clips] == names
    for clip in clips:
        if DATASETS.card(card).gt == "none":
            assert clip.lq.path.parent.name == lq_name
            continue
        assert clip.gt.path.parent.name == gt_name and clip.lq.path.parent.name == lq_name
        np.testing.assert_array_equal(clip.gt.read(), truth[clip.name])
        assert clip.lq.size == (8, 12)
    if lq_name.lower() not in ("lq", "lr"):
        assert clip.meta["lq_variant"] == ("BDx4" if lq_name.lower() in ("bdx4", "blur4") else "BIx4")


def test_a_gt_only_gt_folder_is_ground_truth_and_the_hint_makes_its_lq(tmp_path, bbb_frames, monkeypatch):
    monkeypatch.setenv("VRBENCH_DATA", str(tmp_path / "data"))
    truth = sides(tmp_path / "mine", bbb_frames, ["walk", "run"], "gt", None)
    dataset = DATASETS.create("folder", root=tmp_path / "mine")
    assert dataset.clips() == []
    report = dataset.report
    assert [c.gt_path.parent.name for c in report.clips] == ["gt", "gt"] and all(c.lq is None for c in report.clips)
    assert [p.clip for p in dataset.problems] == ["run", "walk"]
    hint = str(dataset.problems[0])
    assert "no LQ input for this clip" in hint and "GT only" in hint
    command = shlex.split(re.search(r"`vrbench (.+?)`", hint)[1])
    assert command[:4] == ["datasets", "prepare", "folder", "--from"]
    out = runner.invoke(app, command)
    assert out.exit_code == 0, out.output
    made = {c.name: c for c in DATASETS.create("folder").clips()}
    assert sorted(made) == ["run", "walk"] and made["walk"].lq.size == (8, 12)
    np.testing.assert_array_equal(made["walk"].gt.read(), truth["walk"])


def _spmc_authors_tree(root, bbb_frames, clips=("calendar", "city"), side="input4"):
    """jiangsutx/SPMC_VideoSR as cloned: data/test/<clip>/input4/Frame 001.png, no truth/ folders."""
    frames = {}
    for i, clip in enumerate(clips):
        gt = clip_frames(bbb_frames, i, frames=11)
        frames[clip] = gt if side == "truth" else downscale(gt, 4)
        write_pngs(root / "data" / "test" / clip / side, frames[clip], spmcs_names(11))
    (root / "README.md").write_text("SPMC video SR")
    return frames


def test_the_spmc_authors_lq_only_tree_is_a_set_of_clips_under_folder(tmp_path, bbb_frames):
    lq = _spmc_authors_tree(tmp_path / "SPMC_VideoSR", bbb_frames)
    dataset = DATASETS.create("folder", root=tmp_path / "SPMC_VideoSR")
    clips = dataset.clips()
    assert dataset.report.found.layout == "spmc" and dataset.report.found.root.name == "test"
    assert [c.name for c in clips] == ["calendar", "city"] and all(c.gt is None for c in clips)
    np.testing.assert_array_equal(clips[1].lq.read(), lq["city"])  # 'Frame 010.png' after 'Frame 009.png'
    # one clip folder on its own is a one-clip set named after it, never a clip named 'input4'
    (clip,) = DATASETS.create("folder", root=tmp_path / "SPMC_VideoSR" / "data" / "test" / "calendar").clips()
    assert clip.name == "calendar" and clip.lq.num_frames == 11


def test_the_spmc_authors_lq_only_tree_under_spmcs_says_how_to_read_it(tmp_path, bbb_frames):
    _spmc_authors_tree(tmp_path / "SPMC_VideoSR", bbb_frames)
    with pytest.raises(InputError, match=r"no ground truth, and the card requires it.*LQ only: 2 clips") as err:
        DATASETS.create("spmcs", root=tmp_path / "SPMC_VideoSR").clips()
    command = shlex.split(re.search(r"`vrbench (.+?)`", str(err.value))[1])
    out = runner.invoke(app, command, terminal_width=400)
    assert out.exit_code == 0, out.output
    assert "layout 'spmc'" in out.output and "2 of 2 clips load" in out.output


def test_per_clip_truth_only_sets_are_gt_only_and_the_hint_prepares_them(tmp_path, bbb_frames, monkeypatch):
    monkeypatch.setenv("VRBENCH_DATA", str(tmp_path / "data"))
    truth = _spmc_authors_tree(tmp_path / "SPMCS", bbb_frames, side="truth")
    dataset = DATASETS.create("spmcs", root=tmp_path / "SPMCS")
    assert dataset.clips() == [] and all(c.gt is not None for c in dataset.report.clips)
    assert any("per-clip GT folders only" in n for n in dataset.report.notes)
    command = shlex.split(re.search(r"`vrbench (.+?)`", str(dataset.problems[0]))[1])
    assert "--lq" in command
    out = runner.invoke(app, command)
    assert out.exit_code == 0, out.output
    prepared = DATASETS.create("spmcs").clips()
    assert [c.name for c in prepared] == ["calendar", "city"] and prepared[0].lq.size == (8, 12)
    np.testing.assert_array_equal(prepared[0].gt.read(), truth["calendar"])


def _vimeo(root, bbb_frames, clips, lq_folder="vimeo_septuplet_matlabLRx4"):
    """BasicSR's Vimeo-90K test: vimeo_septuplet/sequences/00001/0266/im1.png ... im7.png and the x4 LQ beside it."""
    truth = {}
    for i, clip in enumerate(clips):
        group, part = clip.split("/")
        truth[clip] = clip_frames(bbb_frames, i, frames=7)
        write_pngs(root / "vimeo_septuplet" / "sequences" / group / part, truth[clip], vimeo_names(7))
        if lq_folder:
            write_pngs(root / lq_folder / "sequences" / group / part, downscale(truth[clip], 4), vimeo_names(7))
    return truth


def test_vimeo90k_septuplets_pair_gt_with_the_lr_copy(tmp_path, bbb_frames):
    truth = _vimeo(tmp_path / "vimeo90k", bbb_frames, ["00001/0266", "00001/0268", "00002/0010"])
    (tmp_path / "vimeo90k" / "vimeo_septuplet" / "sep_testlist.txt").write_text("00001/0266\n00002/0010\n")
    dataset = DATASETS.create("folder", root=tmp_path / "vimeo90k")
    clips = dataset.clips()
    assert dataset.report.found.layout == "vimeo" and dataset.problems == []
    assert [c.name for c in clips] == ["00001_0266", "00002_0010"]  # the test list selects the septuplets
    assert clips[1].gt.num_frames == 7 and clips[1].lq.size == (8, 12)
    np.testing.assert_array_equal(clips[1].gt.read(), truth["00002/0010"])
    assert clips[1].lq.path.parts[-4:] == ("vimeo_septuplet_matlabLRx4", "sequences", "00002", "0010")


def test_vimeo90k_gt_alone_and_mmagic_two_level_copies(tmp_path, bbb_frames):
    _vimeo(tmp_path / "only", bbb_frames, ["00001/0266"], lq_folder=None)
    dataset = DATASETS.create("folder", root=tmp_path / "only" / "vimeo_septuplet")
    assert dataset.clips() == [] and dataset.report.clips[0].gt.num_frames == 7  # GT, not LQ
    assert "no LQ input" in str(dataset.problems[0])
    # mmagic's vimeo90k copy: GT/00001/0266/im1.png + BIx4/00001/0266/im1.png
    for i, (group, part) in enumerate([("00001", "0266"), ("00003", "0001")]):
        gt = clip_frames(bbb_frames, i, frames=7)
        write_pngs(tmp_path / "mm" / "GT" / group / part, gt, vimeo_names(7))
        write_pngs(tmp_path / "mm" / "BIx4" / group / part, downscale(gt, 4), vimeo_names(7))
    clips = DATASETS.create("folder", root=tmp_path / "mm").clips()
    assert [c.name for c in clips] == ["00001_0266", "00003_0001"] and clips[0].lq.size == (8, 12)


def test_candidate_sets_message_names_sets_their_clips_and_the_root_to_use(tmp_path, bbb_frames):
    sides(tmp_path / "dl" / "mine", bbb_frames, ["walk", "run"], "GT", "LQ")
    write_pngs(tmp_path / "dl" / "theirs" / "bus", clip_frames(bbb_frames, 3))
    with pytest.raises(InputError) as err:
        DATASETS.create("folder", root=tmp_path / "dl").clips()
    text = str(err.value)
    assert "several candidate sets found" in text
    assert "'mine' read as a set of 2 clips (canonical: run, walk)" in text
    assert "'theirs' read as a set of 1 clips (flat: bus)" in text
    command_root = re.search(r"e.g. --root (\S+)", text)[1]
    assert [c.name for c in DATASETS.create("folder", root=command_root).clips()] == ["run", "walk"]
