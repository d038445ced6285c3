"""Method adapters of the built-in SATB restorer: `satb` (SATB-VR's trajectory blending, 1-5 steps, default 4),
`satb-dtg` (the same checkpoint with training-free Decoupled Time Guidance) and the other checkpoints by name
(`satb-ddc`: blending + DDC, the paper's full recipe; `satb-naive`). Options: `checkpoint` (a shipped name or a
.safetensors file) and every field of `vrbench.satb.restore.SamplingConfig` (sampler, timesteps, t_start, start,
guidance, guidance_scale, dtg_delta, dtg_anneal, colour_fix, chunk, overlap). The harness hands `restore` its device;
`steps=0` returns the predictor output.
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
# DDC stays in the default only if it does not lower the predictor on validation. Measured on the held-out photos
# of `demo-photos` (cpu recipe, seeds 0-2; README "Built-in SATB restorer"): with DDC 20.907 dB, without 20.916 dB,
# lower at every seed. So `satb` and `satb-dtg` use the checkpoint trained without DDC, and the paper's full recipe
# is the `satb-ddc` method (checkpoint `satb`, the training variant of that name).
DEFAULT_CHECKPOINT = "no-ddc"
ABLATIONS = {  # method name -> (checkpoint, what it is)
    "satb-ddc": ("satb", "SATB blending + DDC (the paper's full recipe; DDC lowered the predictor on validation)"),
    "satb-naive": ("naive", "naive joint training (standard GT trajectory, w = 0, no DDC)"),
}


class SatbMethod:
    """One SATB checkpoint with fixed sampling options; loads the weights on first use."""

    def __init__(self, card: MethodCard, checkpoint: str = DEFAULT_CHECKPOINT, **sampling: Any) -> None:
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


@METHODS.register(_card("satb", "Built-in SATB few-step restorer (SNR-aware trajectory blending; DDC off: it lowered "
                        "the predictor on validation), 1-5 steps", DEFAULT_CHECKPOINT))
def satb(**options: Any) -> SatbMethod:
    return SatbMethod(METHODS.card("satb"), **{"checkpoint": DEFAULT_CHECKPOINT, **options})


@METHODS.register(_card("satb-dtg", "Built-in SATB restorer with Decoupled Time Guidance (training-free)",
                        DEFAULT_CHECKPOINT,
                        notes="unconditional branch at the cleaner time t - Delta_t; Delta_t -> 0, alpha_t -> 1 "
                              "with exponential annealing"))
def satb_dtg(**options: Any) -> SatbMethod:
    return SatbMethod(METHODS.card("satb-dtg"), **{"checkpoint": DEFAULT_CHECKPOINT, "guidance": "dtg", **options})


def _register_ablation(name: str, checkpoint: str, summary: str) -> None:
    def factory(**options: Any) -> SatbMethod:
        return SatbMethod(METHODS.card(name), **{"checkpoint": checkpoint, **options})

    METHODS.register(_card(name, f"SATB checkpoint '{checkpoint}': {summary}", checkpoint))(factory)


for _name, (_checkpoint, _summary) in ABLATIONS.items():
    _register_ablation(_name, _checkpoint, _summary)
