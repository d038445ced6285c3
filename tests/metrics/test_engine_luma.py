"""The engine's native-luma hook: stream metrics that ask for it get the coded Y planes beside the RGB chunks."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from vrbench.metrics.base import MetricCard, StreamMetric
from vrbench.metrics.engine import Timings, evaluate_clip
from vrbench.video import open_video, write_frames

CARD = MetricCard(name="probe", summary="records what it is fed", kind="video", higher_is_better=True,
                  level="clip", needs_gt=True)


class _Recorder(StreamMetric):
    card = CARD

    def start(self, num_frames):
        return []

    def update(self, state, out, gt, index, **kwargs):
        state.append((index, out.shape, kwargs))

    def finish(self, state):
        return float(len(state)), state


class _LumaRecorder(_Recorder):
    native_luma = True


def _yuv_mp4(frames: np.ndarray, file) -> None:
    t, h, w, _ = frames.shape
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25",
                    "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "30", str(file)],
                   input=np.ascontiguousarray(frames).tobytes(), check=True)


@pytest.fixture
def clips(tmp_path, bbb_frames):
    frames = bbb_frames[:, :, :118]
    _yuv_mp4(frames, tmp_path / "gt.mp4")
    _yuv_mp4(frames[:, ::-1].copy(), tmp_path / "out.mp4")
    write_frames(frames, tmp_path / "png")
    return {k: open_video(tmp_path / n) for k, n in (("gt", "gt.mp4"), ("mp4", "out.mp4"), ("png", "png"))}


def test_native_luma_metric_gets_the_coded_y_planes_chunk_aligned(clips):
    timings = Timings()
    scores = evaluate_clip({"mp4": clips["mp4"], "png": clips["png"]}, clips["gt"],
                           {"luma": _LumaRecorder(), "plain": _Recorder()}, "cpu", chunk=5, timings=timings)
    gt_y = np.concatenate(list(clips["gt"].iter_luma_chunks(5)))
    out_y = np.concatenate(list(clips["mp4"].iter_luma_chunks(5)))
    calls = scores.values["mp4"]["luma"][1]
    assert [(i, tuple(s)) for i, s, _ in calls] == [(0, (5, 3, 96, 118)), (5, (5, 3, 96, 118)), (10, (2, 3, 96, 118))]
    for index, _, kwargs in calls:
        y_out, y_gt = kwargs["luma"]
        assert y_out.dtype == y_gt.dtype and str(y_out.dtype) == "torch.float32"
        assert tuple(y_out.shape) == (len(y_out), 1, 96, 118)
        np.testing.assert_array_equal(y_out[:, 0].numpy(), out_y[index : index + len(y_out)])
        np.testing.assert_array_equal(y_gt[:, 0].numpy(), gt_y[index : index + len(y_gt)])
    # a frame folder has no coded luma: its side is None, the ground truth's is still there
    for _, _, kwargs in scores.values["png"]["luma"][1]:
        assert kwargs["luma"][0] is None and kwargs["luma"][1] is not None
    # metrics without the attribute are called exactly as before (no keyword at all)
    assert all(kwargs == {} for _, _, kwargs in scores.values["mp4"]["plain"][1])
    assert all(v >= 0 for v in timings.to_dict().values()) and timings.compute > 0


def test_no_luma_is_decoded_when_no_metric_asks(clips, monkeypatch):
    from vrbench.video import Video

    def refuse(*args, **kwargs):
        raise AssertionError("luma decoded although no metric asked for it")

    monkeypatch.setattr(Video, "iter_chunks_with_luma", refuse)
    scores = evaluate_clip({"mp4": clips["mp4"]}, clips["gt"], {"plain": _Recorder()}, "cpu", chunk=5)
    assert scores.values["mp4"]["plain"][0] == 3.0


@pytest.mark.gpu
def test_on_cuda_chunks_and_luma_arrive_on_the_device(clips):
    import torch

    timings = Timings()
    scores = evaluate_clip({"mp4": clips["mp4"]}, clips["gt"], {"luma": _LumaRecorder(), "psnr": _psnr()},
                           torch.device("cuda"), chunk=5, timings=timings)
    cpu = evaluate_clip({"mp4": clips["mp4"]}, clips["gt"], {"psnr": _psnr()}, "cpu", chunk=5)
    for _, _, kwargs in scores.values["mp4"]["luma"][1]:
        assert all(t.device.type == "cuda" for t in kwargs["luma"])
    np.testing.assert_allclose(scores.values["mp4"]["psnr"][1], cpu.values["mp4"]["psnr"][1], atol=1e-10)


def _psnr():
    from vrbench.registry import METRICS

    return METRICS.create("psnr-y")


class _SlowFinish(_Recorder):
    """A per-clip metric whose work happens in `finish`, as DOVER's does."""

    def finish(self, state):
        import time

        time.sleep(0.3)
        return super().finish(state)


def test_time_split_counts_a_stream_metrics_finish_as_compute(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    write_frames(frames, tmp_path / "gt")
    write_frames(frames, tmp_path / "out")
    timings = Timings()
    metric = _SlowFinish()
    evaluate_clip({"m": open_video(tmp_path / "out")}, open_video(tmp_path / "gt"), {"probe": metric}, "cpu", 8,
                  timings=timings)
    assert timings.compute >= 0.3  # the sleep is in finish: it is metric work, not storing values
