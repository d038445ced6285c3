"""The weight-free perception metrics against independent numpy computations: an explicit DFT matrix and band mask
built from integer frequency indices (no numpy.fft), a spatial-domain Parseval check, and scikit-image's blur_effect."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vrbench.registry import METRICS

BT601 = np.array([65.481, 128.553, 24.966])


def _luma(rgb: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) in [0, 1] -> (N, H, W) BT.601 Y with +16, written out independently of vrbench."""
    return rgb @ BT601 + 16.0


def _dft(y: np.ndarray) -> np.ndarray:
    """2-D DFT by explicit matrices W[k, n] = exp(-2 pi i k n / N)."""
    h, w = y.shape
    wh = np.exp(-2j * np.pi * np.outer(np.arange(h), np.arange(h)) / h)
    ww = np.exp(-2j * np.pi * np.outer(np.arange(w), np.arange(w)) / w)
    return wh @ y @ ww.T


def _high(h: int, w: int, scale: int) -> np.ndarray:
    """Bins whose signed frequency k/N (k - N for k >= N/2) exceeds 1 / (2 scale) in magnitude on either axis."""
    mask = np.zeros((h, w), bool)
    for ky in range(h):
        for kx in range(w):
            fy = (ky if ky < (h + 1) // 2 else ky - h) / h
            fx = (kx if kx < (w + 1) // 2 else kx - w) / w
            mask[ky, kx] = max(abs(fy), abs(fx)) > 1 / (2 * scale)
    return mask


def _hann(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / (n - 1))


def _reference(out: np.ndarray, gt: np.ndarray, scale: int) -> dict[str, list[float]]:
    res: dict[str, list[float]] = {"hf-power": [], "hf-corr": [], "lf-psnr": []}
    for yo, yg in zip(_luma(out), _luma(gt), strict=True):
        h, w = yo.shape
        win = np.outer(_hann(h), _hann(w))
        xo, xg = _dft((yo - yo.mean()) * win), _dft((yg - yg.mean()) * win)
        band = _high(h, w, scale)
        po, pg = (np.abs(xo[band]) ** 2).sum(), (np.abs(xg[band]) ** 2).sum()
        res["hf-power"].append(10 * np.log10(po / pg))
        res["hf-corr"].append(np.real(xo[band] * np.conj(xg[band])).sum() / np.sqrt(po * pg))
        err = _dft(yo - yg)
        res["lf-psnr"].append(10 * np.log10(255**2 / ((np.abs(err[~band]) ** 2).sum() / (h * w) ** 2)))
    return res


def _frames(rng: np.random.Generator, n: int = 2, h: int = 24, w: int = 30) -> np.ndarray:
    y, x = np.mgrid[:h, :w]
    smooth = 0.5 + 0.3 * np.sin(x / 5.0)[..., None] * np.cos(y / 7.0)[..., None]
    return np.clip(smooth[None] + 0.08 * rng.standard_normal((n, h, w, 3)), 0, 1)


def _score(name: str, out: np.ndarray, gt: np.ndarray) -> np.ndarray:
    m = METRICS.create(name)
    m.setup("cpu")
    o, g = (torch.from_numpy(a).permute(0, 3, 1, 2).float() for a in (out, gt))
    return m.compute(o, g, m.reference(g)).numpy()


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("what", ["hf-power", "hf-corr", "lf-psnr"])
def test_band_metrics_match_an_explicit_dft(what, scale):
    rng = np.random.default_rng(scale)
    gt = _frames(rng)
    out = np.clip(0.7 * gt + 0.3 * _frames(rng), 0, 1)
    # float32 frames (the engine's) against the float64 reference: 1e-5 relative
    expected = _reference(out.astype(np.float32), gt.astype(np.float32), scale)[what]
    np.testing.assert_allclose(_score(f"{what}-x{scale}", out, gt), expected, rtol=1e-5)


def test_hf_correlation_is_the_correlation_of_the_high_passed_windowed_frames():
    """Parseval: the spectral formula equals the spatial correlation of the inverse-transformed high band."""
    rng = np.random.default_rng(3)
    gt, out = _frames(rng, n=1), _frames(rng, n=1)
    yo, yg = _luma(out.astype(np.float32))[0], _luma(gt.astype(np.float32))[0]
    h, w = yo.shape
    win = np.outer(_hann(h), _hann(w))
    band = _high(h, w, 4)
    hp = [np.real(np.fft.ifft2(np.where(band, np.fft.fft2((y - y.mean()) * win), 0))) for y in (yo, yg)]
    spatial = (hp[0] * hp[1]).sum() / np.sqrt((hp[0] ** 2).sum() * (hp[1] ** 2).sum())
    assert _score("hf-corr-x4", out, gt)[0] == pytest.approx(spatial, rel=1e-5)


def test_band_metrics_read_the_way_their_cards_say():
    rng = np.random.default_rng(0)
    gt = _frames(rng, n=1, h=64, w=64)
    same = _score("hf-power-x4", gt, gt)[0], _score("hf-corr-x4", gt, gt)[0], _score("lf-psnr-x4", gt, gt)[0]
    assert same[0] == pytest.approx(0.0, abs=1e-9) and same[1] == pytest.approx(1.0) and np.isinf(same[2])
    import cv2

    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 2.0) for f in gt])
    noisy = np.clip(gt + 0.1 * rng.standard_normal(gt.shape), 0, 1)
    assert _score("hf-power-x4", blurred, gt)[0] < -3 < 0 < _score("hf-power-x4", noisy, gt)[0]
    assert _score("hf-corr-x4", noisy, gt)[0] < 0.9
    # a blur costs far less in the low band than in the whole frame
    from vrbench.metrics.fidelity import luma_bt601, psnr

    b, g = (torch.from_numpy(a).permute(0, 3, 1, 2) for a in (blurred, gt))
    assert _score("lf-psnr-x4", blurred, gt)[0] > float(psnr(luma_bt601(b), luma_bt601(g), 255.0)[0]) + 3


def test_blur_effect_is_scikit_images_on_the_bt601_luma():
    from skimage.measure import blur_effect

    rng = np.random.default_rng(1)
    frames = _frames(rng, n=2, h=40, w=48)
    expected = [blur_effect(y, h_size=11) for y in _luma(frames.astype(np.float32))]
    np.testing.assert_allclose(_score("blur-effect", frames, frames), expected, rtol=1e-6)
    import cv2

    blurred = np.stack([cv2.GaussianBlur(f, (0, 0), 2.0) for f in frames])
    assert (_score("blur-effect", blurred, frames) > _score("blur-effect", frames, frames) + 0.05).all()


def test_cards_name_the_band_edge_and_the_luma():
    for scale in (2, 4):
        for what in ("hf-power", "hf-corr", "lf-psnr"):
            card = METRICS.card(f"{what}-x{scale}")
            assert f"1/{2 * scale} cycles/pixel" in card.convention and "BT.601" in card.convention
            assert card.needs_gt and card.kind == "FR"
    assert METRICS.card("blur-effect").kind == "NR" and not METRICS.card("blur-effect").higher_is_better
