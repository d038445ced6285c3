"""Learned metrics through the engine equal pyiqa called directly, with random weights planted at the cache paths
(nothing can be downloaded here), and are reported unavailable, naming the file and place, when weights are absent."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vrbench.metrics.engine import build_metrics, evaluate_clip, to_tensor
from vrbench.registry import METRICS
from vrbench.video import Video


@pytest.fixture()
def planted(monkeypatch):
    """Random-init stand-ins for the LPIPS/DISTS/MUSIQ/NIQE files; removed afterwards so other tests see none."""
    import torchvision
    from pyiqa.archs.dists_arch import DISTS
    from pyiqa.archs.lpips_arch import LPIPS
    from pyiqa.archs.musiq_arch import MUSIQ
    from scipy.io import savemat

    torch.manual_seed(0)
    monkeypatch.setenv("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS", "1")  # random stand-ins cannot match the checksums
    files = []

    def save(obj, weight):
        weight.path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(obj, weight.path)
        files.append(weight.path)

    cards = {n: METRICS.card(n) for n in ("lpips-alex", "lpips-vgg", "dists", "musiq", "niqe")}
    w = {wf.name: wf for c in cards.values() for wf in c.weights}
    save(torchvision.models.alexnet().state_dict(), w["alexnet-owt-7be5be79.pth"])
    save(torchvision.models.vgg16().state_dict(), w["vgg16-397923af.pth"])
    save(LPIPS(pretrained=False, net="alex", version="0.1").state_dict(), w["LPIPS_v0.1_alex-df73285e.pth"])
    save(LPIPS(pretrained=False, net="vgg", version="0.1").state_dict(), w["LPIPS_v0.1_vgg-a78928a0.pth"])
    save(DISTS(pretrained=False).state_dict(), w["DISTS_weights-f5e65c96.pth"])
    save(MUSIQ(pretrained=False).state_dict(), w["musiq_koniq_ckpt-e95806b9.pth"])
    a = np.random.default_rng(0).normal(size=(36, 36))
    niqe = w["niqe_modelparameters.mat"]
    niqe.path.parent.mkdir(parents=True, exist_ok=True)
    savemat(niqe.path, {"mu_prisparam": np.random.default_rng(1).normal(size=(1, 36)),
                        "cov_prisparam": a @ a.T + 36 * np.eye(36)})
    files.append(niqe.path)
    yield cards
    for f in files:
        f.unlink(missing_ok=True)


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
