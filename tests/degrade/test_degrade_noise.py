"""Noise operators against their statistics [BSR random_add_*_noise_pt formulas]."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vrbench.degrade import noise, ops_torch, reference


def flat_batch(value: float, size: int = 128) -> torch.Tensor:
    return torch.full((1, 3, size, size), value, dtype=torch.float32)


@pytest.mark.parametrize("gray", [False, True])
def test_gaussian_noise_mean_and_variance(gray):
    sigma = 12.0
    out = ops_torch.add_noise(flat_batch(0.5), [{"kind": "gaussian", "sigma": sigma, "gray": gray, "seed": 3}])
    n = (out - 0.5).numpy()
    assert abs(n.mean()) < 4 * (sigma / 255) / np.sqrt(n.size)
    assert n.std() == pytest.approx(sigma / 255, rel=0.02)
    channels_equal = np.allclose(n[0, 0], n[0, 1]) and np.allclose(n[0, 1], n[0, 2])
    assert channels_equal == gray


@pytest.mark.parametrize(("level", "scale"), [(0.2, 0.1), (0.5, 0.05), (0.9, 0.02)])
def test_poisson_noise_variance_follows_the_formula(level, scale):
    # two distinct 8-bit levels -> vals = 2; noise = (Poisson(x vals) / vals - x) * scale, variance x / vals * scale^2
    # (scales small enough that nothing is clipped, so the formula applies as is)
    x = flat_batch(round(level * 255) / 255, 256)
    x[..., 0, 0] = 0.0
    entry = {"kind": "poisson", "scale": scale, "gray": False, "seed": 11}
    out = ops_torch.add_noise(x, [entry])[..., 1:, :]
    assert float(out.min()) > 0 and float(out.max()) < 1
    n = (out - x[..., 1:, :]).numpy().astype(np.float64)
    predicted = float(x[0, 0, 1, 1]) / 2 * scale**2
    assert n.var() == pytest.approx(predicted, rel=0.03)
    assert abs(n.mean()) < 4 * np.sqrt(predicted / n.size)


def test_poisson_counts_are_the_exact_inverse_cdf():
    rng = np.random.default_rng(0)
    for vals in (1, 4, 64, 256):
        levels = rng.integers(0, 256, (3, 40, 50))
        u = noise.uniform_field(9, levels.shape)
        counts = noise.poisson_counts(levels, u, vals)
        cdf = noise.poisson_cdf_table(vals)
        expected = np.zeros_like(levels)
        for level in np.unique(levels):
            where = levels == level
            expected[where] = np.searchsorted(cdf[level], u[where], side="left")
        np.testing.assert_array_equal(counts, expected)


def test_poisson_counts_have_poisson_mean_and_variance():
    vals, level = 16, 128
    lam = level / 255 * vals
    counts = noise.poisson_counts(np.full((200_000,), level), noise.uniform_field(1, (200_000,)), vals)
    assert counts.mean() == pytest.approx(lam, rel=0.01)
    assert counts.var() == pytest.approx(lam, rel=0.02)


def test_poisson_vals_is_next_power_of_two():
    assert [noise.poisson_vals(n) for n in (1, 2, 3, 200, 256)] == [1, 2, 4, 256, 256]


def test_noise_depends_only_on_the_recorded_seed():
    x = flat_batch(0.4, 32)
    for kind, level in (("gaussian", "sigma"), ("poisson", "scale")):
        a = ops_torch.add_noise(x, [{"kind": kind, level: 2.0, "gray": False, "seed": 5}])
        b = ops_torch.add_noise(x, [{"kind": kind, level: 2.0, "gray": False, "seed": 5}])
        c = ops_torch.add_noise(x, [{"kind": kind, level: 2.0, "gray": False, "seed": 6}])
        assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("gray", [False, True])
@pytest.mark.parametrize("kind", ["gaussian", "poisson"])
def test_batched_noise_matches_the_per_frame_reference(bunny, kind, gray):
    frames = torch.from_numpy(bunny[:2]).permute(0, 3, 1, 2).float() / 255
    level = "sigma" if kind == "gaussian" else "scale"
    entries = [{"kind": kind, level: 7.0 + i, "gray": gray, "seed": 100 + i} for i in range(2)]
    ours = ops_torch.add_noise(frames, entries).permute(0, 2, 3, 1).numpy()
    ref = np.stack([reference.add_noise(f.permute(1, 2, 0).numpy(), e) for f, e in zip(frames, entries, strict=True)])
    np.testing.assert_array_equal(ours, ref)
