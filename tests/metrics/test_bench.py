"""`vrbench bench metrics` / `bench protocol`: the engine and the per-frame anchors agree in the same run, the run
is saved with its hardware, and bad options are one clear line. (Speed itself is never asserted.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.metrics.bench import run_bench

runner = CliRunner()


def test_engine_and_basicsr_style_anchors_agree():
    run = run_bench(["psnr-y", "ssim-y", "ssim-matlab", "ssim-rgb"], size="256", frames=2, methods=2, device="cpu")
    rows = {r.name: r for r in run.rows}
    assert set(rows) == {"psnr-y", "ssim-y", "ssim-matlab", "ssim-rgb"} and run.scored == 4
    # float32 x / 255 at the engine's boundary against exact uint8 in the anchor: ~1e-7 dB, ~1e-9 SSIM
    assert rows["psnr-y"].max_abs_diff < 1e-6
    assert rows["ssim-y"].max_abs_diff < 1e-8 and rows["ssim-rgb"].max_abs_diff < 1e-8
    assert rows["ssim-matlab"].max_abs_diff < 1e-12  # both sides round to the same integers
    assert "cv2.filter2D" in rows["ssim-y"].anchor
    assert set(run.split_s) == {"decode", "transfer", "compute", "store"} and run.split_s["compute"] > 0
    assert run.decode_fps > 0 and run.engine_fps > 0 and run.anchor_fps > 0
    assert run.hardware["cores"] >= 1 and run.hardware["torch"]
    json.dumps(run.to_dict())


def test_bench_metrics_cli_saves_the_run(tmp_path):
    out = runner.invoke(app, ["bench", "metrics", "--size", "256", "--frames", "1", "--methods", "1", "--metrics",
                              "psnr-rgb,nonexistent-or-anchorless", "--device", "cpu", "--save", str(tmp_path)],
                        terminal_width=200)
    assert out.exit_code == 0, out.output
    assert "psnr-rgb" in out.output and "whole run" in out.output and "decoding alone" in out.output
    assert "not measured: nonexistent-or-anchorless (no anchor)" in out.output
    (saved,) = tmp_path.glob("metrics-256-cpu-*.json")
    data = json.loads(saved.read_text())
    assert data["rows"][0]["name"] == "psnr-rgb" and data["hardware"]["cpu"] and data["size"] == "256"


@pytest.mark.parametrize("args,words", [(["--size", "4k"], "unknown --size"),
                                        (["--methods", "9"], "--methods must be 1-5")])
def test_bench_metrics_refuses_bad_options_before_running(args, words):
    """An InputError (the console entry point prints it as one line, exit 2), raised before any frame is made."""
    from vrbench.errors import InputError

    out = runner.invoke(app, ["bench", "metrics", *args], terminal_width=200)
    assert isinstance(out.exception, InputError) and words in str(out.exception)


def test_bench_protocol_extrapolates_every_stage(tmp_path):
    out = runner.invoke(app, ["bench", "protocol", "seedvr2", "--frames", "1", "--metrics", "psnr-rgb,ssim-yiq",
                              "--device", "cpu", "--save", str(tmp_path)], terminal_width=200)
    assert out.exit_code == 0, out.output
    (saved,) = tmp_path.glob("protocol-seedvr2-cpu-*.json")
    data = json.loads(saved.read_text())
    assert data["target_frames"] == 5530 and data["target_clips"] == 110
    assert list(data["minutes"]) == ["decode", "colour fix (wavelet)", "psnr-rgb", "ssim-yiq"]
    for stage, seconds in data["seconds_per_frame"].items():
        assert data["minutes"][stage] == pytest.approx(seconds * 5530 / 60)
    assert data["total_minutes"] == pytest.approx(sum(data["minutes"].values()))
    assert "whole protocol for one method" in out.output


def test_random_stand_in_weights_never_outlive_the_bench(monkeypatch, tmp_path):
    import os

    from vrbench.metrics.bench import random_weights_hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "mine"))
    monkeypatch.delenv("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS", raising=False)
    with random_weights_hub():
        hub = os.environ["TORCH_HOME"]
        assert hub != str(tmp_path / "mine")
        assert (Path(hub) / "hub" / "vrbench" / "DOVER.pth").is_file()
    assert os.environ["TORCH_HOME"] == str(tmp_path / "mine") and not Path(hub).exists()
    assert "VRBENCH_ALLOW_UNVERIFIED_WEIGHTS" not in os.environ and not (tmp_path / "mine").exists()


@pytest.mark.slow
def test_clipiqa_gets_a_random_clip_stand_in_only_inside_the_bench(monkeypatch, tmp_path):
    """CLIP-IQA is timed on a random CLIP RN50 planted as a TorchScript archive; pyiqa's loader (which downloads
    again any file without the published sha256) reads it only while the bench's hub is active. The engine's
    values (channels-last on a CPU, several frames a call) equal pyiqa's own per-frame call."""
    import numpy as np
    import torch
    from pyiqa.archs import clip_model

    from vrbench.metrics.bench import random_weights_hub
    from vrbench.metrics.engine import build_metrics, evaluate_clip, to_tensor
    from vrbench.video import Video

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "mine"))
    download = clip_model._download
    with random_weights_hub(names=["psnr-y"]):
        assert not list(Path(os.environ["TORCH_HOME"]).glob("hub/clip/*"))  # 400 MB only when asked for
    with random_weights_hub(names=["clipiqa"]):
        assert clip_model._download is not download
        built = build_metrics(["clipiqa"], "cpu")
        assert not built.unavailable, built.unavailable
        frames = np.random.default_rng(0).integers(0, 256, (2, 64, 80, 3), dtype=np.uint8)
        scores = evaluate_clip({"m": Video.from_array(frames)}, Video.from_array(frames), built.ready, "cpu")
        value, per_frame = scores.values["m"]["clipiqa"]
        assert len(per_frame) == 2 and 0.0 <= value <= 1.0
        pyiqa_model = built.ready["clipiqa"].model  # pyiqa's own forward, one NCHW frame a call
        with torch.inference_mode():
            direct = [float(pyiqa_model(to_tensor(frames[i : i + 1], "cpu"))) for i in range(2)]
        np.testing.assert_allclose(per_frame, direct, rtol=1e-5, atol=1e-6)
        assert built.ready["clipiqa"].text_features.shape == (10, 1024)  # the prompts, encoded once and kept
    assert clip_model._download is download and not (tmp_path / "mine").exists()


def test_dover_anchor_calls_the_network_once_per_clip_for_every_dover_id(monkeypatch):
    """The authors' call returns every DOVER score at once: a script reads tech100, overall and aes from one pass,
    so the anchor must not pay three passes where the engine pays one."""
    import numpy as np

    from vrbench.metrics.bench_anchors import _clip_anchor

    calls = []
    monkeypatch.setattr("vrbench.metrics.dover.dover_scores",
                        lambda model, frames, seed=0, fused=True: calls.append((frames.shape, fused)) or
                        {"tech100": 50.0, "overall": 0.5, "aes100": 40.0})
    clip = np.zeros((2, 8, 8, 3), np.uint8)
    shared: dict = {}
    got = [_clip_anchor(n, type("M", (), {"key": k, "model": None})(), clip, clip, "cpu", shared)[0]
           for n, k in (("dover-tech100", "tech100"), ("dover-overall", "overall"), ("dover-aes", "aes100"))]
    assert got == [50.0, 0.5, 40.0] and calls == [((2, 3, 8, 8), False)]  # the authors' op-by-op attention
