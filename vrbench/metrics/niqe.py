"""NIQE (Mittal et al., IEEE SPL 2013) with pyiqa's values (pyiqa 0.1.16 `niqe` defaults), on the MATLAB model
parameters from our cache path.

On a CPU the frame is scored here in float64 NumPy/OpenCV: separable Gaussian filtering, the half-size MATLAB
bicubic downscale as one fixed 8-tap stride-2 filter, and the AGGD parameters of every block estimated at once, by
a binary search in pyiqa's shape grid instead of a scan of it. On any other device pyiqa's own network runs (it
also serves as the anchor of `vrbench bench metrics`). Luma, downscale and shape grid are bit-exact to pyiqa's;
the separable window differs from pyiqa's float32-rounded 2-D one by float rounding, which moves NIQE by < 5e-8 on
real frames (tests/metrics/test_niqe_fast.py).

pyiqa's conventions kept on purpose, so the values stay pyiqa's (pyiqa 0.1.16 `archs/niqe_arch.py`,
`archs/func_util.py`, `matlab_utils/`; features of BRISQUE, Mittal et al., IEEE TIP 2012):
- luma: the Y row of YIQ on the float32 frame, times 255, rounded to integers (`to_y_channel`, 'yiq'; no border
  cropped);
- the frame is cropped to whole 96x96 blocks (partial blocks dropped), features of 96x96 blocks at full size and
  48x48 blocks at half size, 18 per scale;
- local normalisation: 7x7 Gaussian of sigma 7/6 with replicated borders, sigma = sqrt(|E[x^2] - mu^2| + eps),
  (x - mu) / (sigma + 1); pyiqa's window is the float64 2-D Gaussian rounded to float32, whose sum is 1 + 1.1e-8,
  and E[x^2] - mu^2 amplifies that (mu^2 ~ 4e4): the separable 1-D window here carries the same sum;
- downscale: MATLAB `imresize(x / 255, 0.5)` (bicubic a=-0.5, antialiasing, symmetric borders), computed by pyiqa in
  float32 (its `cast_input` casts every dtype): done here in float32 with the same tap order, then back to float64;
- AGGD: shapes 0.2:0.001:10 as float32 values (torch.arange), the first index of the smallest |r(gamma) - r_hat|;
  a block without negative (or positive) values gives NaN beta and shape 0.2, as in pyiqa; the mean feature drops
  NaN values per column and the covariance drops rows holding a NaN;
- products of adjacent coefficients wrap around inside each block (torch.roll);
- distance: sqrt(d^T pinv((cov_pris + cov_dist) / 2) d), pinv's cutoff 36 * eps as torch's default.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from vrbench.errors import InputError
from vrbench.metrics.learned import NIQE_BLOCK, NIQE_PARAMS, PyiqaMetric

YIQ = ((0.299, 0.587, 0.114), (0.5959, -0.2746, -0.3213), (0.2115, -0.5227, 0.3112))  # pyiqa `rgb2yiq`
SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # horizontal, vertical and the two diagonal neighbours
# MATLAB imresize(., 0.5) with antialiasing: cubic(0.5 * d) at d = 3.5, 2.5, ..., -3.5 pixels, normalised. The taps
# are dyadic (k / 256) and sum to exactly 1, so they are the same in float32 and float64.
HALF_TAPS = np.array([-3, -9, 29, 111, 111, 29, -9, -3], dtype=np.float32) / np.float32(256)


@functools.cache
def gauss_window() -> np.ndarray:
    """1-D window whose outer product is pyiqa's 7x7 Gaussian (MATLAB `fspecial('gaussian', 7, 7/6)`) up to float32
    rounding, scaled to the sum of pyiqa's float32-rounded 2-D window: E[x^2] - mu^2 then carries the same bias
    (without it NIQE moves by ~2e-3)."""
    x = np.arange(-3.0, 4.0)
    g = np.exp(-(x * x) / (2.0 * (7.0 / 6.0) ** 2))
    window = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2.0 * (7.0 / 6.0) ** 2))
    pyiqa_sum = (window / window.sum()).astype(np.float32).astype(np.float64).sum()
    return g / g.sum() * np.sqrt(pyiqa_sum)


@functools.cache
def aggd_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """pyiqa's AGGD shape grid (float32 `torch.arange(0.2, 10.001, 0.001)` values) and, per shape, r(gamma) =
    Gamma(2/g)^2 / (Gamma(1/g) Gamma(3/g)), the scale factor sqrt(Gamma(1/g) / Gamma(3/g)) and the mean factor
    Gamma(2/g) / Gamma(1/g) (BRISQUE's AGGD), computed with torch's lgamma in float64 as pyiqa does."""
    import torch

    gam = torch.arange(0.2, 10 + 0.001, 0.001).double()
    lg1, lg2, lg3 = (torch.lgamma(k / gam) for k in (1.0, 2.0, 3.0))
    r = (2 * lg2 - (lg1 + lg3)).exp()
    if not bool((r[1:] > r[:-1]).all()):  # the binary search in `aggd` needs it
        raise RuntimeError("NIQE's r(gamma) table is not strictly increasing")
    return gam.numpy(), r.numpy(), (lg1 - lg3).exp().sqrt().numpy(), (lg2 - lg1).exp().numpy()


def yiq_luma(x: Any) -> np.ndarray:
    """float32 (N, 3, H, W) RGB in [0, 1] -> float64 (N, H, W) luma in [0, 255], as pyiqa's `to_y_channel` makes it:
    the same float32 torch product with the 3x3 YIQ matrix, times 255, rounded to integers. The product is kept as
    pyiqa calls it because its accumulation (fused multiply-adds, in an order the BLAS kernel picks for this shape)
    decides on which side of .5 some lumas fall, and one grey level moved in ~50 pixels of a 720p frame moves NIQE
    by up to 1e-3."""
    import torch

    with torch.inference_mode():
        m = torch.tensor(YIQ, dtype=torch.float32, device=x.device).t()
        y = torch.matmul(x.float().permute(0, 2, 3, 1), m)[..., 0] * 255
        return y.round().double().cpu().numpy()


def normalise(img: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised (MSCN) coefficients of a float64 (H, W) image."""
    import cv2

    g = gauss_window()
    mu = cv2.sepFilter2D(img, cv2.CV_64F, g, g, borderType=cv2.BORDER_REPLICATE)
    ex2 = cv2.sepFilter2D(img * img, cv2.CV_64F, g, g, borderType=cv2.BORDER_REPLICATE)
    sigma = np.sqrt(np.abs(ex2 - mu * mu) + np.finfo(np.float64).eps)
    return (img - mu) / (sigma + 1.0)


def _half_rows(x: np.ndarray) -> np.ndarray:
    """Rows 2j-3 .. 2j+4 weighted by HALF_TAPS for an even number of rows, borders mirrored with the edge row
    repeated; taps added in order, in x's dtype."""
    padded = np.concatenate([x[3::-1], x, x[:-5:-1]])
    n = x.shape[0] // 2
    out = HALF_TAPS[0] * padded[1 : 1 + 2 * n : 2]
    for k in range(1, 8):
        out += HALF_TAPS[k] * padded[1 + k : 1 + k + 2 * n : 2]
    return out


def half_size(img: np.ndarray) -> np.ndarray:
    """MATLAB `imresize(img / 255, 0.5) * 255` of a float64 (H, W) image with even H and W, in float32 as pyiqa."""
    x = (img / 255.0).astype(np.float32)
    return _half_rows(_half_rows(x).T).T.astype(np.float64) * 255.0


def aggd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """AGGD shape, left and right scale and mean factor of each row of x (BRISQUE's moment matching), by pyiqa's
    grid: the first grid shape with the smallest |r(gamma) - r_hat| (NaN r_hat gives the first shape)."""
    gam, r, scale, mean_factor = aggd_tables()
    neg, pos = np.minimum(x, 0.0), np.maximum(x, 0.0)
    ss_neg, ss_pos = np.einsum("ij,ij->i", neg, neg), np.einsum("ij,ij->i", pos, pos)
    with np.errstate(invalid="ignore", divide="ignore"):  # a block without negative values: NaN, as in pyiqa
        left = np.sqrt(ss_neg / np.count_nonzero(neg, axis=1))
        right = np.sqrt(ss_pos / np.count_nonzero(pos, axis=1))
        g = left / right
        r_hat = (pos.sum(1) - neg.sum(1)) ** 2 / (x.shape[1] * (ss_neg + ss_pos))
        r_norm = r_hat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    hi = np.clip(np.searchsorted(r, r_norm), 1, len(r) - 1)
    lo = hi - 1
    idx = np.where(np.abs(r[lo] - r_norm) <= np.abs(r[hi] - r_norm), lo, hi)
    idx = np.where(np.isnan(r_norm), 0, idx)
    return gam[idx], left * scale[idx], right * scale[idx], mean_factor[idx]


def block_features(coeffs: np.ndarray, block: int) -> np.ndarray:
    """(blocks, 18) NIQE features of the whole `block`-sized blocks of normalised coefficients (H, W): AGGD shape
    and mean scale of the coefficients, then shape, mean, left and right scale of each neighbour product."""
    h, w = coeffs.shape[0] // block, coeffs.shape[1] // block
    blocks = coeffs[: h * block, : w * block].reshape(h, block, w, block).transpose(2, 0, 1, 3)
    blocks = blocks.reshape(h * w, block, block)  # column by column, as pyiqa's blockproc
    alpha, bl, br, _ = aggd(blocks.reshape(len(blocks), -1))
    feats = [alpha, (bl + br) / 2]
    for shift in SHIFTS:
        prod = blocks * np.roll(blocks, shift, axis=(1, 2))
        alpha, bl, br, mean_factor = aggd(prod.reshape(len(blocks), -1))
        feats += [alpha, (br - bl) * mean_factor, bl, br]
    return np.stack(feats, axis=1)


def niqe_luma(luma: np.ndarray, mu_pris: np.ndarray, cov_pris: np.ndarray, block: int = NIQE_BLOCK) -> float:
    """NIQE of one float64 (H, W) luma frame in [0, 255] (at least block x block) against the pristine model."""
    h, w = (luma.shape[0] // block) * block, (luma.shape[1] // block) * block
    img = luma[:h, :w]
    feats = np.concatenate([block_features(normalise(img), block),
                            block_features(normalise(half_size(img)), block // 2)], axis=1)
    return mvg_distance(feats, mu_pris, cov_pris)


def mvg_distance(feats: np.ndarray, mu_pris: np.ndarray, cov_pris: np.ndarray) -> float:
    """Distance between the pristine MVG and the one fitted to the blocks' features (NIQE's Eq. 10, as pyiqa
    cites it)."""
    valid = ~np.isnan(feats)
    rows = feats[valid.all(1)]
    if not len(rows):  # pyiqa fails in its pinv on the NaN covariance
        raise flat_frame()
    mu = np.where(valid, feats, 0.0).sum(0) / valid.sum(0)
    cov = np.cov(rows, rowvar=False, ddof=1 if len(rows) > 1 else 0)
    d = mu_pris.reshape(-1) - mu
    inv = np.linalg.pinv((cov_pris + cov) / 2, rcond=len(d) * np.finfo(np.float64).eps)
    return float(np.sqrt(d @ inv @ d))


def flat_frame() -> InputError:
    return InputError("NIQE is undefined on a frame without texture: every block is flat, so no block has the "
                      "features of its model (pyiqa fails on it too)",
                      expected=f"at least one {NIQE_BLOCK}x{NIQE_BLOCK} block that is not flat")


class NiqeMetric(PyiqaMetric):
    """NIQE computed here on a CPU (`compute_numpy`), by pyiqa's network on other devices (`compute_torch`). pyiqa
    reads its model parameters only from a MAT file (by default one it downloads into its own cache), so the npz's
    two arrays are handed to it as a MAT file written to a temporary folder, read once and deleted; the npz, with
    its published sha256, stays the file of record."""

    tolerates_fast = False  # no network to speed up: autocast would only round the luma product in bf16/fp16

    def build(self, pyiqa: Any, device: Any) -> Any:
        import torch
        from scipy.io import savemat

        self.implementation = ("vrbench float64 NumPy/OpenCV (pyiqa's conventions)"
                               if torch.device(device).type == "cpu" else "pyiqa niqe")

        with np.load(NIQE_PARAMS.path, allow_pickle=False) as params, tempfile.TemporaryDirectory() as folder:
            self.mu_pris, self.cov_pris = params["mu_pris_param"], params["cov_pris_param"]
            mat = Path(folder) / "niqe_pris_params.mat"
            savemat(mat, {"mu_prisparam": self.mu_pris, "cov_prisparam": self.cov_pris})
            return pyiqa.create_metric(self.pyiqa_name, device=device, pretrained_model_path=str(mat), **self.options)

    def compute(self, out, gt, ref=None):
        if min(out.shape[-2:]) < NIQE_BLOCK:  # no whole block to score
            raise InputError(f"NIQE needs frames of at least {NIQE_BLOCK}x{NIQE_BLOCK} pixels (its block size)",
                             found=f"{out.shape[-1]}x{out.shape[-2]}")
        return self.compute_numpy(out) if out.device.type == "cpu" else self.compute_torch(out)

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "implementation": getattr(self, "implementation", "")}

    def compute_numpy(self, out):
        """Frame by frame in float64 NumPy/OpenCV (the CPU path)."""
        import torch

        return torch.tensor([niqe_luma(y, self.mu_pris, self.cov_pris) for y in yiq_luma(out)], dtype=torch.float64)

    def compute_torch(self, out):
        """pyiqa's network on the whole chunk, on the chunk's device."""
        import torch

        try:
            return super().compute(out, None)
        except torch.linalg.LinAlgError as e:
            raise flat_frame() from e
