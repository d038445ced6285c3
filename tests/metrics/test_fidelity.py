"""PSNR / SSIM parity with scikit-image and pyiqa on real demo clips (torchmetrics-style tolerance table)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vrbench.metrics.engine import to_tensor
from vrbench.metrics.fidelity import BT601
from vrbench.registry import METRICS
from vrbench.video import open_video

# metric -> absolute tolerance against its reference. All references run in float64, like ours.
TOLERANCE = {
    "psnr-rgb": 1e-5,   # same formula; our frames enter as float32 x/255, skimage works on the uint8 values
    "psnr-y": 1e-4,     # pyiqa adds eps=1e-8 to the MSE and works in float32
    "ssim-y": 1e-7,     # skimage's Gaussian SSIM (truncate 3.5 -> 11 taps) cropped to the valid region
    "ssim-rgb": 1e-7,
    "ssim-yiq": 2e-5,   # pyiqa computes the luma in float32 before rounding, we in float64: a few pixels that
                        # sit on a .5 boundary round the other way (same window, same constants)
}


@pytest.fixture(scope="module")
def pair(demo_root):
    """GT and bicubic-upsampled LQ of a real demo clip (8 frames), as uint8 arrays."""
    import cv2

    gt = open_video(demo_root / "GT" / "bikes-railing").read(0, 8)
    lq = open_video(demo_root / "LQ" / "bikes-railing").read(0, 8)
    out = np.stack([cv2.resize(f, (gt.shape[2], gt.shape[1]), interpolation=cv2.INTER_CUBIC) for f in lq])
    return out, gt


def ours(name, out, gt):
    metric = METRICS.create(name)
    metric.setup("cpu")
    return metric.compute(to_tensor(out, "cpu"), to_tensor(gt, "cpu")).numpy()


def y601(frames):
    f = frames.astype(np.float64) / 255.0
    return 16.0 + f @ np.array([65.481, 128.553, 24.966])


def test_psnr_rgb_matches_skimage(pair):
    from skimage.metrics import peak_signal_noise_ratio

    out, gt = pair
    ref = [peak_signal_noise_ratio(g, o, data_range=255) for o, g in zip(out, gt, strict=True)]
    np.testing.assert_allclose(ours("psnr-rgb", out, gt), ref, atol=TOLERANCE["psnr-rgb"], rtol=0)


def test_psnr_y_matches_basicsr_formula_and_pyiqa(pair):
    import pyiqa

    out, gt = pair
    mse = ((y601(out) - y601(gt)) ** 2).reshape(len(out), -1).mean(1)
    ref = 10 * np.log10(255.0**2 / mse)
    mine = ours("psnr-y", out, gt)
    np.testing.assert_allclose(mine, ref, atol=1e-5, rtol=0)
    metric = pyiqa.create_metric("psnr", test_y_channel=True, color_space="ycbcr", device="cpu")
    ref_iqa = metric(to_tensor(out, "cpu"), to_tensor(gt, "cpu")).numpy().reshape(-1)
    np.testing.assert_allclose(mine, ref_iqa, atol=TOLERANCE["psnr-y"], rtol=0)


def test_ssim_y_matches_skimage_on_y(pair):
    from skimage.metrics import structural_similarity

    out, gt = pair
    ref = [structural_similarity(y601(o), y601(g), data_range=255, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False) for o, g in zip(out, gt, strict=True)]
    np.testing.assert_allclose(ours("ssim-y", out, gt), ref, atol=TOLERANCE["ssim-y"], rtol=0)


def test_ssim_rgb_matches_skimage_channel_mean(pair):
    from skimage.metrics import structural_similarity

    out, gt = pair
    ref = [structural_similarity(o.astype(np.float64), g.astype(np.float64), data_range=255, channel_axis=2,
                                 gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
           for o, g in zip(out, gt, strict=True)]
    np.testing.assert_allclose(ours("ssim-rgb", out, gt), ref, atol=TOLERANCE["ssim-rgb"], rtol=0)


def test_ssim_yiq_matches_pyiqa_default_ssim(pair):
    import pyiqa

    out, gt = pair
    metric = pyiqa.create_metric("ssim", device="cpu")
    ref = metric(to_tensor(out, "cpu"), to_tensor(gt, "cpu")).numpy().reshape(-1)
    np.testing.assert_allclose(ours("ssim-yiq", out, gt), ref, atol=TOLERANCE["ssim-yiq"], rtol=0)


def test_identical_frames_have_infinite_psnr_and_unit_ssim(pair):
    _, gt = pair
    assert np.all(np.isinf(ours("psnr-rgb", gt, gt)))
    np.testing.assert_allclose(ours("ssim-y", gt, gt), 1.0, atol=1e-12)


def test_y_conventions_really_differ(pair):
    """The reason the metric names carry the convention: Y of YCbCr vs YIQ moves PSNR by about 1.3 dB."""
    import pyiqa

    out, gt = pair
    yiq = pyiqa.create_metric("psnry", device="cpu")(to_tensor(out, "cpu"), to_tensor(gt, "cpu")).numpy()
    gap = float(np.mean(ours("psnr-y", out, gt) - yiq.reshape(-1)))
    assert 1.0 < gap < 1.6


def test_ssim_rejects_frames_smaller_than_the_window():
    tiny = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="at least 11x11"):
        METRICS.create("ssim-y").compute(tiny, tiny)


def _ssim_matlab_numpy(out: np.ndarray, gt: np.ndarray) -> list[float]:
    """Wang et al.'s ssim.m written out independently: uint8 rgb2gray, 2-D Gaussian window, 'valid' filter2."""
    from scipy.signal import correlate2d

    def gray(f):  # MATLAB rgb2gray on uint8: double arithmetic, then uint8() rounds half away from zero
        v = f[..., 0] * 0.298936021293775 + f[..., 1] * 0.587043074451121 + f[..., 2] * 0.114020904255103
        return np.sign(v) * np.floor(np.abs(v) + 0.5)

    r = np.arange(11) - 5.0
    w = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5**2))
    w /= w.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for o, g in zip(out, gt, strict=True):
        a, b = gray(o.astype(np.float64)), gray(g.astype(np.float64))
        mu1, mu2 = correlate2d(a, w, "valid"), correlate2d(b, w, "valid")
        s11 = correlate2d(a * a, w, "valid") - mu1**2
        s22 = correlate2d(b * b, w, "valid") - mu2**2
        s12 = correlate2d(a * b, w, "valid") - mu1 * mu2
        ssim_map = (2 * mu1 * mu2 + c1) * (2 * s12 + c2) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
        values.append(ssim_map.mean())
    return values


