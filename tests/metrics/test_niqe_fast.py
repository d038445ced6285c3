"""NIQE's CPU path (float64 NumPy/OpenCV) against pyiqa's `niqe` on real frames, step by step and end to end, and
against the engine's own torch path (pyiqa's network, run here on the CPU).

Tolerances: luma, the half-size downscale and the AGGD shape grid index are equal bit for bit; the normalised
coefficients differ by ~1e-8 (a separable window against pyiqa's float32-rounded 2-D one) and NIQE by < 5e-8 on
these frames, so 1e-6 is asserted."""

from __future__ import annotations

import numpy as np
import pytest

from vrbench.errors import InputError
from vrbench.metrics import niqe

NIQE_TOL = 1e-6


@pytest.fixture()
def pristine(monkeypatch, tmp_path):
    """A stand-in NIQE model (random, symmetric positive definite) at its cache path, and the same arrays as the
    MAT file pyiqa's own `niqe` reads; removed afterwards."""
    from scipy.io import savemat

    from vrbench.metrics.learned import NIQE_PARAMS

    monkeypatch.setenv("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS", "1")  # a stand-in cannot match the published sha256
    a = np.random.default_rng(4).normal(size=(36, 36))
    mu, cov = np.random.default_rng(5).normal(size=(1, 36)), a @ a.T / 36 + np.eye(36)
    NIQE_PARAMS.path.parent.mkdir(parents=True, exist_ok=True)
    with open(NIQE_PARAMS.path, "wb") as f:
        np.savez(f, mu_pris_param=mu, cov_pris_param=cov)
    savemat(tmp_path / "niqe.mat", {"mu_prisparam": mu, "cov_prisparam": cov})
    yield tmp_path / "niqe.mat"
    NIQE_PARAMS.path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """Real uint8 RGB frames: Big Buck Bunny at 256x256 (and its x4 bicubic restoration), scikit-image photos at
    512x512 and 300x451, a 203x317 crop and a 96x96 crop (sizes that are no multiple of 96, and exactly one block)."""
    import skimage.data

    from vrbench.metrics.bench import bench_frames

    outs, gt = bench_frames("256", 1, 1)
    coffee = skimage.data.coffee()
    return [gt[0], outs["bicubic"][0], skimage.data.astronaut(), skimage.data.chelsea(), coffee[97:300, 60:377],
            coffee[150:246, 200:296]]


def tensor(frame: np.ndarray):
    from vrbench.metrics.engine import to_tensor

    return to_tensor(frame[None], "cpu")


@pytest.fixture()
def metric(pristine):
    from vrbench.metrics.engine import build_metrics

    return build_metrics(["niqe"], "cpu").ready["niqe"]


def test_cpu_niqe_equals_pyiqa_niqe_called_per_frame(metric, pristine, frames):
    import pyiqa
    import torch

    anchor = pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=str(pristine))
    ours = [float(metric.compute(tensor(f), None)[0]) for f in frames]
    with torch.inference_mode():
        theirs = [float(anchor(tensor(f))) for f in frames]
    assert np.all(np.isfinite(ours)) and len(set(np.round(ours, 3))) == len(frames)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=NIQE_TOL)


def test_cpu_path_equals_torch_path_on_a_chunk(metric, frames):
    import torch

    chunk = torch.cat([tensor(f) for f in frames[:2]] + [tensor(np.ascontiguousarray(frames[0][:, ::-1]))])
    numpy_values, torch_values = metric.compute_numpy(chunk), metric.compute_torch(chunk)
    assert numpy_values.dtype == torch_values.dtype == torch.float64 and numpy_values.shape == (3,)
    np.testing.assert_allclose(numpy_values.numpy(), torch_values.numpy(), rtol=0, atol=NIQE_TOL)


def test_each_step_equals_pyiqa(frames):
    import torch
    from pyiqa.archs.func_util import estimate_aggd_param, normalize_img_with_gauss
    from pyiqa.matlab_utils import imresize
    from pyiqa.utils.color_util import to_y_channel

    x = tensor(frames[3])  # 300x451: cropped to 288x384
    luma = niqe.yiq_luma(x)[0]
    with torch.inference_mode():
        assert np.array_equal(luma, to_y_channel(x, 255, "yiq")[0, 0].double().numpy())
    img = luma[:288, :384]
    theirs = torch.from_numpy(img)[None, None]
    half = imresize(theirs / 255.0, scale=0.5, antialiasing=True) * 255.0
    assert np.array_equal(niqe.half_size(img), half[0, 0].numpy())
    coeffs = niqe.normalise(img)
    expected = normalize_img_with_gauss(theirs, padding="replicate")[0, 0].numpy()
    assert np.abs(coeffs - expected).max() < 1e-7 and np.abs(expected).max() > 1
    blocks = coeffs.reshape(3, 96, 4, 96).transpose(2, 0, 1, 3).reshape(12, 96, 96)
    products = blocks * np.roll(blocks, (1, -1), axis=(1, 2))
    for x in (blocks, products):
        alpha, left, right, _ = niqe.aggd(x.reshape(12, -1))
        a, bl, br = estimate_aggd_param(torch.from_numpy(x)[:, None])
        assert np.array_equal(alpha, a.numpy()) and len(set(alpha)) > 3
        np.testing.assert_allclose(left, bl.numpy(), rtol=1e-12)
        np.testing.assert_allclose(right, br.numpy(), rtol=1e-12)


def test_aggd_grid_search_picks_the_first_closest_shape_as_an_argmin_over_the_grid():
    gam, r, _, _ = niqe.aggd_tables()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 500)) * rng.uniform(0.2, 3, size=(40, 1))
    x[::2] = np.sign(x[::2]) * np.abs(x[::2]) ** rng.uniform(0.3, 3, size=(20, 1))  # heavy and light tails
    x[5, x[5] < 0] = 0.0  # no negative value: NaN scale, first shape
    alpha, left, _, _ = niqe.aggd(x)
    neg, pos = np.minimum(x, 0), np.maximum(x, 0)
    with np.errstate(invalid="ignore"):
        g = np.sqrt((neg**2).sum(1) / (x < 0).sum(1)) / np.sqrt((pos**2).sum(1) / (x > 0).sum(1))
    r_hat = np.abs(x).mean(1) ** 2 / (x**2).mean(1) * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    brute = gam[np.argmin(np.abs(r[None] - r_hat[:, None]), axis=1)]  # NaN rows: np.argmin gives index 0 as torch
    assert np.array_equal(alpha, brute) and np.isnan(left[5]) and alpha[5] == np.float32(0.2)
    assert len(np.unique(alpha)) > 20


def test_flat_blocks_count_as_pyiqa_counts_them_and_a_flat_frame_is_refused_on_both_paths(metric, pristine):
    import pyiqa
    import torch

    half_flat = np.full((192, 288, 3), 128, np.uint8)
    half_flat[:, 150:] = np.random.default_rng(0).integers(0, 256, (192, 138, 3), dtype=np.uint8)
    anchor = pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=str(pristine))
    with torch.inference_mode():
        expected = float(anchor(tensor(half_flat)))
    assert abs(float(metric.compute(tensor(half_flat), None)[0]) - expected) < NIQE_TOL
    flat = tensor(np.full((192, 288, 3), 128, np.uint8))
    for compute in (metric.compute_numpy, metric.compute_torch):
        with pytest.raises(InputError, match=r"NIQE is undefined on a frame without texture.*expected at least one "
                                             r"96x96 block that is not flat"):
            compute(flat)
