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
    """Random-init stand-ins for the LPIPS/DISTS/MUSIQ/NIQE files; removed afterwards so other tests see none.
    NIQE's stand-in npz holds the same arrays as a MAT file planted where pyiqa's own NIQE looks."""
    from scipy.io import savemat

    from vrbench.metrics.bench import plant_random_weights
    from vrbench.metrics.learned import NIQE_PARAMS
    from vrbench.weights import torch_hub_dir

    monkeypatch.setenv("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS", "1")  # random stand-ins cannot match the checksums
    cards = {n: METRICS.card(n) for n in ("lpips-alex", "lpips-vgg", "dists", "musiq", "niqe")}
    plant_random_weights(torch_hub_dir())
    a = np.random.default_rng(2).normal(size=(36, 36))
    mu, cov = np.random.default_rng(3).normal(size=(1, 36)), a @ a.T + 36 * np.eye(36)  # symmetric positive definite
    NIQE_PARAMS.path.parent.mkdir(parents=True, exist_ok=True)
    with open(NIQE_PARAMS.path, "wb") as f:
        np.savez(f, mu_pris_param=mu, cov_pris_param=cov)
    pyiqa_mat = torch_hub_dir() / "pyiqa" / "niqe_modelparameters.mat"
    savemat(pyiqa_mat, {"mu_prisparam": mu, "cov_prisparam": cov})
    yield cards
    for card in cards.values():
        for w in card.weights:
            w.path.unlink(missing_ok=True)
    pyiqa_mat.unlink(missing_ok=True)


@pytest.fixture()
def laion_planted(monkeypatch):
    """A tiny random CLIP (ViT, 1 layer, 768-d embedding, saved as TorchScript like OpenAI's files) and a random
    aesthetic head at the laion-aes cache paths; removed afterwards."""
    import torch
    from clip.model import CLIP
    from pyiqa.archs.laion_aes_arch import MLP

    from vrbench.metrics.learned import CLIP_VIT_L14, LAION_HEAD

    monkeypatch.setenv("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS", "1")
    torch.manual_seed(0)
    clip = CLIP(embed_dim=768, image_resolution=224, vision_layers=1, vision_width=64, vision_patch_size=14,
                context_length=77, vocab_size=8, transformer_width=64, transformer_heads=1, transformer_layers=1)
    traced = torch.jit.trace(clip.eval(), (torch.zeros(1, 3, 224, 224), torch.zeros(1, 77, dtype=torch.long)),
                             check_trace=False)
    for w in (CLIP_VIT_L14, LAION_HEAD):
        w.path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(traced, str(CLIP_VIT_L14.path))
    torch.save(MLP(768).state_dict(), LAION_HEAD.path)
    yield CLIP_VIT_L14, LAION_HEAD
    for w in (CLIP_VIT_L14, LAION_HEAD):
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


def test_laion_aes_equals_pyiqas_own_laion_aes_with_clip_from_our_cache_path(laion_planted, bbb_frames, monkeypatch):
    """Ours loads CLIP from the weights door's path; pyiqa's constructor asks clip.load for 'ViT-L/14' (its hidden
    cache), redirected here to the same file so that both score with identical weights."""
    import shutil

    import clip
    import cv2
    import pyiqa

    clip_file, head = laion_planted
    frames = np.stack([cv2.GaussianBlur(f, (3, 3), 0.8) for f in bbb_frames[:3]])
    metrics = build_metrics(["laion-aes"], "cpu")
    assert not metrics.unavailable
    scores = evaluate_clip({"m": Video.from_array(frames)}, None, metrics.ready, "cpu", chunk=2)
    load = clip.load
    monkeypatch.setattr(clip, "load", lambda name, *a, **k: load(str(clip_file.path) if name == "ViT-L/14" else name,
                                                                 *a, **k))
    pyiqa_head = head.path.with_name("sac%2Blogos%2Bava1-l14-linearMSE.pth")  # the name pyiqa's cache gives it
    shutil.copyfile(head.path, pyiqa_head)
    try:
        ref = pyiqa.create_metric("laion_aes", device="cpu")
    finally:
        pyiqa_head.unlink()
    expected = ref(to_tensor(frames, "cpu")).reshape(-1).numpy()
    value, per_frame = scores.values["m"]["laion-aes"]
    np.testing.assert_allclose(per_frame, expected, rtol=1e-5, atol=1e-6)
    assert np.ptp(per_frame) > 0  # the frames really were scored one by one
    provenance = metrics.ready["laion-aes"].provenance()
    assert set(provenance["weights_sha256"]) == {"ViT-L-14.pt", "sac+logos+ava1-l14-linearMSE.pth"}
    assert provenance["weights_source"]["ViT-L-14.pt"] == "placed in the cache by hand or by another tool"


