"""Registered video and temporal metrics: DOVER (three conventions), warping error (two variants, two flows),
temporal LPIPS and brightness flicker, fed chunk by chunk by the engine.

Pair metrics keep only the previous frame between chunks, so their memory is bounded by the chunk size; each
pair's value is computed with the same function that scores a whole clip (`vrbench.metrics.temporal`), and the
clip value is the mean over pairs. DOVER samples frames across the whole clip (3 x 32 technical, 32 aesthetic),
so it keeps the clip as uint8 on the CPU until the end (1 byte per pixel value).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vrbench.metrics.base import MetricCard, StreamMetric, check_ready
from vrbench.metrics.learned import ALEXNET, LPIPS_ALEX
from vrbench.registry import METRICS
from vrbench.weights import WeightFile

TV = "https://download.pytorch.org/models/"
# raft-things (Chairs + Things), the weights EvalCrafter's RAFT code loads; torchvision ports them as C_T_V1
RAFT_THINGS = WeightFile("raft_large_C_T_V1-22a6c225.pth", TV + "raft_large_C_T_V1-22a6c225.pth", "checkpoints",
                         sha256_prefix="22a6c225",
                         signature=(("feature_encoder.convnormrelu.0.weight", (64, 3, 7, 7)),
                                    ("mask_predictor.conv.weight", (576, 256, 1, 1))))
# official release asset (a copy also sits at huggingface.co/teowu/DOVER); no published checksum, so an import is
# checked against tensors of the network `vrbench.metrics.dover.build_dover` loads strictly
DOVER_PTH = WeightFile("DOVER.pth", "https://github.com/QualityAssessment/DOVER/releases/download/v0.1.0/DOVER.pth",
                       "vrbench", signature=(("technical_backbone.patch_embed.proj.weight", (96, 3, 2, 4, 4)),
                                             ("aesthetic_head.fc_last.bias", (1,))))


LPIPS_ALEX_WEIGHTS = (ALEXNET, LPIPS_ALEX)




@dataclass
class _PairState:
    values: list[float] = field(default_factory=list)
    prev_out: Any = None
    prev_gt: Any = None


class PairMetric(StreamMetric):
    """A metric defined on consecutive frame pairs; subclasses implement `pair(out2, gt2) -> float`."""

    def start(self, num_frames: int) -> _PairState:
        return _PairState()

    def update(self, state: _PairState, out, gt, index: int) -> None:
        import torch

        o = out if state.prev_out is None else torch.cat([state.prev_out, out])
        g = None if gt is None else (gt if state.prev_gt is None else torch.cat([state.prev_gt, gt]))
        for t in range(len(o) - 1):
            state.values.append(self.pair(o[t : t + 2], None if g is None else g[t : t + 2]))
        state.prev_out, state.prev_gt = out[-1:], None if gt is None else gt[-1:]

    def finish(self, state: _PairState) -> tuple[float, np.ndarray | None]:
        if not state.values:  # a 1-frame clip has no pair: the value is missing (NaN), not an error
            return float("nan"), None
        values = np.asarray(state.values, dtype=np.float64)
        return float(values.mean()), values

    def pair(self, out2, gt2) -> float:
        raise NotImplementedError(type(self).__name__)


class WarpError(PairMetric):
    """E*warp on the output (EvalCrafter/STAR/DOVE) or with flow from the ground truth (Lai et al.)."""

    def __init__(self, card: MetricCard, flow: str, from_gt: bool) -> None:
        self.card, self.flow, self.from_gt = card, flow, from_gt

    def setup(self, device: Any) -> None:
        from vrbench.metrics import flow

        if self.flow == "dis":
            self.flow_fn = flow.dis_flow
            return
        check_ready(self.card)
        model = flow.load_raft_large(RAFT_THINGS.path, variant="C_T_V1", device=device)
        # EvalCrafter feeds [0, 1] frames to a RAFT expecting 0-255; reproduced for the output-only variant only
        self.flow_fn = flow.raft_flow(model, iterations=20, evalcrafter_range=not self.from_gt)

    def pair(self, out2, gt2) -> float:
        from vrbench.metrics.temporal import ewarp, ewarp_gt

        if self.from_gt:
            return ewarp_gt(out2, gt2, self.flow_fn)
        return ewarp(out2, self.flow_fn)


class Flicker(PairMetric):
    card = MetricCard(name="flicker", summary="Brightness flicker: mean |ΔY| of frame-mean luma", kind="temporal",
                      higher_is_better=False, range=(0.0, 255.0), version="1", unit="grey levels",
                      convention="frame-mean BT.601 luma (0.299, 0.587, 0.114) x255, mean |Y_t+1 - Y_t| over pairs",
                      reference="vrbench definition (not VBench temporal_flickering)", level="clip")

    def pair(self, out2, gt2) -> float:
        from vrbench.metrics.temporal import flicker

        return flicker(out2)


class TemporalLpips(PairMetric):
    card = MetricCard(name="tlp", summary="Temporal LPIPS (TecoGAN), x100", kind="temporal", higher_is_better=False,
                      range=(0.0, 100.0), version="1", level="clip", needs_gt=True,
                      convention="|LPIPS-alex(o_t, o_t+1) - LPIPS-alex(g_t, g_t+1)| x100, mean over pairs",
                      reference="TecoGAN metrics.py (tLP x100)", weights=LPIPS_ALEX_WEIGHTS,
                      requires=("pyiqa",))

    def setup(self, device: Any) -> None:
        self.lpips = METRICS.create("lpips-alex")
        self.lpips.setup(device)

    def pair(self, out2, gt2) -> float:
        from vrbench.metrics.temporal import tlp

        return tlp(out2, gt2, lambda x, y: self.lpips.compute(x, y))


class DoverMetric(StreamMetric):
    """DOVER (our implementation, strict load of the official DOVER.pth), views sampled with seed 0."""

    def __init__(self, card: MetricCard, key: str) -> None:
        self.card, self.key = card, key

    def setup(self, device: Any) -> None:
        check_ready(self.card)
        stat = DOVER_PTH.path.stat()
        self.model = _shared_dover(str(DOVER_PTH.path), str(device), stat.st_mtime_ns, stat.st_size)

    def start(self, num_frames: int) -> list:
        _DOVER_SCORES.clear()  # shared only between the ids of one scoring pass, never from an earlier one
        return []

    def update(self, state: list, out, gt, index: int) -> None:
        import torch

        state.append((out * 255.0).round().to("cpu", dtype=torch.uint8))

    def finish(self, state: list) -> tuple[float, None]:
        import hashlib

        import torch

        from vrbench.metrics.dover import dover_scores

        frames = torch.cat(state)
        key = (hashlib.blake2b(frames.numpy().tobytes(), digest_size=16).hexdigest(), tuple(frames.shape))
        hit = _DOVER_SCORES.get(key)
        if hit is None or hit[0] is not self.model:
            hit = (self.model, dover_scores(self.model, frames, seed=0))
            _DOVER_SCORES.clear()  # one clip's scores at a time: the other DOVER ids of the same clip come next
            _DOVER_SCORES[key] = hit
        return float(hit[1][self.key]), None


# dover-tech100, dover-overall and dover-aes are three readings of one DOVER pass: the ids of one run share the
# network (one copy per weights file and device) and, within one scoring pass (`start` clears it), the last clip's
# scores (keyed by the clip's bytes), so timing a second pass over the same clip measures a real pass.
_DOVER_SCORES: dict[tuple, tuple[Any, dict[str, float]]] = {}


@functools.lru_cache(maxsize=2)
def _shared_dover(path: str, device: str, mtime_ns: int, size: int) -> Any:
    from vrbench.metrics.dover import load_dover

    return load_dover(path, device)


def _tcard(name: str, summary: str, convention: str, reference: str, weights=(), needs_gt=False,
           higher=False, rng=(0.0, None), kind="temporal") -> MetricCard:
    return MetricCard(name=name, summary=summary, kind=kind, higher_is_better=higher, range=rng, version="1",
                      convention=convention, reference=reference, level="clip", needs_gt=needs_gt,
                      weights=tuple(weights))


EWARP = "frames x0.5 bilinear, fw/bw flow, occlusion mask, masked MSE on [0,1] RGB, mean over pairs, x1000"
EWARP_GT = "flow and occlusion from the GT at full resolution, error on the output, mean over pairs, x1000"
WARP_CARDS = [
    (_tcard("ewarp", "E*warp, output only (EvalCrafter/STAR/DOVE), RAFT", f"{EWARP}; RAFT-large raft-things, 20 it.",
            "EvalCrafter compute_video_warping_error", [RAFT_THINGS]), "raft", False),
    (_tcard("ewarp-dis", "E*warp, output only, OpenCV DIS flow (no weights)", f"{EWARP}; OpenCV DIS medium",
            "EvalCrafter variant with a classical flow"), "dis", False),
    (_tcard("ewarp-gt", "Warping error with GT flow (Lai et al.), RAFT", f"{EWARP_GT}; RAFT-large raft-things",
            "Lai et al. ECCV 2018", [RAFT_THINGS], needs_gt=True), "raft", True),
    (_tcard("ewarp-gt-dis", "Warping error with GT flow (Lai et al.), OpenCV DIS", f"{EWARP_GT}; OpenCV DIS medium",
            "Lai et al. ECCV 2018 with a classical flow", needs_gt=True), "dis", True),
]
DOVER_CARDS = [
    (_tcard("dover-tech100", "DOVER technical score x100 (SeedVR2 / FlashVSR convention)",
            "100 sigmoid((T - 0.1107) / 0.07355), views seeded (0)", "DOVER evaluate_a_set_of_videos.py (post 01bb306)",
            [DOVER_PTH], higher=True, rng=(0.0, 100.0), kind="video"), "tech100"),
    (_tcard("dover-overall", "DOVER fused overall score in [0, 1]", "sigmoid(0.6104 t + 0.3896 a), views seeded (0)",
            "DOVER evaluate_one_video.py -f", [DOVER_PTH], higher=True, rng=(0.0, 1.0), kind="video"), "overall"),
    (_tcard("dover-aes", "DOVER aesthetic score x100", "100 sigmoid((A + 0.08285) / 0.03774), views seeded (0)",
            "DOVER evaluate_a_set_of_videos.py", [DOVER_PTH], higher=True, rng=(0.0, 100.0), kind="video"), "aes100"),
]


def _register() -> None:
    for card, flow, from_gt in WARP_CARDS:
        METRICS.add(card, functools.partial(WarpError, card, flow, from_gt))
    for card, key in DOVER_CARDS:
        METRICS.add(card, functools.partial(DoverMetric, card, key))
    METRICS.add(Flicker.card, Flicker)
    METRICS.add(TemporalLpips.card, TemporalLpips)


_register()
