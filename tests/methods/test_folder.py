"""The `folder` adapter: per-clip frame folders or videos, clip-name patterns, and warnings on lossy outputs."""

from __future__ import annotations

import logging
from fractions import Fraction

import av
import numpy as np
import pytest

from vrbench.errors import InputError
from vrbench.registry import METHODS
from vrbench.video import Video, write_frames, write_video_lossless


def _write_x264(frames: np.ndarray, file, pix_fmt: str, crf: str) -> None:
    with av.open(str(file), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(24))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        stream.options = {"crf": crf}
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format=pix_fmt)))
        container.mux(stream.encode())


@pytest.fixture
def gt(bbb_frames) -> Video:
    return Video.from_array(bbb_frames[:4], name="bunny")


def test_lossy_yuv420p_video_is_accepted_with_a_warning(tmp_path, gt, caplog):
    _write_x264(gt.read(), tmp_path / "bunny.mp4", "yuv420p", "18")
    method = METHODS.create("folder", root=tmp_path)
    with caplog.at_level(logging.WARNING, logger="vrbench.methods.folder"):
        out = method.restore(gt, scale=4)
    assert out.pix_fmt == "yuv420p" and out.read().shape == (4, 96, 128, 3)
    assert "warning: lossy yuv420p output; chroma subsampling shifts PSNR" in out.conversions
    assert method.warnings["bunny"] == ("warning: lossy yuv420p output; chroma subsampling shifts PSNR",)
    assert "lossy yuv420p" in caplog.text and "bunny" in caplog.text
    # and it does shift PSNR: the decoded frames are not the frames that went in
    assert np.abs(out.read().astype(int) - gt.read()).mean() > 0.5


def test_lossless_and_lossy_codecs_are_told_apart(tmp_path, gt):
    write_video_lossless(gt.read(), tmp_path / "a" / "bunny.mkv", codec="ffv1")
    assert METHODS.create("folder", root=tmp_path / "a").restore(gt, scale=4).conversions == ()
    (tmp_path / "b").mkdir()
    _write_x264(gt.read(), tmp_path / "b" / "bunny.mp4", "yuv444p", "0")
    notes = METHODS.create("folder", root=tmp_path / "b").restore(gt, scale=4).conversions
    assert notes == ("yuv444p->rgb24 (decoder conversion)",
                     "warning: h264 output; lossless only at crf/qp 0, which the file does not record")
    import cv2

    (tmp_path / "c" / "bunny").mkdir(parents=True)
    for i, f in enumerate(gt.read()):
        cv2.imwrite(str(tmp_path / "c" / "bunny" / f"{i:03d}.jpg"), f[..., ::-1])
    assert METHODS.create("folder", root=tmp_path / "c").restore(gt, scale=4).conversions == (
        "warning: 4 JPEG frames (lossy); re-export as PNG",)


def test_pattern_maps_tool_specific_names(tmp_path, gt):
    # Upscale-A-Video names its frame folders after its settings
    write_frames(gt.read(), tmp_path / "frame" / "bunny_n120_g6_s30_fp32")
    write_frames(gt.read()[:1], tmp_path / "frame" / "other_n120_g6_s30_fp32")
    method = METHODS.create("folder", root=tmp_path, pattern="frame/{clip}_n*")
    out = method.restore(gt, scale=4)
    assert out.path == tmp_path / "frame" / "bunny_n120_g6_s30_fp32" and out.num_frames == 4
    assert method.config()["pattern"] == "frame/{clip}_n*"
    assert "pattern" not in METHODS.create("folder", root=tmp_path).config()  # old configs keep their hash
    write_frames(gt.read(), tmp_path / "frame" / "bunny_n150_g6_s30")
    with pytest.raises(InputError, match="pattern must match exactly one output") as err:
        method.restore(gt, scale=4)
    assert "bunny_n120_g6_s30_fp32" in str(err.value) and "bunny_n150_g6_s30" in str(err.value)


def test_pattern_escapes_wildcards_in_clip_names_and_names_map_single_clips(tmp_path, gt):
    write_video_lossless(gt.read(), tmp_path / "FlashVSR_Full_[a]_seed0.mkv")
    write_video_lossless(gt.read(), tmp_path / "FlashVSR_Full_a_seed0.mkv")
    clip = Video.from_array(gt.read(), name="[a]")
    out = METHODS.create("folder", root=tmp_path, pattern="FlashVSR_Full_{clip}_seed*.mkv").restore(clip, scale=4)
    assert out.path.name == "FlashVSR_Full_[a]_seed0.mkv"  # '[a]' matched literally, not as the class [a]
    method = METHODS.create("folder", root=tmp_path, names={"bunny": "FlashVSR_Full_a_seed0.mkv"})
    assert method.restore(gt, scale=4).path.name == "FlashVSR_Full_a_seed0.mkv"
    with pytest.raises(InputError, match="folder pattern must contain {clip}"):
        METHODS.create("folder", root=tmp_path, pattern="results/*.mp4")


def test_default_layouts_and_missing_outputs(tmp_path, gt):
    write_frames(gt.read(), tmp_path / "demo" / "bunny")
    method = METHODS.create("folder", root=tmp_path, dataset="demo")
    assert method.restore(gt, scale=4).path == tmp_path / "demo" / "bunny"
    other = Video.from_array(gt.read(), name="missing")
    with pytest.raises(InputError, match="no output for this clip") as err:
        method.restore(other, scale=4)
    assert "pattern= or names=" in str(err.value)