def test_laion_aes_offline_names_both_files_and_where_they_go():
    err = build_metrics(["laion-aes"], "cpu").unavailable["laion-aes"]
    assert err.reason == "weights missing"
    head, clip_file = err.files
    assert head.startswith("sac+logos+ava1-l14-linearMSE.pth: download https://huggingface.co/chaofengc/")
    assert "hub/pyiqa/sac+logos+ava1-l14-linearMSE.pth" in head
    assert clip_file.startswith("ViT-L-14.pt: download https://openaipublic.azureedge.net/clip/models/b8cca3fd")
    assert "hub/clip/ViT-L-14.pt" in clip_file


def test_niqe_offline_names_its_npz_and_the_basicsr_sdist_on_pypi():
    err = build_metrics(["niqe"], "cpu").unavailable["niqe"]
    (line,) = err.files
    assert "niqe_pris_params.npz: download https://github.com/XPixelGroup/BasicSR/raw/v1.4.2/" in line
    assert "hub/basicsr/niqe_pris_params.npz" in line
    assert "`vrbench weights fetch niqe_pris_params.npz` also tries PyPI basicsr 1.4.2 sdist" in line


def test_lpips_offline_says_the_imagenet_trunk_ships_in_no_package_and_the_head_does():
    err = build_metrics(["lpips-alex"], "cpu").unavailable["lpips-alex"]
    trunk, head = err.files
    assert "ships in no PyPI package" in trunk
    assert "also tries PyPI lpips 0.1.4 wheel: lpips/weights/v0.1/alex.pth" in head


def test_niqe_on_frames_smaller_than_its_block_says_so_in_one_line(planted):
    import torch

    from vrbench.errors import InputError

    metrics = build_metrics(["niqe"], "cpu")
    with pytest.raises(InputError, match=r"NIQE needs frames of at least 96x96 pixels \(its block size\): found 88x72"):
        metrics.ready["niqe"].compute(torch.rand(2, 3, 72, 88), None)
    assert metrics.ready["niqe"].compute(torch.rand(1, 3, 96, 96), None).shape == (1,)


def test_frame_by_frame_on_cpu_joins_tensors_and_feature_levels_like_one_batched_call():
    import torch

    from vrbench.metrics.learned import by_frame

    calls = []

    def net(x):
        calls.append(len(x))
        return [x.mean((1, 2, 3)), x[:, :1] * 2.0]  # two "feature levels"

    x = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    joined = by_frame(net, x, enabled=True)
    assert calls == [1, 1, 1]
    for a, b in zip(joined, net(x), strict=True):
        assert torch.equal(a, b)
    calls.clear()
    assert torch.equal(by_frame(lambda t: t.sum((1, 2, 3)), x, enabled=False), x.sum((1, 2, 3)))
    by_frame(net, x, enabled=False)
    assert calls == [3]  # disabled: one batched call


def test_cpu_batches_go_channels_last_and_other_layouts_are_kept():
    import torch

    from vrbench.metrics.learned import cpu_channels_last

    x = torch.rand(2, 3, 8, 10)
    y = cpu_channels_last(x)
    assert y.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(x, y)
    v = torch.rand(3, 8, 10)
    assert cpu_channels_last(v) is v  # not a batch of frames
