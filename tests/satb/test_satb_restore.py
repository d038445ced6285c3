"""Restoring videos: determinism given a seed, streaming in chunks, short clips, the method adapters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vrbench.satb.adapter  # noqa: F401  (registers the methods until the builtin list imports it)
from vrbench.errors import InputError
from vrbench.registry import METHODS, METRICS
from vrbench.satb.checkpoint import save_checkpoint
from vrbench.satb.nets import Denoiser, NetConfig, Predictor
from vrbench.satb.restore import SamplingConfig, SatbRestorer
from vrbench.video import Video

TINY = NetConfig(channels=16, predictor_channels=16, predictor_blocks=1)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    """A small randomly initialised checkpoint whose layers all do something (no zero-initialised outputs)."""
    torch.manual_seed(0)
    p, d = Predictor(TINY), Denoiser(TINY)
    with torch.no_grad():
        for m in [*p.modules(), *d.modules()]:
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)):
                torch.nn.init.normal_(m.weight, std=0.02)
    file = tmp_path_factory.mktemp("satb") / "tiny.safetensors"
    save_checkpoint(file, p, d, TINY.to_dict(), {"variant": "test"})
    return str(file)


@pytest.fixture(scope="module")
def lq(bbb_frames):
    import cv2

    return np.stack([cv2.resize(f, (16, 12), interpolation=cv2.INTER_AREA) for f in bbb_frames[:7]])


@pytest.mark.parametrize("sampling", [SamplingConfig(), SamplingConfig(sampler="dpmpp-2m-sde"),
                                      SamplingConfig(guidance="dtg", colour_fix="wavelet")])
def test_restoration_is_deterministic_given_a_seed(tiny_ckpt, lq, sampling):
    r = SatbRestorer(tiny_ckpt, sampling)
    a = r.restore_frames(lq[:2], steps=2, seed=1)
    b = r.restore_frames(lq[:2], steps=2, seed=1)
    c = r.restore_frames(lq[:2], steps=2, seed=2)
    assert a.shape == (2, 48, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_frame_noise_is_shared_by_blocks_of_frames_and_the_version_is_in_the_config():
    from vrbench.satb.restore import SAMPLING_VERSION, frame_noise
    from vrbench.seeds import derive_seed

    draws = frame_noise(7, np.array([4, 5, 6]), (2, 5), block=3)(1)
    expected = torch.randn((2, 5), generator=torch.Generator().manual_seed(derive_seed(7, 2, 1)))  # block 6 // 3
    assert draws.shape == (1, 3, 2, 5) and torch.equal(draws[0, 2], expected)
    assert torch.equal(draws[0, 0], draws[0, 1]) and not torch.equal(draws[0, 1], draws[0, 2])  # frames 4, 5: block 1
    assert SAMPLING_VERSION == 3 and SamplingConfig().to_dict()["sampling_version"] == SAMPLING_VERSION


def test_dtg_with_zero_offset_is_annealed_cfg_and_the_rescale_keeps_x_over_alpha():
    from vrbench.satb.sampling import dtg_denoiser
    from vrbench.satb.schedule import rf_alpha

    seen = []

    def uncond(x, t):
        seen.append((x.clone(), t))
        return x * 0.5

    def cond(x, t):
        return x + 1.0

    x = torch.ones(2)
    out = dtg_denoiser(cond, uncond, scale=3.0, delta=0.0, t_start=0.5)(x, 0.5)  # a(1) = 1: alpha = 3, tau = t
    assert torch.allclose(out, 0.5 * x + 3.0 * (x + 1.0 - 0.5 * x)) and seen[-1][1] == 0.5
    dtg_denoiser(cond, uncond, scale=3.0, delta=0.1, t_start=0.5)(x, 0.5)
    assert seen[-1][1] == pytest.approx(0.4) and torch.allclose(seen[-1][0], x * rf_alpha(0.4) / rf_alpha(0.5))
    dtg_denoiser(cond, uncond, scale=3.0, delta=0.1, t_start=0.5, rescale=False)(x, 0.5)
    assert torch.equal(seen[-1][0], x)


def test_zero_steps_is_the_predictor_and_does_not_depend_on_the_seed(tiny_ckpt, lq):
    r = SatbRestorer(tiny_ckpt)
    assert np.array_equal(r.restore_frames(lq[:2], steps=0, seed=0), r.restore_frames(lq[:2], steps=0, seed=5))


def test_streaming_does_not_depend_on_how_the_input_arrives(tiny_ckpt, lq):
    r = SatbRestorer(tiny_ckpt, SamplingConfig(chunk=2, overlap=1))
    whole = np.concatenate(list(r.restore_stream([lq[:5]], steps=1, seed=0)))
    pieces = np.concatenate(list(r.restore_stream([lq[i : min(i + 2, 5)] for i in range(0, 5, 2)], steps=1, seed=0)))
    assert whole.shape == (5, 48, 64, 3) and np.array_equal(whole, pieces)
    # a window with its full context equals restoring those frames directly
    assert np.array_equal(whole[2:4], r.restore_frames(lq[1:5], steps=1, seed=0, first_frame=1)[1:3])


@pytest.mark.parametrize("frames", [1, 2])
def test_clips_shorter_than_the_temporal_window_are_replicate_padded(tiny_ckpt, lq, frames):
    out = SatbRestorer(tiny_ckpt).restore_frames(lq[:frames], steps=2, seed=0)
    assert out.shape == (frames, 48, 64, 3)


def test_adapters_are_registered_with_cards():
    for name in ("satb", "satb-dtg", "satb-ddc", "satb-naive"):
        card = METHODS.card(name)
        assert card.supports_steps and card.default_steps == 4 and card.scale == 4
    # DDC lowered the predictor on validation, so the default restorer is the checkpoint trained without it
    assert METHODS.create("satb").checkpoint == METHODS.create("satb-dtg").checkpoint == "no-ddc"
    assert METHODS.create("satb-ddc").checkpoint == "satb" and METHODS.create("satb-naive").checkpoint == "naive"


def test_adapter_restores_a_video_and_rejects_bad_calls(tiny_ckpt, lq):
    method = METHODS.create("satb", checkpoint=tiny_ckpt, chunk=4, overlap=1)
    video = Video.from_array(lq[:5], fps=25.0, name="bbb")
    out = method.restore(video, scale=4, steps=None, seed=0)
    assert (out.num_frames, out.height, out.width, out.fps) == (5, 48, 64, 25.0)
    assert method.config()["checkpoint_sha256"] and method.config()["sampler"] == "dpmpp-2m-sde"
    with pytest.raises(InputError, match=r"one scale only \(clip 'bbb'\): expected x4, found x2"):
        method.restore(video, scale=2, steps=1, seed=0)
    with pytest.raises(InputError, match="steps >= 0"):
        method.restore(video, scale=4, steps=-1, seed=0)
    with pytest.raises(InputError, match="unknown option.*found \\['stpes'\\]"):
        METHODS.create("satb", stpes=3)
    with pytest.raises(InputError, match="unknown SATB option guidance"):
        METHODS.create("satb-dtg", guidance="pag")
    with pytest.raises(InputError, match="out of range.*t_start=1.5"):
        METHODS.create("satb", timesteps="uniform", t_start=1.5)
    assert METHODS.create("satb-dtg", checkpoint=tiny_ckpt).config()["guidance"] == "dtg"


def test_the_evaluation_table_scores_bicubic_and_checkpoints_with_the_registry_metrics(tiny_ckpt, bbb_frames):
    import cv2

    from vrbench.metrics.engine import to_tensor
    from vrbench.satb.evaluate import Row, evaluate_rows, markdown_table

    gt = bbb_frames[:3, :48, :64]
    lq = np.stack([cv2.resize(f, (16, 12), interpolation=cv2.INTER_AREA) for f in gt])
    rows = [Row("bicubic", None), Row("tiny N=0", tiny_ckpt, 0)]
    results = evaluate_rows(rows, {"c": (gt, lq)}, log=lambda m: None)
    up = np.stack([cv2.resize(f, (64, 48), interpolation=cv2.INTER_CUBIC) for f in lq])
    direct = METRICS.create("psnr-y").compute(to_tensor(up, "cpu"), to_tensor(gt, "cpu")).mean().item()
    assert results[0]["psnr-y"] == pytest.approx(direct) and np.isfinite(results[1]["ssim-y"])
    table = markdown_table(results)
    assert table.splitlines()[0] == "| method | psnr-y ↑ | ssim-y ↑ | frames/s (CPU) |" and "| tiny N=0 |" in table

