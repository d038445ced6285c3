"""Bad input is reported per clip, naming the file, and the rest of the set still loads; long clips stay lazy."""

from __future__ import annotations

import pytest
from dataset_replicas import clip_frames, downscale, write_pngs

from vrbench.data.integrity import verify_dataset
from vrbench.errors import InputError
from vrbench.registry import DATASETS


def _pair(root, name, gt, lq=None):
    if gt is not None:
        write_pngs(root / "GT" / name, gt)
    write_pngs(root / "LQ" / name, downscale(gt, 4) if lq is None else lq)


def test_each_bad_clip_is_reported_with_its_file_and_the_rest_loads(tmp_path, bbb_frames):
    root = tmp_path / "SPMCS"
    gt = [clip_frames(bbb_frames, i) for i in range(8)]
    _pair(root, "calendar", gt[0])
    _pair(root, "city", gt[1])
    write_pngs(root / "LQ" / "no-gt", downscale(gt[2], 4))
    _pair(root, "short-lq", gt[3], downscale(gt[3], 4)[:2])
    _pair(root, "mixed", gt[4])
    write_pngs(root / "GT" / "mixed", clip_frames(bbb_frames, 4, hw=(36, 48))[:1], ["00000001.png"])
    (root / "GT" / "empty").mkdir()
    (root / "GT" / "empty" / "notes.txt").write_text("nothing here")
    write_pngs(root / "LQ" / "empty", downscale(gt[5], 4))
    _pair(root, "garbage", gt[6])
    (root / "GT" / "garbage" / "00000002.png").write_bytes(b"this is not a png at all")
    _pair(root, "zero", gt[7])
    (root / "LQ" / "zero" / "00000000.png").write_bytes(b"")

    dataset = DATASETS.create("spmcs", root=root)
    clips = dataset.clips()
    assert [c.name for c in clips] == ["calendar", "city"]
    by = {p.clip: str(p) for p in dataset.problems}
    assert sorted(by) == ["empty", "garbage", "mixed", "no-gt", "short-lq", "zero"]
    assert by["no-gt"].startswith("no ground truth for this clip (clip 'no-gt' of spmcs, file ")
    assert str(root / "LQ" / "no-gt") in by["no-gt"]
    assert "GT and LQ have different frame counts" in by["short-lq"] and "expected 3 frames" in by["short-lq"]
    assert "found 2 frames" in by["short-lq"] and str(root / "LQ" / "short-lq") in by["short-lq"]
    assert "frame size differs within the clip" in by["mixed"]
    assert "GT/mixed/00000001.png" in by["mixed"] and "expected 48x32" in by["mixed"] and "found 48x36" in by["mixed"]
    assert "empty clip folder" in by["empty"] and "GT/empty" in by["empty"] and "notes.txt" in by["empty"]
    assert "unreadable frame" in by["garbage"] and "GT/garbage/00000002.png" in by["garbage"]
    assert "unreadable frame" in by["zero"] and "LQ/zero/00000000.png" in by["zero"] and "an empty file" in by["zero"]
    assert all(isinstance(p.error, InputError) and p.error.clip == p.clip for p in dataset.problems)


def test_gt_not_x4_of_lq_is_a_problem_but_a_floor_remainder_is_a_note(tmp_path, bbb_frames):
    gt = clip_frames(bbb_frames, 0, hw=(34, 50))  # 50x34 -> LQ 12x8 by flooring: outputs are 48x32
    _pair(tmp_path, "odd", gt)
    _pair(tmp_path, "wrong", clip_frames(bbb_frames, 1), downscale(clip_frames(bbb_frames, 1), 2))
    dataset = DATASETS.create("spmcs", root=tmp_path)
    (clip,) = dataset.clips()
    assert clip.name == "odd" and "not a multiple of x4" in clip.meta["notes"][0]
    (problem,) = dataset.problems
    assert "GT size is not x4 of the LQ size" in str(problem) and "expected GT 96x64" in str(problem)
    assert "found GT 48x32" in str(problem)


def test_long_clips_load_lazily_and_damage_inside_a_frame_shows_when_read(tmp_path, bbb_frames):
    frames = clip_frames(bbb_frames, 0, frames=120, hw=(8, 8))
    files = write_pngs(tmp_path / "LQ" / "long", frames)
    damaged = files[100]
    damaged.write_bytes(damaged.read_bytes()[:-30])  # headers intact, the end of the pixel data cut off
    dataset = DATASETS.create("movielq", root=tmp_path)
    (clip,) = dataset.clips()  # only headers are read: the clip loads
    assert clip.lq.num_frames == 120 and dataset.problems == []
    chunks = clip.lq.iter_chunks(16)
    assert sum(len(next(chunks)) for _ in range(6)) == 96  # frames stream chunk by chunk
    with pytest.raises(InputError, match="cannot decode image.*00000100.png"):
        next(chunks)
    result = verify_dataset(DATASETS.card("movielq"), tmp_path, decode=True)
    assert result.wrote_manifest and len(result.decode_errors) == 1 and "00000100.png" in result.decode_errors[0]
