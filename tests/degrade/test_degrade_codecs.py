"""JPEG (libjpeg through OpenCV) and video compression (PyAV) round trips."""

from __future__ import annotations

import numpy as np
import pytest

from vrbench.degrade import codec
from vrbench.degrade.jpeg import jpeg_library, jpeg_roundtrip, to_uint8
from vrbench.errors import InputError


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float(10 * np.log10(255**2 / mse)) if mse else float("inf")


def test_jpeg_roundtrip_keeps_size_and_quality_orders_the_error(bunny):
    frame = bunny[0]
    out = {q: jpeg_roundtrip(frame, q) for q in (30, 60, 95)}
    assert all(o.shape == frame.shape and o.dtype == np.uint8 for o in out.values())
    assert psnr(frame, out[30]) < psnr(frame, out[60]) < psnr(frame, out[95])
    assert np.array_equal(jpeg_roundtrip(frame, 60), out[60])  # deterministic for a given libjpeg
    assert "jpeg" in jpeg_library().lower()


def test_jpeg_keeps_colours_in_place():
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 200
    out = jpeg_roundtrip(red, 90).astype(int)
    assert out[..., 0].mean() > 190 and out[..., 2].mean() < 10  # R stays R (no RGB/BGR swap inside the codec)


@pytest.mark.parametrize("quality", [0, 101, 50.5])
def test_jpeg_rejects_bad_quality(quality):
    with pytest.raises(InputError):
        jpeg_roundtrip(np.zeros((8, 8, 3), np.uint8), quality)


def test_to_uint8_clips_before_casting():
    np.testing.assert_array_equal(to_uint8(np.array([-0.2, 0.5, 1.3, 0.99999])), [0, 128, 255, 255])


@pytest.mark.parametrize("name", ["libx264", "h264", "mpeg4"])
def test_video_roundtrip_odd_size_and_determinism(bunny, name):
    frames = np.ascontiguousarray(bunny[:, :45, :63])  # odd height and width: padded to even, cropped back
    out = codec.compress_video(frames, name, 40_000)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert 22 < psnr(frames, out) < 60
    assert np.array_equal(out, codec.compress_video(frames, name, 40_000))


def test_video_bitrate_orders_the_error(carphone):
    # at 1 fps the budget is about the bitrate per frame: 10k-100k bits for 176 x 144 frames. (FFmpeg's mpeg4
    # saturates at its default quantiser bounds on frames this small, so only x264 is checked strictly.)
    low, high = (codec.compress_video(carphone, "libx264", b) for b in (10_000, 100_000))
    assert psnr(carphone, low) + 3 < psnr(carphone, high)
    low, high = (codec.compress_video(carphone, "mpeg4", b) for b in (10_000, 100_000))
    assert psnr(carphone, low) <= psnr(carphone, high)


def test_video_encoders_are_resolved_and_recorded():
    assert codec.resolve_encoder("libx264") == "libx264"
    assert codec.resolve_encoder("mpeg4") == "mpeg4"
    assert codec.resolve_encoder("h264") in ("libx264", "h264_v4l2m2m", "libopenh264")  # FFmpeg's default H.264
    with pytest.raises(InputError):
        codec.resolve_encoder("no-such-codec")
    versions = codec.codec_versions()
    assert {"libavcodec", "pyav", "libx264"} <= set(versions)


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 5)])
def test_video_handles_tiny_frames(size):
    frames = np.full((2, *size, 3), 120, np.uint8)
    assert codec.compress_video(frames, "libx264", 10_000).shape == frames.shape


def test_yuv_conversion_roundtrip_is_close(bunny):
    frame = np.ascontiguousarray(bunny[0, :32, :48])
    planes = codec.rgb_to_yuv420(frame)
    assert planes.shape == (48, 48) and planes.dtype == np.uint8
    back = codec.yuv420_to_rgb(planes, 32, 48)
    assert psnr(frame, back) > 30  # chroma is subsampled, luma exact up to rounding



def test_yuv_conversion_is_a_fixed_sequence_of_float64_operations(bunny):
    """Products and sums in a written-out order (no BLAS matrix product): the bytes equal an independent
    evaluation of the BT.601 formulas in exact rational arithmetic except where the exact value is a rounding tie."""
    from fractions import Fraction

    frame = np.ascontiguousarray(bunny[0, :8, :8])
    planes = codec.rgb_to_yuv420(frame)
    coef = [[Fraction(str(c)) for c in row] for row in ([65.481, 128.553, 24.966], [-37.797, -74.203, 112.0],
                                                         [112.0, -93.786, -18.214])]
    exact = [[[sum(c * int(v) for c, v in zip(row, frame[i, j], strict=True)) / 255 + off for j in range(8)]
              for i in range(8)] for row, off in zip(coef, (16, 128, 128), strict=True)]
    y = np.array([[min(max(round(v), 0), 255) for v in line] for line in exact[0]])
    cb = np.array([[min(max(round(sum(exact[1][2 * i + a][2 * j + b] for a in (0, 1) for b in (0, 1)) / 4), 0), 255)
                    for j in range(4)] for i in range(4)])
    assert np.array_equal(planes[:8], y)
    assert np.array_equal(planes[8:].reshape(-1)[:16].reshape(4, 4), cb)
