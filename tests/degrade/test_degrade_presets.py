"""Preset cards, validation, and the published probabilities of the sampler (chi-square over many draws)."""

from __future__ import annotations

import hashlib
import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from vrbench.degrade import list_presets, load_preset
from vrbench.degrade.ops import sample_stages
from vrbench.degrade.presets import cards_folder, preset_from_text
from vrbench.errors import InputError, UnknownNameError
from vrbench.seeds import derive_seed

KERNEL_P = {"iso": 0.405, "aniso": 0.225, "generalized_iso": 0.108, "generalized_aniso": 0.027,
            "plateau_iso": 0.108, "plateau_aniso": 0.027, "sinc": 0.1}  # [RE yml; RBV config]
P_MIN = 1e-4  # fixed seeds make these deterministic; the threshold only guards against a wrong distribution


def chi_square_p(counts: Counter, expected: dict) -> float:
    keys = list(expected)
    observed = np.array([counts.get(k, 0) for k in keys], dtype=float)
    probs = np.array([expected[k] for k in keys])
    return float(stats.chisquare(observed, observed.sum() * probs / probs.sum()).pvalue)


def test_bundled_presets_load_with_version_and_hash():
    assert list_presets() == ["bd-x4", "bicubic-x4", "dove-x4", "realbasicvsr-x4", "realesrgan-x4"]
    for name in list_presets():
        card = load_preset(name)
        assert card.name == name and card.version and len(card.sha256) == 64
        assert card.temporal in ("drift", "constant", "independent") and card.scale == 4
    assert load_preset("realbasicvsr-x4").temporal == "drift"
    assert load_preset("dove-x4").temporal == "constant"
    assert load_preset("realesrgan-x4").temporal == "independent"


def test_unknown_preset_suggests_close_names():
    with pytest.raises(UnknownNameError, match="(?i)did you mean 'realbasicvsr-x4'"):
        load_preset("realbasicvsr")


def card_text(**replace: str) -> str:
    text = (cards_folder() / "realbasicvsr-x4.yaml").read_text()
    for old, new in replace.items():
        assert old.replace("_", " ") in text or old in text
        text = text.replace(old.replace("_", " ") if old.replace("_", " ") in text else old, new, 1)
    return text


@pytest.mark.parametrize(("old", "new", "message"), [
    ("temporal: drift", "temporal: wobbly", "temporal mode"),
    ("quality: [30, 95]", "quality: [0, 120]", "quality"),
    ("sigma_x: [0.2, 3.0]", "sigma_x: [3.0, 0.2]", "sigma_x"),
    ("probs: {up: 0.2, down: 0.7, keep: 0.1}", "probs: {up: 0.2, down: 0.6, keep: 0.1}", "probs"),
    ("bitrate: [10000, 100000]", "bitrate: [10000, 1.0e+12]", "bitrate"),
    ("sizes: [7, 9, 11, 13, 15, 17, 19, 21]", "sizes: [7, 8]", "kernel sizes"),
    ("op: usm", "op: sharpen", "unknown stage op"),
])
def test_out_of_range_card_values_raise_with_the_value(old, new, message):
    text = (cards_folder() / "realbasicvsr-x4.yaml").read_text()
    assert old in text
    with pytest.raises(InputError, match=message):
        preset_from_text(text.replace(old, new, 1), source="edited.yaml")


def test_clip_seed_is_derive_seed_of_seed_and_clip_id_as_before():
    """The clip generator's seed kept its published bytes: first 63 bits of sha256('<seed>:<clip_id>')."""
    expected = int.from_bytes(hashlib.sha256(b"7:calendar").digest()[:8], "big") >> 1
    assert derive_seed(7, "calendar") == expected
    assert derive_seed(7, "calendar") != derive_seed(7, "city") != derive_seed(8, "calendar")


@pytest.fixture(scope="module")
def realesrgan_frames():
    """2000 independent frames of realesrgan-x4: every frame is one draw of the whole pipeline."""
    return sample_stages(load_preset("realesrgan-x4"), 0, "chi2", 2000, (64, 64), 4)


