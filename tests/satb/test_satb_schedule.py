"""SATB schedule invariants (docs/satb.md, Invariants): blend weights, the posterior identity, the timestep rule."""

from __future__ import annotations

import numpy as np
import pytest

from vrbench.satb.schedule import (
    BLEND_WEIGHTS,
    T_MAX,
    add_noise,
    cogvideox_snr,
    forward_posterior,
    released_timesteps,
    rf_alpha,
    rf_sigma,
    satb_blend,
    satb_timesteps,
    satb_weight,
    uniform_timesteps,
)


@pytest.mark.parametrize("tau_s", [0.05, 0.235, 0.3733, 0.5538])
def test_satb_weight_is_one_at_the_start_monotone_and_vanishes(tau_s):
    assert satb_weight(tau_s, tau_s) == pytest.approx(1.0, abs=1e-12)
    t = np.linspace(1e-4, tau_s, 200)
    w = satb_weight(t, tau_s)
    assert np.all(np.diff(w) > 0) and np.all((w > 0) & (w <= 1 + 1e-12))
    assert satb_weight(1e-6, tau_s) < 1e-6


def test_satb_weight_on_the_cogvideox_schedule_matches_the_research_note():
    # docs/satb.md, Blend weights: w for tau_s = 399 is 0.573 at t=319, 0.318 at 239, 0.160 at 159, 0.061 at 79
    snr = cogvideox_snr([399, 319, 239, 159, 79])
    assert np.round(snr[1:] ** -1 * snr[0], 3).tolist() == [0.573, 0.318, 0.160, 0.061]


@pytest.mark.parametrize("name,at_start,at_zero", [("snr", 1, 0), ("linear", 1, 0), ("cosine", 1, 0),
                                                    ("naive", 0, 0), ("w1", 1, 1)])
def test_blend_weight_endpoints(name, at_start, at_zero):
    w = BLEND_WEIGHTS[name]
    assert w(0.4, 0.4) == pytest.approx(at_start) and w(1e-7, 0.4) == pytest.approx(at_zero, abs=1e-5)


def test_blend_reduces_to_standard_training_when_the_predictor_is_exact():
    x = np.random.default_rng(0).normal(size=(4, 5))
    assert np.array_equal(satb_blend(x, x.copy(), 0.2, 0.5), x)
    assert np.allclose(satb_blend(x, x + 1, 0.5, 0.5), x + 1)


@pytest.mark.parametrize("s,t", [(0.55, 0.30), (0.3733, 0.2618), (0.2, 0.05)])
def test_posterior_identity_by_monte_carlo(s, t):
    """Sampling q(x_t | x_s = a_s x_p + s_s eps, x_0 = x_gt) gives a_t x_b^t, s_t (Kingma et al. 2021, eq. 33)."""
    rng = np.random.default_rng(1)
    n, x_p, x_gt = 400_000, 0.7, -0.4
    x_s = add_noise(x_p, rng.standard_normal(n), s)
    mean, std = forward_posterior(x_s, x_gt, s, t)
    x_t = mean + std * rng.standard_normal(n)
    expected = rf_alpha(t) * satb_blend(x_gt, x_p, t, s)
    assert x_t.mean() == pytest.approx(expected, abs=3e-3)
    assert x_t.std() == pytest.approx(rf_sigma(t), abs=3e-3)


def test_released_timestep_rule():
    assert released_timesteps(1) == [199]
    assert released_timesteps(2) == [199, 99]
    assert released_timesteps(3) == [299, 199, 99]
    assert released_timesteps(4) == [399, 299, 199, 99]
    assert released_timesteps(5) == [399, 319, 239, 159, 79]
    # rectified-flow equivalents, docs/satb.md, Timesteps
    assert np.round(satb_timesteps(5), 3).tolist() == [0.554, 0.484, 0.412, 0.332, 0.235]
    assert np.round(satb_timesteps(3), 3).tolist() == [0.467, 0.373, 0.262]
    assert T_MAX >= satb_timesteps(4)[0] > T_MAX - 1e-3


def test_cogvideox_snr_table():
    snr = cogvideox_snr([0, 99, 199, 299, 399, 999])
    assert np.round(snr, 2).tolist() == pytest.approx([1175.47, 7.94, 2.83, 1.31, 0.65, 0.0], abs=0.01)


@pytest.mark.parametrize("steps", [0, -1, 401])
def test_timestep_rule_rejects_impossible_step_counts(steps):
    with pytest.raises(ValueError, match="steps"):
        released_timesteps(steps)


def test_uniform_timesteps_start_at_t_start_and_are_evenly_spaced():
    assert uniform_timesteps(1) == [T_MAX]
    assert np.allclose(uniform_timesteps(4, 0.4), [0.4, 0.3, 0.2, 0.1])
    with pytest.raises(ValueError, match="t_start=1.2"):
        uniform_timesteps(2, 1.2)
