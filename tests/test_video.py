"""Video I/O: bit-exact round trips, natural sort, conversions, and clear errors on bad files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vrbench.errors import InputError
from vrbench.video import Video, list_frame_files, natural_key, open_video, write_frames, write_video_lossless


def test_png_folder_round_trip_is_bit_exact(tmp_path, bbb_frames):
    n = write_frames(bbb_frames, tmp_path / "clip")
    video = open_video(tmp_path / "clip")
    assert n == len(bbb_frames) == video.num_frames
    assert (video.height, video.width) == bbb_frames.shape[1:3]
    np.testing.assert_array_equal(video.read(), bbb_frames)
    # chunked reading yields the same frames in bounded pieces
    chunks = list(video.iter_chunks(chunk=5))
    assert [len(c) for c in chunks] == [5, 5, 2]
    np.testing.assert_array_equal(np.concatenate(chunks), bbb_frames)


@pytest.mark.parametrize("codec,ext", [("ffv1", ".mkv"), ("libx264rgb", ".mp4")])
def test_lossless_video_round_trip_is_bit_exact(tmp_path, bbb_frames, codec, ext):
    file = tmp_path / f"clip{ext}"
    write_video_lossless(bbb_frames, file, fps=25, codec=codec)
    video = open_video(file)
    assert video.num_frames == len(bbb_frames)
    assert video.fps == pytest.approx(25)
    np.testing.assert_array_equal(video.read(), bbb_frames)
    np.testing.assert_array_equal(video.read(3, 7), bbb_frames[3:7])


def test_lossless_writer_repeats_bytes(tmp_path, bbb_frames):
    a, b = tmp_path / "a.mkv", tmp_path / "b.mkv"
    write_video_lossless(bbb_frames, a)
    write_video_lossless(bbb_frames, b)
    assert a.read_bytes() == b.read_bytes()


def test_natural_sort_orders_numbers_by_value():
    names = ["Frame 010.png", "Frame 2.png", "Frame 001.png", "im10.png", "im9.png", "00000099.png", "00000100.png"]
    ordered = sorted(names, key=natural_key)
    assert ordered.index("Frame 001.png") < ordered.index("Frame 2.png") < ordered.index("Frame 010.png")
    assert ordered.index("im9.png") < ordered.index("im10.png")
    assert ordered.index("00000099.png") < ordered.index("00000100.png")


def test_frame_folder_is_read_in_natural_order(tmp_path, bbb_frames):
    folder = tmp_path / "spmcs" / "input4"
    folder.mkdir(parents=True)
    for i in (1, 2, 10):
        cv2.imwrite(str(folder / f"Frame {i:03d}.png" if i < 10 else folder / f"Frame {i}.png"),
                    cv2.cvtColor(bbb_frames[i], cv2.COLOR_RGB2BGR))
    assert [f.name for f in list_frame_files(folder)] == ["Frame 001.png", "Frame 002.png", "Frame 10.png"]
    np.testing.assert_array_equal(open_video(folder).read(), bbb_frames[[1, 2, 10]])


def test_sixteen_bit_frames_are_rescaled_and_recorded(tmp_path, bbb_frames):
    folder = tmp_path / "deep"
    folder.mkdir()
    for i, f in enumerate(bbb_frames[:3]):
        cv2.imwrite(str(folder / f"{i}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    video = open_video(folder)
    assert any("16-bit" in c for c in video.conversions)
    np.testing.assert_array_equal(video.read(), bbb_frames[:3])


def test_gray_and_rgba_frames_become_rgb(tmp_path, bbb_frames):
    gray = cv2.cvtColor(bbb_frames[0], cv2.COLOR_RGB2GRAY)
    (tmp_path / "g").mkdir()
    cv2.imwrite(str(tmp_path / "g" / "0.png"), gray)
    video = open_video(tmp_path / "g")
    assert video.conversions == ("gray->rgb (replicated)",)
    out = video.read()[0]
    assert out.shape == (*gray.shape, 3) and np.array_equal(out[..., 0], gray) and np.array_equal(out[..., 2], gray)

    rgba = np.dstack([cv2.cvtColor(bbb_frames[0], cv2.COLOR_RGB2BGR), np.full(gray.shape, 7, np.uint8)])
    (tmp_path / "a").mkdir()
    cv2.imwrite(str(tmp_path / "a" / "0.png"), rgba)
    video = open_video(tmp_path / "a")
    assert "rgba->rgb (alpha dropped)" in video.conversions
    np.testing.assert_array_equal(video.read()[0], bbb_frames[0])


def test_mixed_sizes_name_the_file(tmp_path, bbb_frames):
    write_frames(bbb_frames[:2], tmp_path / "c")
    cv2.imwrite(str(tmp_path / "c" / "00000002.png"), bbb_frames[2][:50])
    with pytest.raises(InputError, match=r"00000002\.png.*expected 128x96, found 128x50"):
        open_video(tmp_path / "c", name="c").read()


def test_unreadable_inputs_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video at all" * 10)
    with pytest.raises(InputError, match="cannot read video.*bad.mp4"):
        open_video(bad)
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "0.png").write_bytes(b"")
    with pytest.raises(InputError, match="cannot decode image.*an empty file"):
        open_video(tmp_path / "f")
    with pytest.raises(InputError, match="video not found"):
        open_video(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no image files"):
        open_video(tmp_path / "empty")


def test_truncated_video_reports_the_frames_it_found(tmp_path, bbb_frames):
    file = tmp_path / "clip.mkv"
    write_video_lossless(bbb_frames, file)
    video = open_video(file)
    video.num_frames = len(bbb_frames) + 5  # claims more frames than the file holds
    with pytest.raises(InputError, match="ended early.*12 decodable frames"):
        video.read()


def test_from_array_checks_the_contract():
    with pytest.raises(InputError, match="uint8"):
        Video.from_array(np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(InputError, match=r"\(T, H, W, 3\)"):
        Video.from_array(np.zeros((4, 4, 3), np.uint8))


def _ffmpeg_yuv(frames: np.ndarray, file, pix_fmt: str = "yuv420p") -> None:
    """Encode uint8 RGB frames with Debian's ffmpeg (x264, lossy) into `file` in `pix_fmt`."""
    import subprocess

    t, h, w, _ = frames.shape
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25",
                    "-i", "-", "-c:v", "libx264", "-pix_fmt", pix_fmt, "-crf", "30", str(file)],
                   input=np.ascontiguousarray(frames).tobytes(), check=True)