def test_ssim_matlab_matches_an_independent_numpy_formulation(pair):
    out, gt = pair
    ref = _ssim_matlab_numpy(out[:3], gt[:3])
    np.testing.assert_allclose(ours("ssim-matlab", out[:3], gt[:3]), ref, atol=1e-12, rtol=0)


def test_ssim_matlab_luma_is_rgb2gray_rounded_half_away_from_zero():
    from vrbench.metrics.fidelity import luma_matlab_gray

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(2, 17, 19, 3), dtype=np.uint8)
    frames[0, 0, 0] = (255, 255, 255)
    got = luma_matlab_gray(to_tensor(frames, "cpu"))[:, 0].numpy()
    f = frames.astype(np.float64)
    exact = f[..., 0] * 0.298936021293775 + f[..., 1] * 0.587043074451121 + f[..., 2] * 0.114020904255103
    np.testing.assert_array_equal(got, np.floor(exact + 0.5))
    assert got[0, 0, 0] == 255.0
    assert np.any(np.abs(exact - np.round(exact)) > 0.4)  # the rounding step is exercised, not a no-op


def test_ssim_matlab_does_not_clamp_the_contrast_term():
    """Anti-correlated frames: pyiqa's ssim-yiq clamps cs at 0, the MATLAB SSIM goes negative."""
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 256, size=(1, 32, 32, 3), dtype=np.uint8)
    out = 255 - gt
    assert ours("ssim-matlab", out, gt)[0] < 0.0
    assert ours("ssim-yiq", out, gt)[0] >= 0.0


def _photos():
    """Three scikit-image photographs as GT and their x4 area-down, bicubic-up versions as outputs."""
    import cv2
    from skimage import data

    gts = [data.astronaut(), data.chelsea(), data.coffee()]
    outs = []
    for g in gts:
        h, w = g.shape[:2]
        lq = cv2.resize(g, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
        outs.append(cv2.resize(lq, (w, h), interpolation=cv2.INTER_CUBIC))
    return outs, gts


def _band_filter(x: torch.Tensor) -> torch.Tensor:
    """The previous formulation: 'valid' Gaussian filtering as two float64 band-matrix products."""
    r = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(r**2) / (2 * 1.5**2))
    g = g / g.sum()

    def band(n):
        m = torch.zeros(n, n - 10, dtype=torch.float64)
        for j in range(n - 10):
            m[j : j + 11, j] = g
        return m

    x = x @ band(x.shape[-1])
    return (x.transpose(-1, -2) @ band(x.shape[-2])).transpose(-1, -2)


def _previous(name: str, o: np.ndarray, g: np.ndarray) -> float:
    """Each fidelity id as the previous implementation computed it (torch float64, band matrices)."""
    x, y = (torch.from_numpy(f).permute(2, 0, 1)[None].float().div(255.0).double() for f in (o, g))
    spaces = {
        "psnr-rgb": lambda t: t, "ssim-rgb": lambda t: t * 255.0,
        "psnr-y": lambda t: (t * torch.tensor([65.481, 128.553, 24.966], dtype=torch.float64).view(1, 3, 1, 1)
                             ).sum(1, keepdim=True) + 16.0,
        "ssim-yiq": lambda t: ((t * torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).view(1, 3, 1, 1)
                                ).sum(1, keepdim=True) * 255.0).round(),
    }
    spaces["ssim-y"] = spaces["psnr-y"]
    a, b = spaces[name](x), spaces[name](y)
    if name.startswith("psnr"):
        return float(10 * torch.log10((1.0 if name == "psnr-rgb" else 255.0**2) / (a - b).pow(2).mean()))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _band_filter(a), _band_filter(b)
    sxx, syy = _band_filter(a * a) - mx**2, _band_filter(b * b) - my**2
    sxy = _band_filter(a * b) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    if name == "ssim-yiq":
        cs = cs.clamp_min(0.0)
    return float(((2 * mx * my + c1) / (mx**2 + my**2 + c1) * cs).mean())


