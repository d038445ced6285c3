"""degrade_clip / replay_manifest: determinism, manifests, replay from parameters alone, and bad input."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from vrbench.degrade import degrade_clip, list_presets, replay_manifest
from vrbench.degrade.manifest import frames_sha256
from vrbench.errors import InputError, UnknownNameError


@pytest.fixture(scope="module")
def rbv(bunny):
    return degrade_clip(bunny, preset="realbasicvsr-x4", seed=1, clip_id="bunny")


def test_lq_shape_and_manifest_contents(bunny, rbv):
    lq, manifest = rbv
    assert lq.shape == (4, 24, 32, 3) and lq.dtype == np.uint8
    json.dumps(manifest)  # serialisable as is
    assert manifest["preset"]["name"] == "realbasicvsr-x4" and manifest["preset"]["version"] == "1.1"
    assert manifest["lq"]["sha256"] == frames_sha256(lq) and len(manifest["lq"]["frame_sha256"]) == 4
    assert manifest["gt"]["sha256"] == frames_sha256(bunny)
    versions = manifest["environment"]["versions"]
    assert {"torch", "numpy", "opencv", "libjpeg", "libavcodec", "libx264", "pyav"} <= set(versions)
    ops = [s["op"] for s in manifest["stages"]]
    assert ops[0] == "usm" and ops[-1] == "quantize" and ops.count("video") == 2
    for stage in manifest["stages"]:
        if "frames" in stage:
            assert len(stage["frames"]) == 4  # one entry per frame


def test_same_seed_same_bytes_and_other_clip_ids_other_draws(bunny, rbv):
    lq, manifest = rbv
    again, manifest_again = degrade_clip(bunny, preset="realbasicvsr-x4", seed=1, clip_id="bunny")
    assert np.array_equal(lq, again) and manifest_again["stages"] == manifest["stages"]
    _, other = degrade_clip(bunny[:1], preset="realbasicvsr-x4", seed=1, clip_id="bunny-2")
    _, reseeded = degrade_clip(bunny[:1], preset="realbasicvsr-x4", seed=2, clip_id="bunny")
    first_blur = lambda m: next(s for s in m["stages"] if s["op"] == "blur")["frames"][0]  # noqa: E731
    assert first_blur(other) != first_blur(manifest) and first_blur(reseeded) != first_blur(manifest)


def test_replay_reproduces_bytes_from_the_parameters_alone(bunny, rbv):
    lq, manifest = rbv
    stripped = json.loads(json.dumps(manifest))
    for key in ("seed", "clip_seed"):
        del stripped[key]  # replay never consults the RNG stream
    stripped["preset"]["stages"] = []
    assert np.array_equal(replay_manifest(bunny, stripped), lq)


def test_replay_detects_edited_parameters_and_wrong_gt(bunny, rbv):
    _, manifest = rbv
    edited = copy.deepcopy(manifest)
    jpeg = next(s for s in edited["stages"] if s["op"] == "jpeg")
    jpeg["frames"][0]["quality"] = 100 if jpeg["frames"][0]["quality"] != 100 else 99
    with pytest.raises(InputError, match="replayed LQ differs"):
        replay_manifest(bunny, edited)
    with pytest.raises(InputError, match="GT frames differ"):
        replay_manifest(bunny[:, ::-1].copy(), manifest)
    with pytest.raises(InputError, match="not a vrbench degradation manifest"):
        replay_manifest(bunny, {"stages": []})


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_runs_and_replays(carphone, preset):
    lq, manifest = degrade_clip(carphone[:2], preset=preset, seed=0, clip_id="carphone")
    assert lq.shape == (2, 36, 44, 3)
    assert np.array_equal(replay_manifest(carphone[:2], manifest), lq)


def test_bicubic_and_bd_are_classic_degradations(carphone):
    import torch
    import torch.nn.functional as F

    lq, _ = degrade_clip(carphone, preset="bicubic-x4", seed=0, clip_id="c")
    x = torch.from_numpy(carphone).permute(0, 3, 1, 2).float() / 255
    expected = F.interpolate(x, size=(36, 44), mode="bicubic", antialias=True, align_corners=False)
    expected = (expected * 255).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    assert np.array_equal(lq, expected)
    lq_bd, manifest = degrade_clip(carphone, preset="bd-x4", seed=5, clip_id="c")
    blur = manifest["stages"][0]["frames"][0]
    assert blur == {"kind": "iso", "size": 13, "sigma_x": 1.6} and lq_bd.shape == (3, 36, 44, 3)


def test_odd_sizes_are_cropped_to_a_multiple_of_the_scale(bunny):
    lq, manifest = degrade_clip(bunny[:2, :51, :70], preset="bd-x4", seed=0, clip_id="odd")
    assert lq.shape == (2, 12, 17, 3)
    assert manifest["gt"]["height"] == 48 and manifest["gt"]["width"] == 68
    assert any("cropped 70x51 -> 68x48" in c for c in manifest["gt"]["conversions"])


def test_frames_smaller_than_the_kernels_still_degrade(bunny):
    tiny = np.ascontiguousarray(bunny[:2, :12, :8])  # 12 x 8 GT: USM (51) and blur (21) kernels exceed the frame
    lq, manifest = degrade_clip(tiny, preset="realbasicvsr-x4", seed=4, clip_id="tiny")
    assert lq.shape == (2, 3, 2, 3)
    assert np.array_equal(replay_manifest(tiny, manifest), lq)


def test_gray_and_16_bit_input_are_converted_and_recorded(bunny):
    gray16 = (bunny[:2, :16, :16, 0].astype(np.uint16) * 257)
    lq, manifest = degrade_clip(gray16, preset="bicubic-x4", seed=0, clip_id="g")
    assert lq.shape == (2, 4, 4, 3) and np.array_equal(lq[..., 0], lq[..., 2])
    assert manifest["gt"]["conversions"] == ["gray->rgb (replicated)", "16-bit->8-bit (round(x/257))"]


@pytest.mark.parametrize(("frames", "kwargs", "error", "message"), [
    (np.zeros((2, 16, 16, 3), np.float32), {}, InputError, "must be uint8"),
    (np.zeros((0, 16, 16, 3), np.uint8), {}, InputError, "no frames"),
    (np.zeros((2, 3, 16, 3), np.uint8), {}, InputError, "smaller than the scale"),
    (np.zeros((2, 16, 16, 2), np.uint8), {}, InputError, "shape"),
    (np.zeros((2, 16, 16, 3), np.uint8), {"preset": "realesrgan"}, UnknownNameError, "(?i)did you mean"),
    (np.zeros((2, 16, 16, 3), np.uint8), {"scale": 3, "preset": "realesrgan-x4"}, InputError, "scale"),
])
def test_bad_input_raises_clear_errors(frames, kwargs, error, message):
    arguments = {"preset": "bicubic-x4", "seed": 0, "clip_id": "bad", **kwargs}
    with pytest.raises(error, match=message):
        degrade_clip(frames, **arguments)


@pytest.mark.parametrize(("op", "key", "value", "message"), [
    ("jpeg", "quality", 250, "bad JPEG quality"),
    ("noise", "seed", -1, "bad noise entry"),
    ("blur", "size", 4, "kernel size"),
    ("resize", "mode", "lanczos", "bad resize entry"),
])
def test_replay_rejects_out_of_range_manifest_parameters(bunny, rbv, op, key, value, message):
    edited = copy.deepcopy(rbv[1])
    entry = next(e for s in edited["stages"] if s["op"] == op for e in s["frames"] if e is not None)
    entry[key] = value
    with pytest.raises(InputError, match=message):
        replay_manifest(bunny, edited)
