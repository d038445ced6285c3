"""Video-level metrics fed as a stream of chunks: VMAF (through vmaf-torch) and CLIP semantic consistency.

VMAF: model vmaf_v0.6.1 as shipped inside the `vmaf-torch` package (no download), scores clipped to [0, 100] as
libvmaf does, on the BT.601 studio-range luma that libvmaf reads from a yuv420p stream (Y = 16 + 65.481 R +
128.553 G + 24.966 B). Motion needs the previous frame, so the last luma frame of each chunk is carried over; the
per-frame features are pooled into the SVM at the end, which gives the same numbers as scoring the whole clip
at once. Reference: Netflix/vmaf (libvmaf); the PyTorch port is Alvitrioliks' vmaf-torch, which torchmetrics uses.

clip-consistency (InfVSR's "semantic consistency"): cosine similarity of CLIP image features (the RN50 weights
CLIP-IQA uses, CLIP's own 224x224 preprocessing) between neighbouring frames, averaged over the clip.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vrbench.errors import MetricUnavailable
from vrbench.metrics.base import MetricCard, StreamMetric, check_ready
from vrbench.metrics.learned import CLIP_RN50
from vrbench.registry import METRICS


def _luma_studio(x):
    from vrbench.metrics.fidelity import luma_bt601

    return luma_bt601(x.double()).float()


@dataclass
class _VmafState:
    adm: list = field(default_factory=list)
    vif: list = field(default_factory=list)
    motion: list = field(default_factory=list)
    prev: Any = None


class VmafMetric(StreamMetric):
    card = MetricCard(
        name="vmaf", summary="VMAF v0.6.1 (vmaf-torch), clipped to [0, 100]", kind="video", higher_is_better=True,
        range=(0.0, 100.0), version="1", convention="BT.601 studio luma, model vmaf_v0.6.1, mean over frames",
        reference="Netflix libvmaf; vmaf-torch", level="clip", needs_gt=True, requires=("vmaf_torch",))

    def setup(self, device: Any) -> None:
        try:
            from vmaf_torch import VMAF
        except ImportError as e:
            raise MetricUnavailable("vmaf", f"vmaf-torch cannot be imported ({e}); pip install vmaf-torch") from e
        self.model = VMAF(temporal_pooling=False, enable_motion=True, clip_score=True).to(device).eval()

    def start(self, num_frames: int) -> _VmafState:
        return _VmafState()

    def update(self, state: _VmafState, out, gt, index: int) -> None:
        import torch

        ref, dist = _luma_studio(gt), _luma_studio(out)
        state.adm.append(self.model.compute_adm_score(ref, dist))
        state.vif.append(self.model.compute_vif_features(ref, dist))
        frames = ref if state.prev is None else torch.cat([state.prev, ref])
        motion = self.model.compute_motion(frames)  # SAD against the previous frame; 0 for the clip's first
        state.motion.append(motion if state.prev is None else motion[1:])
        state.prev = ref[-1:]

    def finish(self, state: _VmafState) -> tuple[float, np.ndarray]:
        import torch

        motion = torch.cat(state.motion)
        # motion2 = min(SAD to previous, SAD to next); first frame 0, last frame keeps its SAD to the previous
        nxt = torch.roll(motion, -1, 0)
        motion2 = torch.minimum(motion, nxt)
        motion2[0] = 0
        motion2[-1] = motion[-1]
        scores = self.model.predict(torch.cat(state.adm), motion2, torch.cat(state.vif)).reshape(-1).double()
        per_frame = scores.cpu().numpy()
        return float(per_frame.mean()), per_frame


class ClipConsistencyMetric(StreamMetric):
    card = MetricCard(
        name="clip-consistency", summary="CLIP feature similarity of neighbouring frames (InfVSR)", kind="temporal",
        higher_is_better=True, range=(-1.0, 1.0), version="1",
        convention="CLIP RN50 image features, 224 resize + centre crop, cosine of frames t and t+1, mean over pairs",
        reference="InfVSR semantic consistency; OpenAI CLIP", level="clip", needs_gt=False, weights=(CLIP_RN50,),
        requires=("clip",))

    def setup(self, device: Any) -> None:
        check_ready(self.card)
        try:
            import clip
        except ImportError as e:
            raise MetricUnavailable(self.card.name, f"openai-clip cannot be imported ({e})") from e
        self.model, _ = clip.load(str(CLIP_RN50.path), device=device, jit=False)
        self.model.eval()
        self.device = device

    def _features(self, x):
        import torch
        import torch.nn.functional as F

        h, w = x.shape[-2:]
        s = 224 / min(h, w)
        x = F.interpolate(x, size=(max(224, round(h * s)), max(224, round(w * s))), mode="bicubic",
                          align_corners=False).clamp(0, 1)
        top, left = (x.shape[-2] - 224) // 2, (x.shape[-1] - 224) // 2
        x = x[..., top : top + 224, left : left + 224]
        mean = torch.tensor([0.48145466, 0.4578275, 0.40821073], device=x.device).view(1, 3, 1, 1)
        std = torch.tensor([0.26862954, 0.26130258, 0.27577711], device=x.device).view(1, 3, 1, 1)
        f = self.model.encode_image(((x - mean) / std).to(next(self.model.parameters()).dtype)).float()
        return f / f.norm(dim=-1, keepdim=True)

    def start(self, num_frames: int) -> dict:
        return {"sims": [], "prev": None}

    def update(self, state: dict, out, gt, index: int) -> None:
        import torch

        f = self._features(out)
        if state["prev"] is not None:
            f = torch.cat([state["prev"], f])
        state["sims"].append((f[1:] * f[:-1]).sum(-1).double().cpu().numpy())
        state["prev"] = f[-1:]

    def finish(self, state: dict) -> tuple[float, np.ndarray | None]:
        sims = np.concatenate(state["sims"]) if state["sims"] else np.zeros(0)
        return (float(sims.mean()) if len(sims) else float("nan")), sims


def _register() -> None:
    for cls in (VmafMetric, ClipConsistencyMetric):
        METRICS.add(cls.card, functools.partial(cls))


_register()
