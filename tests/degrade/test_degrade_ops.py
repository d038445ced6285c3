"""The operation table, the preset registry, chunked GT input, and the layering of the degradation modules."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from vrbench.degrade import OPS, PRESETS, degrade_clip, load_preset, reference
from vrbench.degrade.ops import sample_stages
from vrbench.errors import InputError, UnknownNameError
from vrbench.video import Video


def test_every_card_operation_has_a_row_and_the_reference_keys_off_the_same_names():
    assert set(reference.REFERENCE) == set(OPS)
    used = {s["op"] for name in PRESETS.names() for spec in load_preset(name).stages
            for s in ([spec] + [sub for g in spec.get("groups", []) for sub in g])}
    assert used <= set(OPS) and {"usm", "blur", "resize", "noise", "jpeg", "video", "shuffle"} <= used
    assert [n for n, op in OPS.items() if op.clip_level] == ["video"]
    assert {n for n, op in OPS.items() if op.per_frame} == {"blur", "resize", "noise", "jpeg"}


def test_each_manifest_stage_is_described_by_its_row(bunny):
    stages = sample_stages(load_preset("realbasicvsr-x4"), 0, "describe", 2, bunny.shape[1:3], 4)
    lines = [OPS[s["op"]].describe(s, 1) for s in stages]
    assert lines[0].startswith("usm k=51") and lines[-1] == "quantize"
    assert any(line.startswith("video ") and "kbit/s" in line for line in lines)
    assert all(line.split()[0].rstrip(":") in {*OPS, "align"} for line in lines)


def test_presets_are_a_registry_with_patterns_and_did_you_mean():
    assert PRESETS.names("*-x4") == ["bd-x4", "bicubic-x4", "dove-x4", "realbasicvsr-x4", "realesrgan-x4"]
    assert PRESETS.card("bd-x4") is load_preset("bd-x4")
    with pytest.raises(UnknownNameError, match="Did you mean 'bd-x4'"):
        load_preset("bd-x5")


@pytest.mark.parametrize("preset", ["bd-x4", "realbasicvsr-x4"])
def test_chunked_and_video_input_give_the_bytes_and_manifest_of_the_whole_array(bbb_frames, preset):
    gt = bbb_frames[:10, :48, :64]  # 10 frames: two pipeline batches of 8 and 2
    lq, manifest = degrade_clip(gt, preset=preset, seed=3, clip_id="c", device="cpu")
    chunks = (gt[i : i + 3] for i in range(0, len(gt), 3))
    lq_chunked, manifest_chunked = degrade_clip(chunks, preset=preset, seed=3, clip_id="c", device="cpu",
                                                num_frames=len(gt))
    lq_video, _ = degrade_clip(Video.from_array(gt), preset=preset, seed=3, clip_id="c", device="cpu")
    assert np.array_equal(lq, lq_chunked) and np.array_equal(lq, lq_video)
    assert manifest_chunked["gt"] == manifest["gt"] and manifest_chunked["stages"] == manifest["stages"]


def test_chunked_input_checks_its_frame_count_and_sizes(bbb_frames):
    gt = bbb_frames[:4, :16, :16]
    with pytest.raises(InputError, match="frame count"):
        degrade_clip(iter([gt]), preset="bd-x4", seed=0, clip_id="c")
    with pytest.raises(InputError, match="different number of frames"):
        degrade_clip(iter([gt]), preset="bd-x4", seed=0, clip_id="c", num_frames=5)
    with pytest.raises(InputError, match="different number of frames"):
        degrade_clip(iter([gt, gt]), preset="bd-x4", seed=0, clip_id="c", num_frames=4)
    with pytest.raises(InputError, match="change size"):
        degrade_clip(iter([gt, bbb_frames[:2, :8, :8]]), preset="bd-x4", seed=0, clip_id="c", num_frames=6)


def test_manifest_and_card_modules_do_not_import_the_pipeline_or_torch():
    code = ("import sys, vrbench.degrade.manifest, vrbench.degrade.presets; "
            "print(sorted(m for m in ('vrbench.degrade.pipeline', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
