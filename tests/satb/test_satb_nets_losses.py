"""Networks and losses: the invertible space, short clips, the DDC gradient routing, every training variant."""

from __future__ import annotations

import pytest
import torch

from vrbench.satb.losses import VARIANTS, ddc_loss, satb_losses
from vrbench.satb.nets import Denoiser, NetConfig, Predictor, from_space, lq_to_space, pad_to_multiple, to_space

TINY = NetConfig(channels=16, predictor_channels=16, predictor_blocks=1)


def test_pixel_unshuffle_space_is_exactly_invertible():
    frames = torch.rand(2, 3, 3, 32, 24)
    z = to_space(frames, 4)
    assert z.shape == (2, 3, 48, 8, 6)
    assert torch.allclose(from_space(z, 4), frames, atol=1e-6)


def test_lq_condition_is_the_bicubic_upsampled_lq_in_the_same_space():
    y, x = torch.meshgrid(torch.arange(8.0), torch.arange(10.0), indexing="ij")
    lq = (0.02 * x + 0.03 * y + torch.tensor([0.1, 0.2, 0.3])[:, None, None])[None, None].repeat(1, 2, 1, 1, 1)
    z = lq_to_space(lq, 4)
    assert z.shape == (1, 2, 48, 8, 10)
    # bicubic reproduces a linear ramp away from the borders, so each 4x4 block averages to its LQ pixel
    blocks = torch.nn.functional.avg_pool2d(from_space(z, 4)[0], 4)
    assert torch.allclose(blocks[..., 2:6, 2:8], lq[0, ..., 2:6, 2:8], atol=1e-5)


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
