"""Output-size rules, the mismatch policy and the integer-shift search, on real frames."""

from __future__ import annotations

import numpy as np
import pytest

from vrbench.data.geometry import (
    Box,
    align_clip,
    best_integer_shift,
    expected_output_size,
    plan_alignment,
    sample_frame_indices,
)
from vrbench.errors import InputError
from vrbench.video import Video


def test_output_size_rules():
    assert expected_output_size((135, 240), scale=4) == (540, 960)
    # SeedVR2: area of 720x1280 kept, aspect ratio kept, rounded, then cropped to multiples of 16
    assert expected_output_size((180, 320), rule="seedvr2-area") == (720, 1280)
    # 100x150: scale sqrt(921600 / 15000) = 7.8384 -> round(783.8) = 784, round(1175.8) = 1176 -> 1168 after the crop
    assert expected_output_size((100, 150), rule="seedvr2-area") == (784, 1168)
    # Vivid-VR --upscale 0: short side to 1024, long side floor(960 * 1024 / 540) = floor(1820.44)
    assert expected_output_size((540, 960), rule="short-side-1024") == (1024, 1820)
    assert expected_output_size((960, 540), rule="short-side-1024") == (1820, 1024)
    with pytest.raises(InputError, match="unknown output geometry rule.*720p"):
        expected_output_size((10, 10), rule="720p")


def test_mismatch_is_an_error_by_default_and_crop_records_a_warning():
    message = r"output size differs.*clip 'calendar' of spmcs.*expected 960x540, found 960x544"
    with pytest.raises(InputError, match=message):
        plan_alignment((544, 960), (540, 960), clip="calendar", dataset="spmcs")
    same = plan_alignment((540, 960), (540, 960))
    assert same.identity and same.warnings == ()
    top_left = plan_alignment((544, 960), (540, 962), policy="crop")
    assert top_left.out_box == Box(0, 0, 540, 960) and top_left.gt_box == Box(0, 0, 540, 960)
    assert "output 960x544 and GT 962x540 differ" in top_left.warnings[0]
    centre = plan_alignment((544, 960), (540, 962), policy="crop", anchor="center")
    assert centre.out_box == Box(2, 0, 540, 960) and centre.gt_box == Box(0, 1, 540, 960)
    out, gt = np.zeros((2, 544, 960, 3)), np.zeros((2, 540, 962, 3))
    a, b = centre.apply(out, gt)
    assert a.shape == b.shape == (2, 540, 960, 3)
    a, b = centre.apply(out.transpose(0, 3, 1, 2), gt.transpose(0, 3, 1, 2), channels_last=False)
    assert a.shape == b.shape == (2, 3, 540, 960)
    assert centre.to_dict()["policy"] == "crop"


def test_shift_search_recovers_a_known_offset_on_real_frames(bbb_frames):
    gt = bbb_frames[:3]
    h, w = gt.shape[1:3]
    # output whose pixel (y + 2, x - 1) shows GT pixel (y, x): the offset SPMCS-style test sets produce
    out = np.zeros_like(gt)
    out[:, 2:, : w - 1] = gt[:, : h - 2, 1:]
    found = best_integer_shift(out, gt, max_shift=3)
    assert (found.dy, found.dx) == (2, -1) and found.psnr == float("inf") and found.psnr_unshifted < 30
    aligned = best_integer_shift(gt, gt, max_shift=3)
    assert (aligned.dy, aligned.dx) == (0, 0)
    plan = plan_alignment((h, w), (h, w), shift=(found.dy, found.dx), margin=3)
    a, b = plan.apply(out, gt)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, h - 6, w - 6, 3) and "integer shift (dy=2, dx=-1)" in plan.warnings[0]
    with pytest.raises(InputError, match="shift does not fit"):
        plan_alignment((h, w), (h, w), shift=(4, 0), margin=3)


def test_sample_frame_indices():
    assert sample_frame_indices(31) == [0, 15, 30]
    assert sample_frame_indices(2) == [0, 1]


def test_align_clip_finds_the_shift_of_a_whole_clip_from_a_few_frames(bbb_frames):
    gt = Video.from_array(bbb_frames, name="gt")
    shifted = np.zeros_like(bbb_frames)
    shifted[:, 1:, 3:] = bbb_frames[:, :-1, :-3]  # output pixel (y + 1, x + 3) shows GT pixel (y, x)
    plan = align_clip(Video.from_array(shifted[:, :, :126]), gt, policy="crop", max_shift=3, clip="c")
    assert plan.shift == (1, 3) and plan.margin == 3
    assert plan.gt_box == Box(3, 3, 90, 120) and plan.out_box == Box(4, 6, 90, 120)
    out, ref = plan.apply(shifted[:, :, :126], bbb_frames)
    np.testing.assert_array_equal(out, ref)
    with pytest.raises(InputError, match="output size differs"):
        align_clip(Video.from_array(shifted[:, :, :126]), gt, max_shift=3)
