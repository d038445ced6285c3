"""Frame alignment is checked, not assumed: the numbers in the names of an output's frames must run 0..T-1 or
1..T (no gaps, no duplicates), for the `folder` method and for frame folders a `command` tool writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vrbench.errors import InputError
from vrbench.methods.folder import names_from_args
from vrbench.registry import METHODS
from vrbench.video import frame_numbers, frame_sequence_problem, list_frame_files, open_video


@pytest.fixture
def outputs(tmp_path, demo_root) -> Path:
    """The demo GT of carphone (32 frames, 00000000.png ...) as a method's output folder."""
    shutil.copytree(demo_root / "GT" / "carphone", tmp_path / "out" / "carphone")
    return tmp_path / "out"


def _lq(demo_root):
    return open_video(demo_root / "LQ" / "carphone", name="carphone")


def test_a_renamed_frame_fails_the_clip_naming_the_folder_and_the_gap(outputs, demo_root):
    folder = outputs / "carphone"
    (folder / "00000005.png").rename(folder / "00000099.png")  # same count: today it is scored on shifted frames
    with pytest.raises(InputError) as err:
        METHODS.create("folder", root=outputs).restore(_lq(demo_root), scale=4)
    message = str(err.value)
    assert "frame numbers do not form the sequence 0..T-1 or 1..T" in message
    assert "clip 'carphone'" in message and str(folder) in message
    assert "'00000004.png' is followed by '00000006.png' (frame 5 missing)" in message
    assert "\n" not in message


def test_a_duplicate_number_fails_and_strict_names_off_scores_with_a_warning(outputs, demo_root):
    folder = outputs / "carphone"
    shutil.copy(folder / "00000005.png", folder / "0005.png")
    (folder / "00000031.png").unlink()  # the count still matches the GT
    with pytest.raises(InputError, match="'00000005.png' and '0005.png' both number frame 5"):
        METHODS.create("folder", root=outputs).restore(_lq(demo_root), scale=4)
    method = METHODS.create("folder", root=outputs, strict_names=False)
    out = method.restore(_lq(demo_root), scale=4)
    assert out.num_frames == 32 and out.read().shape == (32, 144, 176, 3)
    assert method.warnings["carphone"] == (
        "warning: frame names do not number a sequence ('00000005.png' and '0005.png' both number frame 5); "
        "taken in natural order as strict_names is off",)
    assert method.config()["strict_names"] is False
    assert "strict_names" not in METHODS.create("folder", root=outputs).config()  # old configs keep their hash


def test_numbering_from_one_and_tool_specific_names_are_accepted(tmp_path, demo_root):
    source = list_frame_files(demo_root / "GT" / "carphone")
    for name in ("Frame {:03d}.png", "carphone_x4_{:04d}.png", "{:05d}_out.png", "im{}.png"):
        folder = tmp_path / name.split("{")[0].strip("_ ") / "carphone"
        folder.mkdir(parents=True)
        for i, f in enumerate(source, start=1):
            shutil.copy(f, folder / name.format(i))
        out = METHODS.create("folder", root=folder.parent).restore(_lq(demo_root), scale=4)
        assert out.num_frames == 32 and out.conversions == (), name
    assert frame_numbers([Path("a_x4_0007.png"), Path("a_x4_0008.png")]) == [7, 8]
    assert frame_sequence_problem([Path("a.png"), Path("b.png")]) == "'a.png' holds no frame number"
    assert frame_sequence_problem([Path("f_3.png"), Path("f_4.png")]) == (
        "the first frame is 'f_3.png' (number 3), not 0 or 1")


def test_names_from_the_command_line(tmp_path):
    (tmp_path / "names.json").write_text('{"bikes-railing": "bikes_railing"}')
    (tmp_path / "names.yaml").write_text("carphone: carphone_ours.mp4\n")
    assert names_from_args([str(tmp_path / "names.json"), str(tmp_path / "names.yaml"), "a=b/c.mp4"]) == {
        "bikes-railing": "bikes_railing", "carphone": "carphone_ours.mp4", "a": "b/c.mp4"}
    with pytest.raises(InputError, match="names must be clip=name or a YAML/JSON file"):
        names_from_args(["carphone"])