def entries(stages, op, index=0):
    return [s for s in stages if s["op"] == op][index]["frames"]


def test_realesrgan_kernel_and_noise_probabilities(realesrgan_frames):
    first_blur = entries(realesrgan_frames, "blur")
    assert chi_square_p(Counter(e["kind"] for e in first_blur), KERNEL_P) > P_MIN
    assert chi_square_p(Counter(e["size"] for e in first_blur), {k: 1 / 8 for k in range(7, 22, 2)}) > P_MIN
    second_blur = entries(realesrgan_frames, "blur", 1)
    assert chi_square_p(Counter(e is not None for e in second_blur), {True: 0.8, False: 0.2}) > P_MIN
    noise = entries(realesrgan_frames, "noise")
    assert chi_square_p(Counter(e["kind"] for e in noise), {"gaussian": 0.5, "poisson": 0.5}) > P_MIN
    assert chi_square_p(Counter(e["gray"] for e in noise), {True: 0.4, False: 0.6}) > P_MIN
    sigmas = [e["sigma"] for e in noise if e["kind"] == "gaussian"]
    assert stats.kstest(sigmas, stats.uniform(1, 29).cdf).pvalue > P_MIN  # U(1, 30) in 0-255 units


def test_realesrgan_resize_and_final_stage_probabilities(realesrgan_frames):
    first, second = entries(realesrgan_frames, "resize"), entries(realesrgan_frames, "resize", 1)
    assert chi_square_p(Counter(e["direction"] for e in first), {"up": 0.2, "down": 0.7, "keep": 0.1}) > P_MIN
    assert chi_square_p(Counter(e["direction"] for e in second), {"up": 0.3, "down": 0.4, "keep": 0.3}) > P_MIN
    modes = {"area": 1 / 3, "bilinear": 1 / 3, "bicubic": 1 / 3}
    assert chi_square_p(Counter(e["mode"] for e in first), modes) > P_MIN
    # stage-2 size is relative to the LQ size: int(64 / 4 * s2) [RE model]
    assert all(e["height"] == max(int(16 * e["scale"]), 1) for e in second)
    swapped = next(s for s in realesrgan_frames if s["op"] == "shuffle")["second_group_first"]
    assert chi_square_p(Counter(swapped), {True: 0.5, False: 0.5}) > P_MIN
    # per-frame order: JPEG runs in the slot before [resize + sinc] for swapped frames, after it for the others
    jpeg_before, jpeg_after = entries(realesrgan_frames, "jpeg", 1), entries(realesrgan_frames, "jpeg", 2)
    assert [e is not None for e in jpeg_before] == swapped
    assert [e is None for e in jpeg_after] == swapped
    sinc = entries(realesrgan_frames, "blur", 2)
    assert chi_square_p(Counter(e is not None for e in sinc), {True: 0.8, False: 0.2}) > P_MIN
    applied = [e for e in sinc if e is not None]
    assert all(e["kind"] == "sinc" and math.pi / 3 <= e["omega"] <= math.pi for e in applied)


def test_plateau_beta_is_one_half_of_the_time(realesrgan_frames):
    betas = [e["beta"] for s in realesrgan_frames if s["op"] == "blur" for e in s["frames"]
             if e is not None and e["kind"].startswith("plateau")]
    ones = sum(b == 1.0 for b in betas)
    assert stats.binomtest(ones, len(betas), 0.5).pvalue > P_MIN  # U(1, 1) branch of BSR's beta draw
    assert all(1.0 <= b <= 2.0 for b in betas)


def test_sinc_cutoff_range_depends_on_kernel_size(realesrgan_frames):
    sinc = [e for e in entries(realesrgan_frames, "blur") if e["kind"] == "sinc"]
    assert all(e["omega"] >= (math.pi / 3 if e["size"] < 13 else math.pi / 5) - 1e-12 for e in sinc)
    assert min(e["omega"] for e in sinc if e["size"] >= 13) < math.pi / 3  # the wider range is used


