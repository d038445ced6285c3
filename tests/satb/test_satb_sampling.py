"""Samplers and guidance: the oracle-denoiser invariant, determinism, DTG vs CFG (the colour fix is tested with
vrbench.colorfix in tests/test_protocols.py)."""

from __future__ import annotations

import pytest
import torch

from vrbench.satb.sampling import (
    SAMPLERS,
    anneal,
    cfg_denoiser,
    dtg_denoiser,
    sample,
)
from vrbench.satb.schedule import satb_timesteps


def _noise(seed: int, shape):
    return lambda k: torch.randn(shape, generator=torch.Generator().manual_seed(seed * 100 + k))


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5, 8])
def test_an_oracle_denoiser_returns_the_ground_truth_for_any_step_count(sampler, steps):
    x_gt, x_p = torch.randn(1, 3, 48, 6, 5), torch.randn(1, 3, 48, 6, 5)
    seen = []

    def oracle(x, t):
        seen.append(t)
        return x_gt

    out = sample(oracle, x_p, satb_timesteps(steps), _noise(0, x_gt.shape), sampler)
    assert torch.allclose(out, x_gt) and seen == satb_timesteps(steps)


def test_no_steps_returns_the_predictor_output():
    x_p = torch.randn(1, 2, 48, 4, 4)
    assert sample(lambda x, t: x * 0, x_p, [], _noise(0, x_p.shape)) is x_p


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_sampling_is_deterministic_given_the_noise(sampler):
    x_p = torch.randn(1, 2, 48, 4, 4)

    def shrink(x, t):  # a denoiser that is not an oracle, so the noise matters
        return 0.8 * x / (1 - t)

    ts = satb_timesteps(4)
    a = sample(shrink, x_p, ts, _noise(3, x_p.shape), sampler)
    b = sample(shrink, x_p, ts, _noise(3, x_p.shape), sampler)
    c = sample(shrink, x_p, ts, _noise(4, x_p.shape), sampler)
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_unknown_sampler_is_an_error():
    with pytest.raises(ValueError, match="unknown sampler 'euler'"):
        sample(lambda x, t: x, torch.zeros(1), [0.3], _noise(0, (1,)), "euler")


def _branches():
    def cond(x, t):
        return x + t

    def uncond(x, t):
        return 2 * x - t

    return cond, uncond


def test_dtg_without_offset_is_cfg_and_anneals_to_the_conditional_branch():
    cond, uncond = _branches()
    x = torch.randn(5)
    cfg = cfg_denoiser(cond, uncond, 2.5)
    assert torch.allclose(dtg_denoiser(cond, uncond, 2.5, 0.0, 0.5, "linear")(x, 0.5), cfg(x, 0.5))
    # at the start the unconditional branch sits at t - delta, its input scaled by alpha(0.4) / alpha(0.5) = 1.2
    u = uncond(1.2 * x, 0.4)
    expected = u + 2.5 * (cond(x, 0.5) - u)
    assert torch.allclose(dtg_denoiser(cond, uncond, 2.5, 0.1, 0.5, "linear")(x, 0.5), expected)
    u = uncond(x, 0.4)
    expected = u + 2.5 * (cond(x, 0.5) - u)
    assert torch.allclose(dtg_denoiser(cond, uncond, 2.5, 0.1, 0.5, "linear", rescale=False)(x, 0.5), expected)
    # as t -> 0: delta -> 0 and alpha -> 1, so the result is the conditional estimate
    for kind in ("exponential", "linear", "cosine"):
        assert torch.allclose(dtg_denoiser(cond, uncond, 2.5, 0.1, 0.5, kind)(x, 1e-9), cond(x, 1e-9), atol=1e-6)


def test_anneal_ramps():
    for kind in ("exponential", "linear", "cosine"):
        assert anneal(0.0, kind) == 0.0 and anneal(1.0, kind) == pytest.approx(1.0)
        values = [anneal(u / 10, kind) for u in range(11)]
        assert values == sorted(values)
    assert anneal(0.5, "exponential") < anneal(0.5, "linear")  # exponential keeps the offset for the early steps
    with pytest.raises(ValueError, match="unknown annealing"):
        anneal(0.5, "step")
