"""Method adapters of the built-in SATB restorer: `satb` (SATB-VR recipe, 1-5 steps, default 4), `satb-dtg` (the
same checkpoint with training-free Decoupled Time Guidance) and the ablation checkpoints by name
(`satb-naive`, `satb-no-ddc`, ...). Options: `checkpoint` (a shipped name or a .safetensors file) and every field of
`vrbench.satb.restore.SamplingConfig` (sampler, timesteps, t_start, start, guidance, guidance_scale, dtg_delta,
dtg_anneal, colour_fix, chunk, overlap). The harness hands `restore` its device; `steps=0` returns the predictor output.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields
from typing import Any

from vrbench.errors import InputError
from vrbench.methods.base import MethodCard
from vrbench.registry import METHODS
from vrbench.video import Video, rechunk
from vrbench.weights import WeightFile

PAPER = "SATB-VR, arXiv 2606.28677 (training recipe); DTG-Restore, CVPR 2026 (guidance)"
PARAMS = 524_896  # predictor + denoiser of the shipped 32-channel configuration
ABLATIONS = {
    "naive": "naive joint training (standard GT trajectory, w = 0, no DDC)",
    "no-ddc": "SATB blending without the DDC loss",
}


class SatbMethod:
    """One SATB checkpoint with fixed sampling options; loads the weights on first use."""

    def __init__(self, card: MethodCard, checkpoint: str = "satb", **sampling: Any) -> None:
        from vrbench.satb.restore import SamplingConfig, check_sampling

        allowed = sorted(f.name for f in fields(SamplingConfig))
        unknown = sorted(set(sampling) - set(allowed))
        if unknown:
            raise InputError(f"unknown option for method '{card.name}'", expected=["checkpoint", *allowed],
                             found=unknown)
        self.card, self.checkpoint = card, checkpoint
        self.sampling = SamplingConfig(**sampling)
        check_sampling(self.sampling)
        self._restorers: dict[str, Any] = {}

    def config(self) -> dict[str, Any]:
        from vrbench.satb.checkpoint import checkpoint_path

        digest = hashlib.sha256(checkpoint_path(self.checkpoint).read_bytes()).hexdigest()
        return {"checkpoint": str(self.checkpoint), "checkpoint_sha256": digest, **self.sampling.to_dict()}

    def restorer(self, device: Any = None):
        """The networks on `device` (the harness's; default: the one device picker's choice), loaded once."""
        from vrbench.devices import pick_device
        from vrbench.satb.restore import SatbRestorer

        device = pick_device(None if device is None else str(device))
        if str(device) not in self._restorers:
            self._restorers[str(device)] = SatbRestorer(self.checkpoint, self.sampling, str(device))
        return self._restorers[str(device)]

    def restore(self, lq: Video, *, scale: int, steps: int | None = None, seed: int = 0, device: Any = None) -> Video:
        restorer = self.restorer(device)
        if scale != restorer.net.scale:
            raise InputError(f"method '{self.card.name}' restores one scale only", clip=lq.name or None,
                             expected=f"x{restorer.net.scale}", found=f"x{scale}")
        steps = self.card.default_steps if steps is None else steps
        if steps < 0:
            raise InputError(f"method '{self.card.name}' needs steps >= 0 (0: predictor only)",
                             clip=lq.name or None, expected=">= 0", found=steps)
        h, w = lq.height * scale, lq.width * scale

        def frames(n: int):  # streamed: restored window by window as the harness reads, never a whole clip in memory
            chunks = restorer.restore_stream(lq.iter_chunks(restorer.sampling.chunk), steps=steps, seed=seed)
            return rechunk(chunks, n)

        return Video.from_chunks(frames, lq.num_frames, h, w, lq.fps, lq.name)


def _card(name: str, summary: str, checkpoint: str, notes: str = "") -> MethodCard:
    return MethodCard(
        name=name, summary=summary, paper=PAPER, license="Apache-2.0 (code and weights trained by vrbench)",
        kind="generative", supports_steps=True, default_steps=4, scale=4, deterministic=True,
        weights=(WeightFile(f"{checkpoint}.safetensors", "shipped in the package", "satb/checkpoints",
                            place="package", note="fp16 EMA weights; training command, hardware and data manifest "
                            "in the metadata"),),
        params=PARAMS, notes=notes or "band-normalised Haar of pixel-unshuffle x4, 3-frame (2+1)D networks, "
        "DPM-Solver++(2M) SDE steps on the released SATB-VR timestep rule mapped to rectified flow, noise shared by "
        "3-frame blocks; N = 0 returns the predictor output")


@METHODS.register(_card("satb", "Built-in SATB few-step restorer (SNR-aware trajectory blending + DDC), 1-5 steps",
                        "satb"))
def satb(**options: Any) -> SatbMethod:
    return SatbMethod(METHODS.card("satb"), **{"checkpoint": "satb", **options})


@METHODS.register(_card("satb-dtg", "Built-in SATB restorer with Decoupled Time Guidance (training-free)", "satb",
                        notes="unconditional branch at the cleaner time t - Delta_t; Delta_t -> 0, alpha_t -> 1 "
                              "with exponential annealing"))
def satb_dtg(**options: Any) -> SatbMethod:
    return SatbMethod(METHODS.card("satb-dtg"), **{"checkpoint": "satb", "guidance": "dtg", **options})


def _register_ablation(variant: str, summary: str) -> None:
    name = f"satb-{variant}"

    def factory(**options: Any) -> SatbMethod:
        return SatbMethod(METHODS.card(name), **{"checkpoint": variant, **options})

    METHODS.register(_card(name, f"SATB ablation checkpoint: {summary}", variant))(factory)


for _variant, _summary in ABLATIONS.items():
    _register_ablation(_variant, _summary)