def test_video_codec_and_bitrate_are_drawn_per_clip():
    card = load_preset("realbasicvsr-x4")
    codecs, bitrates = Counter(), []
    for i in range(600):
        video = next(s for s in sample_stages(card, 0, f"clip{i}", 1, (32, 32), 4) if s["op"] == "video")
        codecs[video["codec"]] += 1
        bitrates.append(video["bitrate"])
        assert video["encoder"] in ("libx264", "mpeg4") and video["fps"] == 1
    assert chi_square_p(codecs, {"libx264": 1 / 3, "h264": 1 / 3, "mpeg4": 1 / 3}) > P_MIN
    assert min(bitrates) >= 10_000 and max(bitrates) <= 100_000


def max_step(frames: list[dict], key: str) -> float:
    values = [e[key] for e in frames if e is not None and key in e]
    return float(np.abs(np.diff(values)).max()) if len(values) > 1 else 0.0


def test_drift_mode_random_walk_steps():
    # published per-frame steps [RBV config]: sigma 0.02, rotation 0.31416, beta_g 0.05, beta_p 0.1, omega 0.0628,
    # resize 0.015 / 0.03, Gaussian sigma 0.1, Poisson scale 0.005, JPEG quality 3
    stages = sample_stages(load_preset("realbasicvsr-x4"), 3, "walk", 40, (256, 256), 4)
    walks = [s for s in stages if "frames" in s and s.get("purpose") != "align"]
    for stage in walks:
        kinds = {(e.get("kind"), e.get("mode"), e.get("direction")) for e in stage["frames"] if e is not None}
        assert len(kinds) <= 1, stage["op"]  # discrete choices are per clip
    blurs = [s["frames"] for s in walks if s["op"] == "blur"]
    for frames in blurs:
        beta_step = 0.05 if frames[0] and frames[0]["kind"].startswith("generalized") else 0.1
        for key, step in (("sigma_x", 0.02), ("sigma_y", 0.02), ("theta", 0.31416), ("omega", 0.0628),
                          ("beta", beta_step)):
            assert max_step(frames, key) <= step + 1e-12, key
    resizes = [s["frames"] for s in walks if s["op"] == "resize" and "scale" in (s["frames"][0] or {})]
    assert [max_step(f, "scale") <= step + 1e-12 for f, step in zip(resizes, (0.015, 0.03), strict=True)] == [1, 1]
    for frames in (s["frames"] for s in walks if s["op"] == "noise"):
        assert max_step(frames, "sigma") <= 0.1 + 1e-12 and max_step(frames, "scale") <= 0.005 + 1e-12
        assert len({e["seed"] for e in frames}) == 40
    for frames in (s["frames"] for s in walks if s["op"] == "jpeg"):
        assert max_step(frames, "quality_walk") <= 3 + 1e-12
        assert all(e["quality"] == round(e["quality_walk"]) and 30 <= e["quality"] <= 95 for e in frames)
    assert any(max_step(f, "quality_walk") > 0 for f in (s["frames"] for s in walks if s["op"] == "jpeg"))


def test_constant_mode_holds_parameters_fixed():
    stages = sample_stages(load_preset("dove-x4"), 3, "const", 6, (128, 128), 4)
    for stage in stages:
        frames = stage.get("frames")
        if frames and stage["op"] != "noise":
            assert all(e == frames[0] for e in frames), stage["op"]
        elif frames:
            assert len({e["seed"] for e in frames}) == 6
            assert len({e.get("sigma", e.get("scale")) for e in frames}) == 1


def test_a_card_file_can_be_loaded_by_path(tmp_path):
    text = (cards_folder() / "dove-x4.yaml").read_text().replace("name: dove-x4", "name: my-dove", 1)
    path = tmp_path / "my-dove.yaml"
    path.write_text(text)
    card = load_preset(str(path))
    assert card.name == "my-dove" and card.temporal == "constant"
