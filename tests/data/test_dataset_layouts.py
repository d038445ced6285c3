"""Layout details with the real naming: SPMCS 'Frame 001.png', mmagic BIx4/BDx4, REDS splits, DOVE videos, flat sets."""

from __future__ import annotations

import numpy as np
import pytest
from dataset_replicas import build, clip_frames, downscale, write_pngs

from vrbench.errors import InputError
from vrbench.registry import DATASETS
from vrbench.video import write_video_lossless


def test_spmcs_original_layout_keeps_natural_frame_order(tmp_path, bbb_frames):
    # 12 frames named without zero padding: 'Frame 10.png' must come after 'Frame 9.png', not after 'Frame 1.png'
    gt = clip_frames(bbb_frames, 0, frames=12)
    names = [f"Frame {i + 1}.png" for i in range(12)]
    write_pngs(tmp_path / "SPMCS" / "calendar" / "truth", gt, names)
    write_pngs(tmp_path / "SPMCS" / "calendar" / "input4", downscale(gt, 4), names)
    write_pngs(tmp_path / "SPMCS" / "calendar" / "input2", downscale(gt, 2), names)  # other scales sit beside
    dataset = DATASETS.create("spmcs", root=tmp_path)
    (clip,) = dataset.clips()
    assert dataset.report.found.layout == "spmc" and clip.meta["lq_variant"] == "BIx4"
    np.testing.assert_array_equal(clip.gt.read(9, 10)[0], gt[9])
    assert clip.lq.num_frames == 12 and clip.lq.size == (8, 12)


def test_pfnl_udm10_uses_blur4_as_the_bd_variant(tmp_path, bbb_frames):
    gt = clip_frames(bbb_frames, 1)
    write_pngs(tmp_path / "archpeople" / "truth", gt)
    write_pngs(tmp_path / "archpeople" / "blur4", downscale(gt, 4))
    dataset = DATASETS.create("udm10", root=tmp_path)
    (clip,) = dataset.clips()
    assert clip.meta["lq_variant"] == "BDx4" and clip.lq.path.name == "blur4"


def test_mmagic_variant_is_chosen_by_the_lq_source(tmp_path, bbb_frames):
    build("mmagic", tmp_path / "UDM10", bbb_frames, ["archpeople", "archwall"])
    default = DATASETS.create("udm10", root=tmp_path)
    clips = default.clips()
    assert clips[0].lq.path.parent.name == "BIx4"
    assert any("LQ from BIx4/ (variant BIx4); also present: BDx4" in n for n in default.report.notes)
    from vrbench.data.checks import scan_dataset

    report = scan_dataset(DATASETS.card("udm10"), tmp_path, variant="BDx4")
    assert report.clips[0].lq.path.parent.name == "BDx4"
    message = r"LQ variant not in this folder.*expected BIx3, found \['BIx4', 'BDx4'\]"
    with pytest.raises(InputError, match=message):
        scan_dataset(DATASETS.card("udm10"), tmp_path, variant="BIx3")


def test_reds30_from_the_official_zips_and_from_the_regrouped_copy(tmp_path, bbb_frames):
    # as unpacked from val_sharp.zip + val_sharp_bicubic.zip: val/val_sharp/000/..., val/val_sharp_bicubic/X4/000/...
    build("reds", tmp_path / "official", bbb_frames, ["000", "001"])
    dataset = DATASETS.create("reds30", root=tmp_path / "official")
    assert [c.name for c in dataset.clips()] == ["000", "001"]
    assert dataset.clips()[0].gt.path.parts[-3:] == ("val", "val_sharp", "000")
    # BasicSR/mmagic regroup val into train as 240-269; REDS4's train clips must not be picked up as REDS30
    build("reds", tmp_path / "regrouped", bbb_frames, ["240", "241", "000", "011"], reds_split="train")
    dataset = DATASETS.create("reds30", root=tmp_path / "regrouped")
    clips = dataset.clips()
    assert [c.name for c in clips] == ["000", "001"]
    assert clips[1].meta["source_name"] == "train/241" and clips[1].gt.path.name == "241"
    reds4 = DATASETS.create("reds4", root=tmp_path / "regrouped")
    assert [c.name for c in reds4.clips()] == ["000", "011"]
    assert any("missing clips: 015, 020" in n for n in reds4.report.notes)


def test_dove_layout_prefers_frames_and_falls_back_to_lossless_video(tmp_path, bbb_frames):
    build("dove", tmp_path / "YouHQ40", bbb_frames, ["clip-a"])
    gt = clip_frames(bbb_frames, 5)
    write_video_lossless(gt, tmp_path / "YouHQ40" / "GT-Video" / "clip-b.mkv")  # this clip exists only as video
    write_video_lossless(downscale(gt, 4), tmp_path / "YouHQ40" / "LQ-Video" / "clip-b.mkv")
    dataset = DATASETS.create("youhq40", root=tmp_path)
    clips = {c.name: c for c in dataset.clips()}
    assert clips["clip-a"].gt.kind == "frames" and clips["clip-b"].gt.kind == "container"
    np.testing.assert_array_equal(clips["clip-b"].gt.read(), gt)
    assert any("GT-Video/ duplicates GT/" in n for n in dataset.report.notes)
    assert any("LQ read as found in the folder" in n for n in dataset.report.notes)


def test_videolq_and_vivid_vr_sets_are_flat_lq_only(tmp_path, bbb_frames):
    build("flat", tmp_path / "VideoLQ", bbb_frames, ["000", "001", "002"], gt=False)
    videolq = DATASETS.create("videolq", root=tmp_path)
    clips = videolq.clips()
    assert [c.name for c in clips] == ["000", "001", "002"] and all(c.gt is None for c in clips)
    # Vivid-VR's testset.zip holds both sets; each card finds its own folder
    for sub, name in (("UGC50", "ugc-1"), ("AIGC50", "aigc-1")):
        write_video_lossless(clip_frames(bbb_frames, 2), tmp_path / "testset" / sub / f"{name}.mkv")
    ugc = DATASETS.create("ugc50", root=tmp_path / "testset")
    aigc = DATASETS.create("aigc50", root=tmp_path / "testset")
    assert [c.name for c in ugc.clips()] == ["ugc-1"] and [c.name for c in aigc.clips()] == ["aigc-1"]
    assert ugc.clips()[0].lq.kind == "container"


def test_an_unknown_layout_names_what_was_found(tmp_path, bbb_frames):
    write_pngs(tmp_path / "weird" / "deeper" / "a" / "b" / "c" / "d" / "clip", clip_frames(bbb_frames, 0))
    (tmp_path / "weird" / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"no known dataset layout found.*deeper/"):
        DATASETS.create("spmcs", root=tmp_path / "weird").clips()
    with pytest.raises(InputError, match="dataset not found.*vrbench datasets prepare spmcs"):
        DATASETS.create("spmcs", root=tmp_path / "nowhere").clips()
