"""DOVER re-implementation: checkpoint layout, strict loading, views, seeded sampling, score fusion."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vrbench.metrics.dover import build_dover, dover_scores, fuse_dover, load_dover
from vrbench.metrics.dover_views import dover_views, frame_indices, to_uint8

# A small model with the released layout (GRPB windows, '131' kernels come from the full-size tests); scoring a
# clip still runs 224x224x32 views through it.
TINY = {"embed_dim": 12, "depths": (1, 1, 1, 1), "heads": (1, 2, 4, 8), "conv_depths": (1, 1, 1, 1),
        "conv_dims": (8, 16, 32, 64), "head_hidden": 8}


@pytest.fixture(scope="module")
def full_model():
    torch.manual_seed(0)
    return build_dover()


@pytest.fixture(scope="module")
def noise_clip() -> torch.Tensor:
    """200 frames of 256x256 noise: long and large enough for random temporal AND fragment offsets."""
    g = torch.Generator().manual_seed(3)
    return torch.randint(0, 256, (200, 3, 256, 256), generator=g, dtype=torch.uint8)


def test_checkpoint_keys_and_shapes(full_model):
    state = full_model.state_dict()
    expected = {
        "technical_backbone.patch_embed.proj.weight": (96, 3, 2, 4, 4),
        "technical_backbone.layers.0.blocks.0.attn.relative_position_bias_table": (2535, 3),
        "technical_backbone.layers.0.blocks.0.attn.fragment_position_bias_table": (2535, 3),
        "technical_backbone.layers.0.blocks.0.attn.relative_position_index": (392, 392),
        "technical_backbone.layers.2.blocks.5.attn.qkv.weight": (1152, 384),
        "technical_backbone.layers.2.downsample.reduction.weight": (768, 1536),
        "technical_backbone.layers.3.blocks.1.attn.relative_position_bias_table": (2535, 24),
        "technical_backbone.norm.weight": (768,),
        "aesthetic_backbone.downsample_layers.0.0.weight": (96, 3, 2, 4, 4),
        "aesthetic_backbone.downsample_layers.3.1.weight": (768, 384, 1, 2, 2),
        "aesthetic_backbone.stages.0.0.dwconv.weight": (96, 1, 1, 7, 7),
        "aesthetic_backbone.stages.0.1.dwconv.weight": (96, 1, 3, 7, 7),
        "aesthetic_backbone.stages.2.8.gamma": (384,),
        "technical_head.fc_hid.weight": (64, 768, 1, 1, 1),
        "aesthetic_head.fc_last.weight": (1, 64, 1, 1, 1),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert state["technical_backbone.layers.0.blocks.0.attn.relative_position_index"].dtype == torch.int64
    assert not any("layers.3" in k and "fragment_position_bias_table" in k for k in state)
    assert {k.split(".")[0] for k in state} == {"technical_backbone", "aesthetic_backbone", "technical_head",
                                                "aesthetic_head"}
    assert len(state) == 381


def test_strict_roundtrip_and_load_errors(full_model, tmp_path):
    state = full_model.state_dict()
    path = tmp_path / "DOVER.pth"
    torch.save(state, path)
    loaded = load_dover(path)
    assert not loaded.training
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key

    # a small wrapped dict: the heads only, one of them with a wrong shape
    heads = {k: v for k, v in state.items() if "_head." in k}
    heads["technical_head.fc_last.bias"] = torch.zeros(2)
    bad = tmp_path / "bad.pth"
    torch.save({"state_dict": heads}, bad)
    expected = r"bad\.pth.*missing.*technical_head\.fc_last\.bias: expected \(1,\), found \(2,\)"
    with pytest.raises(ValueError, match=expected):
        load_dover(bad)
    pickled = tmp_path / "pickled.pth"
    torch.save({"args": argparse.Namespace(size=1)}, pickled)  # arbitrary objects are refused, not executed
    with pytest.raises(ValueError, match=r"pickled\.pth.*weights_only"):
        load_dover(pickled)
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        load_dover(tmp_path / "absent.pth")


@pytest.mark.slow
def test_full_size_feature_maps(full_model):
    clip = torch.randn(1, 3, 32, 224, 224)
    with torch.inference_mode():
        tech = full_model.technical_backbone(clip)
        aes = full_model.aesthetic_backbone(clip)
        score = full_model.technical_head(tech)
    assert tech.shape == (1, 768, 16, 7, 7)
    assert aes.shape == (1, 768, 16, 7, 7)
    assert score.shape == (1, 1, 16, 7, 7)
    assert torch.isfinite(tech).all() and torch.isfinite(aes).all()


def test_views_shapes_determinism_and_seeds(noise_clip):
    a = dover_views(noise_clip, seed=0)
    b = dover_views(noise_clip.float() / 255.0, seed=0)  # float input rounds back to the same uint8
    c = dover_views(noise_clip, seed=1)
    assert a["technical"].shape == (3, 3, 32, 224, 224)
    assert a["aesthetic"].shape == (1, 3, 32, 224, 224)
    assert a["technical"].dtype == torch.float32
    for key in a:
        assert torch.equal(a[key], b[key])
        assert not torch.equal(a[key], c[key])
    # ImageNet normalisation on 0-255: a 0 pixel maps to -mean/std
    zero = dover_views(torch.zeros(40, 3, 64, 64, dtype=torch.uint8))["technical"]
    assert torch.allclose(zero[0, :, 0, 0, 0], torch.tensor([-123.675 / 58.395, -116.28 / 57.12, -103.53 / 57.375]))


def test_frame_indices_segments_and_wrap():
    rng = np.random.RandomState(0)
    long = frame_indices(300, 3, 32, 2, rng)  # segments of 100 frames, offsets in [0, 36)
    assert long.shape == (96,)
    for c in range(3):
        run = long[32 * c:32 * (c + 1)]
        assert np.all(np.diff(run) == 2)
        assert 100 * c <= run[0] < 100 * c + 36
    short = frame_indices(20, 3, 32, 2, rng)  # no room for offsets: starts 0, 6, 12 and indices wrap mod 20
    expected = np.concatenate([(np.arange(32) * 2 + s) % 20 for s in (0, 6, 12)])
    assert np.array_equal(short, expected)
    # aesthetic sampler on fewer than 32 frames: every segment is empty, so all 32 indices are frame 0 (as upstream)
    assert np.array_equal(frame_indices(20, 32, 1, 2, rng), np.zeros(32))


def test_small_frames_use_grid_of_original_size():
    """Frames below 224 px are upscaled, but the fragment grid is computed from the original size."""
    g = torch.Generator().manual_seed(5)
    clip = torch.randint(0, 256, (4, 3, 112, 160), generator=g, dtype=torch.uint8)
    view = dover_views(clip, seed=0)["technical"]
    up = (F.interpolate(clip[:1].float() / 255.0, scale_factor=2.0, mode="bilinear") * 255.0).to(torch.uint8)
    mean, std = torch.tensor([123.675, 116.28, 103.53]), torch.tensor([58.395, 57.12, 57.375])
    restored = view[0, :, 0] * std[:, None, None] + mean[:, None, None]  # first frame of clip 0, 0-255
    # rows: original grid min(112 // 7 * i, 80) -> fragment 6 starts at row 80 of the 224-row upscaled frame
    assert torch.allclose(restored[:, 192:224, 0:32], up[0, :, 80:112, 0:32].float(), atol=1e-3)
    # columns: min(160 // 7 * j, 128) -> fragment 6 starts at column 128 of the 320-column upscaled frame
    assert torch.allclose(restored[:, 0:32, 192:224], up[0, :, 0:32, 128:160].float(), atol=1e-3)


def test_views_reject_bad_input():
    with pytest.raises(ValueError, match=r"\(T, 3, H, W\)"):
        dover_views(torch.zeros(3, 64, 64))
    with pytest.raises(ValueError, match="32x32"):
        dover_views(torch.zeros(5, 3, 20, 64))
    bad = torch.zeros(5, 3, 64, 64)
    bad[3, 0, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="frame 3"):
        dover_views(bad)
    assert to_uint8(torch.tensor([0.0, 0.5, 1.2, -0.1])).tolist() == [0, 128, 255, 0]


def test_fusion_formula():
    mid = fuse_dover(0.1107, -0.08285)
    assert mid == pytest.approx({"tech100": 50.0, "aes100": 50.0, "overall": 0.5})
    t, a = 0.1107 + 0.07355, -0.08285 - 2 * 0.03774  # one std above, two std below
    got = fuse_dover(t, a)
    sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert got["tech100"] == pytest.approx(100 * sigmoid(1.0))
    assert got["aes100"] == pytest.approx(100 * sigmoid(-2.0))
    assert got["overall"] == pytest.approx(sigmoid(0.6104 * 1.0 - 0.3896 * 2.0))
    assert fuse_dover(-50.0, -50.0)["tech100"] == pytest.approx(0.0, abs=1e-12)


def test_short_clip_wraps_like_upstream():
    """7 frames, each filled with its own index: the technical clips read frames (2k + 2c) mod 7."""
    clip = torch.arange(7, dtype=torch.uint8).view(7, 1, 1, 1).expand(7, 3, 40, 40).contiguous()
    views = dover_views(clip, seed=0)
    tech = views["technical"]  # (3 clips, 3, 32, 224, 224)
    seen = (tech[:, 0, :, 100, 100] * 58.395 + 123.675).round().long()  # undo the R normalisation
    expected = torch.stack([(torch.arange(32) * 2 + 2 * c) % 7 for c in range(3)])
    assert torch.equal(seen, expected)
    aes = views["aesthetic"][0, 0, :, 0, 0] * 58.395 + 123.675
    assert torch.allclose(aes, torch.zeros(32), atol=1e-3)  # fewer than 32 frames: frame 0 throughout


def test_scores_are_seeded(noise_clip):
    """Same seed -> same views (see above) -> same score; another seed moves the fragments and the score."""
    torch.manual_seed(0)
    model = build_dover(**TINY)
    frames = noise_clip.float() / 255.0
    first = dover_scores(model, frames, seed=0)
    assert set(first) == {"technical_raw", "aesthetic_raw", "tech100", "aes100", "overall"}
    assert all(math.isfinite(v) for v in first.values())
    assert first == {**first, **fuse_dover(first["technical_raw"], first["aesthetic_raw"])}
    assert dover_scores(model, frames, seed=1)["technical_raw"] != first["technical_raw"]
    assert not model.training


def test_fused_attention_equals_the_authors_operations(noise_clip):
    """The engine's fused attention (scaled_dot_product_attention, GRPB as lerp, cached window tables) against the
    authors' op-by-op formulation, with shifted windows and GRPB in every stage but the last; the cached tables
    are those the literal path builds."""
    from vrbench.metrics.dover import _window_tables, fragment_gate, shift_mask

    torch.manual_seed(0)
    model = build_dover(**{**TINY, "depths": (2, 2, 2, 2)})
    for p in model.parameters():  # larger biases than the init's, so a wrong bias or mask would show
        p.data.add_(torch.randn_like(p) * 0.05)
    frames = noise_clip[:40].float() / 255.0
    literal = dover_scores(model, frames, seed=0, fused=False)
    fused = dover_scores(model, frames, seed=0)
    for key in ("technical_raw", "aesthetic_raw"):
        assert fused[key] == pytest.approx(literal[key], abs=1e-6)
    assert all(m.fused for m in model.modules() if hasattr(m, "fused"))  # the mode is restored after the call
    gate, mask = _window_tables((16, 56, 56), (8, 7, 7), (4, 3, 3), torch.device("cpu"))
    assert torch.equal(gate.float(), fragment_gate((16, 56, 56), (8, 7, 7), (4, 3, 3)))
    assert torch.equal(mask, shift_mask((16, 56, 56), (8, 7, 7), (4, 3, 3)))
    assert gate.dtype == torch.uint8  # small integer distances (0..12 with the shift): stored exactly
