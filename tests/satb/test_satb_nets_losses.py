"""Networks and losses: the invertible space, short clips, the DDC gradient routing, every training variant."""

from __future__ import annotations

import pytest
import torch

from vrbench.satb.losses import VARIANTS, LossConfig, ddc_loss, draw_times, satb_losses, window_noise
from vrbench.satb.nets import (
    Denoiser,
    NetConfig,
    Predictor,
    band_rms,
    from_space,
    haar_matrix,
    lq_to_space,
    pad_to_multiple,
    to_space,
)
from vrbench.satb.schedule import satb_timesteps

TINY = NetConfig(channels=16, predictor_channels=16, predictor_blocks=1)
RMS = tuple(float(v) for v in torch.linspace(0.05, 2.0, 48))


@pytest.mark.parametrize("net", [NetConfig(), NetConfig(band_rms=RMS), NetConfig(space="unshuffle")])
def test_the_space_is_exactly_invertible(net):
    frames = torch.rand(2, 3, 3, 32, 24)
    z = to_space(frames, net)
    assert z.shape == (2, 3, 48, 8, 6)
    assert torch.allclose(from_space(z, net), frames, atol=1e-5)


def test_haar_bands_are_orthonormal_and_normalised_to_unit_rms():
    h = haar_matrix(4)
    assert torch.allclose(h @ h.T, torch.eye(4, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(h[0], torch.full((4,), 0.5, dtype=torch.float64))  # the coarsest row is the block mean x2
    torch.manual_seed(0)
    frames = [torch.rand(1, 4, 3, 32, 32) ** 3 for _ in range(2)]
    rms = band_rms(frames, NetConfig())
    z = torch.cat([to_space(f, NetConfig(band_rms=rms)) for f in frames], dim=1)
    assert torch.allclose(z.pow(2).mean((0, 1, 3, 4)).sqrt(), torch.ones(48), atol=1e-3)
    # a constant frame lives in the coarsest band of each colour only
    flat = to_space(torch.full((1, 1, 3, 8, 8), 0.75), NetConfig())
    assert flat[0, 0, [0, 16, 32]].allclose(torch.full((3, 2, 2), 2.0)) and flat[0, 0, 1:16].abs().max() < 1e-6


def test_lq_condition_is_the_bicubic_upsampled_lq_in_the_same_space():
    y, x = torch.meshgrid(torch.arange(8.0), torch.arange(10.0), indexing="ij")
    lq = (0.02 * x + 0.03 * y + torch.tensor([0.1, 0.2, 0.3])[:, None, None])[None, None].repeat(1, 2, 1, 1, 1)
    net = NetConfig(band_rms=RMS)
    z = lq_to_space(lq, net)
    assert z.shape == (1, 2, 48, 8, 10)
    # bicubic reproduces a linear ramp away from the borders, so each 4x4 block averages to its LQ pixel
    blocks = torch.nn.functional.avg_pool2d(from_space(z, net)[0], 4)
    assert torch.allclose(blocks[..., 2:6, 2:8], lq[0, ..., 2:6, 2:8], atol=1e-5)


def test_training_times_cover_the_whole_range_and_put_a_share_on_the_sampler_grids():
    tau_s, t = draw_times(20_000, LossConfig(), torch.Generator().manual_seed(0))
    assert (t <= tau_s).all() and tau_s.max() > 0.95 and tau_s.min() < 0.05
    starts = torch.tensor([satb_timesteps(n)[0] for n in range(1, 6)])
    grids = torch.tensor([v for n in range(1, 6) for v in satb_timesteps(n)])

    def on(values, points):
        return (values[:, None] - points[None]).abs().min(1).values < 1e-6

    at_start = on(tau_s, starts)
    assert 0.45 < at_start.float().mean() < 0.55  # released_share = 0.5 (a continuous draw hits a start w.p. 0)
    assert on(t[at_start], grids).all()
    assert (t[at_start] == tau_s[at_start]).float().mean() > 0.2  # the start state itself (w = 1) is trained


def test_window_noise_is_shared_within_blocks_of_frames():
    eps = window_noise((64, 5, 2, 3, 3), 3, torch.Generator().manual_seed(0))
    same = torch.stack([(eps[:, i] == eps[:, i + 1]).flatten(1).all(1) for i in range(4)], 1)  # (B, 4)
    # every 5-frame window holds one or two block boundaries, at a phase that varies between samples
    assert ((~same).sum(1) >= 1).all() and ((~same).sum(1) <= 2).all()
    assert len({tuple(row.tolist()) for row in same}) == 3
    assert eps.std().item() == pytest.approx(1.0, abs=0.1)


def test_the_predictor_starts_as_the_identity_and_clips_shorter_than_the_window_go_through():
    torch.manual_seed(0)
    p, d = Predictor(TINY), Denoiser(TINY)
    for frames in (1, 2, 3, 5):
        z = torch.randn(1, frames, 48, 6, 8)
        assert torch.equal(p(z), z)
        out = d(z, torch.full((1,), 0.3), z)
        assert out.shape == z.shape and torch.isfinite(out).all()
    assert len(d.features(z, torch.full((1,), 0.3), z)) == 4


def test_odd_sizes_are_padded_for_the_unet():
    z, pad = pad_to_multiple(torch.randn(1, 2, 48, 9, 11), 2)
    assert z.shape[-2:] == (10, 12) and pad == (1, 1)


def test_ddc_gives_zero_gradient_to_the_denoiser_and_non_zero_to_the_predictor():
    torch.manual_seed(0)
    p, d = Predictor(TINY), Denoiser(TINY)
    with torch.no_grad():  # a non-zero predictor output head, so x_p != z_lq
        p.out.weight.normal_(std=0.05)
    for m in d.modules():  # zero-initialised layers would make D's features ignore its input
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)):
            torch.nn.init.normal_(m.weight, std=0.05)
    z, x_gt = torch.randn(2, 3, 48, 4, 4), torch.randn(2, 3, 48, 4, 4)
    loss = ddc_loss(d, p(z), x_gt, torch.tensor([0.3, 0.5]), z, torch.randn_like(x_gt))
    loss.backward()
    assert loss.item() > 0
    assert all(q.grad is None or not q.grad.any() for q in d.parameters())
    assert sum(q.grad.abs().sum().item() for q in p.parameters() if q.grad is not None) > 0
    assert all(q.requires_grad for q in d.parameters())  # D is trainable again afterwards


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_training_variant_gives_finite_losses_and_gradients(variant):
    torch.manual_seed(0)
    p, d = Predictor(TINY), Denoiser(TINY)
    x_gt, z = torch.randn(3, 3, 48, 4, 4), torch.randn(3, 3, 48, 4, 4)
    losses = satb_losses(p, d, x_gt, z, VARIANTS[variant], torch.Generator().manual_seed(0))
    losses["total"].backward()
    assert ("ddc" in losses) == (VARIANTS[variant].lambda_ddc > 0)
    assert torch.isfinite(losses["total"]) and d.out[-1].weight.grad.abs().sum() > 0
    # the predictor always learns (its direct loss), with or without DDC
    assert p.out.weight.grad.abs().sum() > 0
