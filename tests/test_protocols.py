"""Protocol cards and the conventions they switch: border crop, colour fix, default metric sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vrbench.colorfix import adain_fix, colour_fix, wavelet_fix, wavelet_split
from vrbench.errors import UnknownNameError
from vrbench.metrics.engine import build_metrics, evaluate_clip
from vrbench.protocols import load_protocol, protocol_names
from vrbench.registry import METRICS
from vrbench.video import Video


def test_every_protocol_card_loads_and_names_registered_metrics():
    assert {"default", "basicsr-y", "seedvr2", "satb-vr", "dove"} <= set(protocol_names())
    for name in protocol_names():
        p = load_protocol(name)
        assert p.metrics and all(m in METRICS for m in p.metrics), name
    assert load_protocol("seedvr2").colour_fix == "wavelet"
    with pytest.raises(UnknownNameError, match="Did you mean 'seedvr2'"):
        load_protocol("seedvr")


def test_crop_border_equals_scoring_the_cropped_frames(bbb_frames):
    import cv2

    gt = bbb_frames[:3]
    out = np.stack([cv2.GaussianBlur(f, (7, 7), 2.0) for f in gt])
    metrics = build_metrics(["psnr-y", "ssim-y"], "cpu").ready
    cropped = evaluate_clip({"m": Video.from_array(out)}, Video.from_array(gt), metrics, "cpu", crop_border=4)
    manual = evaluate_clip({"m": Video.from_array(np.ascontiguousarray(out[:, 4:-4, 4:-4]))},
                           Video.from_array(np.ascontiguousarray(gt[:, 4:-4, 4:-4])), metrics, "cpu")
    full = evaluate_clip({"m": Video.from_array(out)}, Video.from_array(gt), metrics, "cpu")
    for m in metrics:
        assert cropped.values["m"][m][0] == pytest.approx(manual.values["m"][m][0], abs=1e-12)
        assert cropped.values["m"][m][0] != pytest.approx(full.values["m"][m][0], abs=1e-6)


def test_wavelet_split_is_exact_and_fix_takes_low_frequencies_from_the_lq(bbb_frames):
    x = torch.from_numpy(bbb_frames[:2]).permute(0, 3, 1, 2).float() / 255
    high, low = wavelet_split(x)
    torch.testing.assert_close(high + low, x)
    shifted = (x * 0.6 + 0.3).clamp(0, 1)  # same detail, wrong colours
    fixed = wavelet_fix(shifted, x)
    assert (fixed - x).abs().mean() < 0.3 * (shifted - x).abs().mean()
    ada = adain_fix(shifted, x)
    torch.testing.assert_close(ada.mean((2, 3)), x.mean((2, 3)), atol=2e-3, rtol=0)


def test_colour_fix_on_uint8_frames(bbb_frames):
    import cv2

    lq = np.stack([cv2.resize(f, (32, 24), interpolation=cv2.INTER_AREA) for f in bbb_frames[:2]])
    out = np.clip(bbb_frames[:2].astype(int) + 40, 0, 255).astype(np.uint8)
    fixed = colour_fix(out, lq, "wavelet")
    assert fixed.dtype == np.uint8 and fixed.shape == out.shape
    assert abs(fixed.mean() - bbb_frames[:2].mean()) < abs(out.mean() - bbb_frames[:2].mean()) / 3
    with pytest.raises(ValueError, match="unknown colour fix"):
        colour_fix(out, lq, "histogram")
