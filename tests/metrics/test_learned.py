"""Learned metrics through the engine equal pyiqa called directly, with random weights planted at the cache paths
(nothing can be downloaded here), and are reported unavailable, naming the file and place, when weights are absent."""

from __future__ import annotations

import numpy as np
import pytest

from vrbench.metrics.engine import build_metrics, evaluate_clip, to_tensor
from vrbench.registry import METRICS
from vrbench.video import Video


@pytest.fixture()
def planted(monkeypatch):
    """Random-init stand-ins for the LPIPS/DISTS/MUSIQ/NIQE files; removed afterwards so other tests see none."""
    from vrbench.metrics.bench import plant_random_weights
    from vrbench.weights import torch_hub_dir

    monkeypatch.setenv("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS", "1")  # random stand-ins cannot match the checksums
    cards = {n: METRICS.card(n) for n in ("lpips-alex", "lpips-vgg", "dists", "musiq", "niqe")}
    plant_random_weights(torch_hub_dir())
    yield cards
    for card in cards.values():
        for w in card.weights:
            w.path.unlink(missing_ok=True)


@pytest.mark.slow
def test_engine_equals_pyiqa_called_directly(planted, bbb_frames):
    import cv2
    import pyiqa

    gt = bbb_frames[:4]
    out = np.stack([cv2.GaussianBlur(f, (5, 5), 1.2) for f in gt])
    metrics = build_metrics(list(planted), "cpu")
    assert not metrics.unavailable
    scores = evaluate_clip({"m": Video.from_array(out)}, Video.from_array(gt), metrics.ready, "cpu", chunk=3)
    ot, gtt = to_tensor(out, "cpu"), to_tensor(gt, "cpu")
    for name, pyiqa_name in [("lpips-alex", "lpips"), ("lpips-vgg", "lpips-vgg"), ("dists", "dists"),
                             ("musiq", "musiq"), ("niqe", "niqe")]:
        ref = pyiqa.create_metric(pyiqa_name, device="cpu")
        args = (ot, gtt) if METRICS.card(name).needs_gt else (ot,)
        expected = np.concatenate([ref(*(a[i : i + 1] for a in args)).reshape(-1).numpy() for i in range(len(gt))])
        value, per_frame = scores.values["m"][name]
        np.testing.assert_allclose(per_frame, expected, rtol=1e-5, atol=1e-6, err_msg=name)
        assert value == pytest.approx(float(np.mean(expected)), rel=1e-5)


def test_lpips_shares_ground_truth_features_across_methods(planted, bbb_frames):
    """Two methods scored in one pass give the same values as each scored alone."""
    import cv2

    gt = bbb_frames[:3]
    a = np.stack([cv2.GaussianBlur(f, (5, 5), 1.0) for f in gt])
    b = np.clip(gt.astype(int) + 9, 0, 255).astype(np.uint8)
    metrics = build_metrics(["lpips-alex", "ssim-y"], "cpu").ready
    both = evaluate_clip({"a": Video.from_array(a), "b": Video.from_array(b)}, Video.from_array(gt), metrics, "cpu")
    alone = evaluate_clip({"b": Video.from_array(b)}, Video.from_array(gt), metrics, "cpu")
    for name in metrics:
        np.testing.assert_allclose(both.values["b"][name][1], alone.values["b"][name][1], rtol=1e-6)


def test_missing_weights_make_the_metric_unavailable_with_file_and_place():
    metrics = build_metrics(["musiq", "psnr-rgb"], "cpu")
    assert list(metrics.ready) == ["psnr-rgb"]
    err = metrics.unavailable["musiq"]
    assert err.reason == "weights missing"
    (msg,) = err.files
    assert "musiq_koniq_ckpt-e95806b9.pth: download https://huggingface.co/chaofengc/IQA-PyTorch-Weights" in msg
    assert "hub/pyiqa/musiq_koniq_ckpt-e95806b9.pth" in msg


def test_wrong_checksum_is_reported_not_used(planted, monkeypatch):
    monkeypatch.delenv("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS")
    metrics = build_metrics(["lpips-alex"], "cpu")
    err = metrics.unavailable["lpips-alex"]
    assert err.reason == "weights have the wrong checksum"
    assert "expected sha256 7be5be79" in err.files[0] and "VRBENCH_ALLOW_UNVERIFIED_WEIGHTS" in err.files[0]
