"""The geometry policy in a run: size mismatch is an error by default, `geometry: crop` scores the common area and
records the alignment, `shift_search` finds a known pixel shift (dataset cards with max_shift)."""

from __future__ import annotations

import cv2
import numpy as np

from vrbench.config import parse_config
from vrbench.run import run_benchmark
from vrbench.store import Store
from vrbench.video import write_frames


def _dataset(root, bbb_frames):
    gt = np.ascontiguousarray(bbb_frames[:4, :96, :128])
    write_frames(gt, root / "GT" / "clip")
    write_frames(np.stack([cv2.resize(f, (32, 24), interpolation=cv2.INTER_AREA) for f in gt]), root / "LQ" / "clip")
    return gt


def _run(tmp_path, name, dataset, root, outputs, **extra):
    cfg = parse_config({"name": name, "datasets": [{"name": dataset, "root": str(root)}],
                        "methods": [{"name": "folder", "label": "m", "options": {"root": str(outputs)}}],
                        "metrics": ["psnr-rgb"], **extra})
    return run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out")


def test_crop_policy_scores_the_common_area_and_records_it(tmp_path, bbb_frames):
    gt = _dataset(tmp_path / "d", bbb_frames)
    write_frames(np.ascontiguousarray(gt[:, :92, :124]), tmp_path / "res" / "clip")  # 4 px short on two sides
    strict = _run(tmp_path, "strict", "folder", tmp_path / "d", tmp_path / "res")
    assert strict.computed == 0 and "wrong output size (clip 'clip'" in strict.failed[0]["error"]
    crop = _run(tmp_path, "crop", "folder", tmp_path / "d", tmp_path / "res", geometry="crop")
    assert crop.failed == [] and crop.computed == 1
    with Store(tmp_path / "r.sqlite") as store:
        value = store.results_frame("crop")["value"].iloc[0]
        (alignment,) = store.alignments("crop")
    assert np.isinf(value)  # the common area of an exact crop of the GT is identical
    assert alignment["policy"] == "crop" and alignment["warnings"]
    # the CLI summary lists it beside the lossy-output warnings: a cropped score is never silent
    assert [w["warning"] for w in crop.warnings] == alignment["warnings"] and crop.warnings[0]["clip"] == "clip"


def test_shift_search_recovers_a_known_offset(tmp_path, bbb_frames):
    gt = _dataset(tmp_path / "d", bbb_frames)
    shifted = np.roll(gt, (2, -1), axis=(1, 2))
    write_frames(shifted, tmp_path / "res" / "clip")
    plain = _run(tmp_path, "plain", "udm10", tmp_path / "d", tmp_path / "res")
    searched = _run(tmp_path, "searched", "udm10", tmp_path / "d", tmp_path / "res", shift_search=True)
    assert plain.failed == [] and searched.failed == []
    with Store(tmp_path / "r.sqlite") as store:
        before = store.results_frame("plain")["value"].iloc[0]
        after = store.results_frame("searched")["value"].iloc[0]
        (alignment,) = store.alignments("searched")
    assert tuple(alignment["shift"]) in ((2, -1), (-2, 1))
    assert after > before + 10  # aligned, the shifted copy matches the GT on the common window