@pytest.mark.parametrize("name", ["psnr-rgb", "psnr-y", "ssim-y", "ssim-rgb", "ssim-yiq"])
def test_values_unchanged_from_the_previous_formulation(name):
    """The separable OpenCV / conv filtering gives the same values as the band-matrix products it replaced."""
    outs, gts = _photos()
    for o, g in zip(outs, gts, strict=True):
        assert abs(float(ours(name, o[None], g[None])[0]) - _previous(name, o, g)) < 1e-9


def _basicsr_style_ssim_y(o: np.ndarray, g: np.ndarray) -> float:
    """BasicSR's calculate_ssim(test_y_channel=True) from its published formula: cv2.filter2D with the 2-D
    outer-product window on float64, crop [5:-5]."""
    import cv2

    k = cv2.getGaussianKernel(11, 1.5)
    window = k @ k.T
    a, b = (16.0 + (f.astype(np.float32) / np.float32(255.0)).astype(np.float64) @ np.array(BT601) for f in (o, g))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu1, mu2 = cv2.filter2D(a, -1, window)[5:-5, 5:-5], cv2.filter2D(b, -1, window)[5:-5, 5:-5]
    s1 = cv2.filter2D(a * a, -1, window)[5:-5, 5:-5] - mu1**2
    s2 = cv2.filter2D(b * b, -1, window)[5:-5, 5:-5] - mu2**2
    s12 = cv2.filter2D(a * b, -1, window)[5:-5, 5:-5] - mu1 * mu2
    return float(((2 * mu1 * mu2 + c1) * (2 * s12 + c2) / ((mu1**2 + mu2**2 + c1) * (s1 + s2 + c2))).mean())


def test_ssim_y_equals_the_basicsr_opencv_formulation():
    """Fed the same RGB values (ours enter as float32 x / 255, which alone moves SSIM by up to ~5e-9 against exact
    uint8 / 255), the separable filtering equals BasicSR's 2-D filter2D to 1e-10."""
    outs, gts = _photos()
    for o, g in zip(outs, gts, strict=True):
        assert abs(float(ours("ssim-y", o[None], g[None])[0]) - _basicsr_style_ssim_y(o, g)) < 1e-10


def test_luma_is_computed_once_for_psnr_y_and_ssim_y(pair, monkeypatch):
    from vrbench.metrics import fidelity

    calls = []
    real = fidelity._luma_bt601_cpu
    monkeypatch.setitem(fidelity._CPU_SPACE, fidelity.luma_bt601, lambda x: calls.append(x) or real(x))
    out, gt = (to_tensor(f[:2], "cpu") for f in pair)
    metrics = [METRICS.create(n) for n in ("psnr-y", "ssim-y")]
    refs = [m.reference(gt) for m in metrics]
    values = [m.compute(out, gt, r) for m, r in zip(metrics, refs, strict=True)]
    assert len(calls) == 2 and calls[0] is gt and calls[1] is out  # one conversion per tensor, not per metric
    # a new tensor with the same values is converted again (no stale sharing across chunks)
    clone = out.clone()
    again = METRICS.create("ssim-y").compute(clone, gt)
    assert any(c is clone for c in calls[2:])
    np.testing.assert_array_equal(again.numpy(), values[1].numpy())


def test_cpu_luma_equals_the_planar_formula(pair):
    from vrbench.metrics.fidelity import _luma_bt601_cpu, luma_bt601

    x = to_tensor(pair[0][:2], "cpu")
    np.testing.assert_allclose(_luma_bt601_cpu(x), luma_bt601(x.double()).numpy(), atol=1e-12, rtol=0)


def test_ssim_torch_path_equals_the_numpy_path(pair):
    """The path other devices take (torch float64 convolutions), run here on CPU tensors."""
    from vrbench.metrics.fidelity import luma_bt601, ssim

    out, gt = (to_tensor(f[:2], "cpu") for f in pair)
    torch_path = ssim(luma_bt601(out.double()), luma_bt601(gt.double()))
    numpy_path = ssim(luma_bt601(out.double().numpy()), luma_bt601(gt.double().numpy()))
    np.testing.assert_allclose(torch_path.numpy(), numpy_path.numpy(), atol=1e-12, rtol=0)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["psnr-rgb", "psnr-y", "ssim-y", "ssim-rgb", "ssim-yiq", "ssim-matlab"])
def test_cuda_values_equal_cpu_values(pair, name):
    """The torch float64 convolution path on CUDA gives the CPU (OpenCV) values."""
    out, gt = pair
    metric = METRICS.create(name)
    on_gpu = metric.compute(to_tensor(out, "cuda"), to_tensor(gt, "cuda")).cpu().numpy()
    np.testing.assert_allclose(on_gpu, ours(name, out, gt), atol=1e-10, rtol=0)