def _ffmpeg_y_planes(file, h: int, w: int) -> np.ndarray:
    """The Y planes ffmpeg decodes, as (T, H, W): raw yuv420p out (no conversion), the first H*W bytes of each
    frame. (`-pix_fmt gray` would not do: swscale stretches studio-range Y to full range on the way to gray.)"""
    import subprocess

    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(file), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
                         capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h * w * 3 // 2)
    return frames[:, : h * w].reshape(-1, h, w)


def test_native_luma_is_the_coded_y_plane(tmp_path, bbb_frames):
    """The Y plane read from a yuv420p mp4 equals the Y plane ffmpeg itself decodes, byte for byte (a width of 118
    makes the decoder pad its lines, so the line stride is honoured)."""
    frames = bbb_frames[:, :, :118]
    file = tmp_path / "clip.mp4"
    _ffmpeg_yuv(frames, file)
    video = open_video(file)
    assert video.native_luma and video.pix_fmt == "yuv420p"
    chunks = list(video.iter_luma_chunks(chunk=5))
    assert [c.shape for c in chunks] == [(5, 96, 118), (5, 96, 118), (2, 96, 118)]
    y = np.concatenate(chunks)
    assert y.dtype == np.uint8
    np.testing.assert_array_equal(y, _ffmpeg_y_planes(file, 96, 118))
    # one decode gives both, chunk-aligned, and the RGB side is what iter_chunks yields
    pairs = list(video.iter_chunks_with_luma(chunk=5))
    np.testing.assert_array_equal(np.concatenate([p[0] for p in pairs]), video.read())
    np.testing.assert_array_equal(np.concatenate([p[1] for p in pairs]), y)
    # not the same thing as the BT.601 luma re-derived from the decoded RGB
    rgb = video.read().astype(np.float64) / 255.0
    y_from_rgb = np.round(16 + rgb @ np.array([65.481, 128.553, 24.966]))
    assert np.any(y_from_rgb != y)


def test_native_luma_only_for_8bit_yuv_files(tmp_path, bbb_frames):
    write_frames(bbb_frames, tmp_path / "folder")
    write_video_lossless(bbb_frames, tmp_path / "rgb.mkv")
    for video in (open_video(tmp_path / "folder"), open_video(tmp_path / "rgb.mkv"), Video.from_array(bbb_frames)):
        assert not video.native_luma
    with pytest.raises(InputError, match="no native luma plane"):
        next(open_video(tmp_path / "folder").iter_luma_chunks())
