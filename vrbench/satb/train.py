"""Training loop of the built-in SATB restorer: joint P + D training with one AdamW, EMA weights, periodic
validation PSNR, resumable state, and the exported (small, fp16, EMA) checkpoint with full provenance.

State for resuming sits beside the output as `<out>.state.safetensors` (fp32 weights, EMA, optimiser moments, RNG
states); it is written at every validation (`val_every` steps) and read by `--resume`.
"""

from __future__ import annotations

import copy
import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from vrbench.errors import InputError
from vrbench.satb.losses import VARIANTS


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on. Stored in the checkpoint; `--resume` refuses a different one."""

    recipe: str = "cpu"  # the key of RECIPES this run started from
    data: str = "demo-photos"
    preset: str = "realbasicvsr-x4"
    variant: str = "satb"  # key of losses.VARIANTS
    steps: int = 500
    batch: int = 8
    patch: int = 16  # LQ pixels (x scale in HR)
    lr: float = 6e-4
    warmup: int = 50
    ema: float = 0.99
    ddc_warmup: float = 0.3  # fraction of steps before DDC switches on: the EMA evaluator must first be sensible
    seed: int = 0
    threads: int = 1
    val_every: int = 250
    net: dict = field(default_factory=lambda: {"scale": 4, "channels": 32})
    device: str = "cpu"
    bf16: bool = False  # bfloat16 autocast (CUDA only)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def command(self, out: str) -> str:
        """The `vrbench satb train` command that reproduces this run."""
        default = RECIPES.get(self.recipe, TrainConfig())
        extra = "".join(f" --{f.name.replace('_', '-')} {getattr(self, f.name)}" for f in fields(self)
                        if f.name in ("batch", "patch", "lr", "seed", "threads", "val_every")
                        and getattr(self, f.name) != getattr(default, f.name))
        return (f"vrbench satb train --recipe {self.recipe} --data {self.data} --preset {self.preset} "
                f"--variant {self.variant} --steps {self.steps} --channels {self.net.get('channels', 32)}{extra} "
                f"--out {out}")


# The two budgets of one code path (docs/satb.md, Recipes). `cpu`: what the shipped checkpoints and the tests use,
# 0.52 M parameters, minutes per run on one CPU thread. `gpu`: denoiser 4.9 M and predictor 1.25 M parameters with
# (2+1)D temporal mixing, 5-frame windows, bf16, batch 32; sized so that satb, naive and no-ddc at one seed, then
# the evaluation, fit in about 8 minutes on one H100 (not yet run: no GPU was available when it was written).
RECIPES: dict[str, TrainConfig] = {
    "cpu": TrainConfig(),
    "gpu": TrainConfig(recipe="gpu", steps=3000, batch=32, patch=32, lr=4e-4, warmup=200, ema=0.998, val_every=1000,
                       device="cuda", bf16=True,
                       net={"scale": 4, "channels": 112, "predictor_channels": 96, "predictor_blocks": 6,
                            "window": 5}),
}


def hardware() -> str:
    """CPU model, logical cores and the threads used (GPU name when training on one)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")]
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} logical CPUs, {torch.get_num_threads()} torch threads"


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    u = (step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(u, 1.0))))


def ema_update(ema, model, decay: float) -> None:
    import torch

    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.lerp_(p, 1 - decay)


class Run:
    """Models, EMA copies, optimiser and RNGs of one training run."""

    def __init__(self, cfg: TrainConfig, measured: dict | None = None) -> None:
        import torch

        from vrbench.satb.nets import Denoiser, NetConfig, Predictor

        if cfg.variant not in VARIANTS:
            raise InputError("unknown SATB training variant", expected=sorted(VARIANTS), found=cfg.variant)
        self.cfg, self.loss_cfg = cfg, VARIANTS[cfg.variant]
        self.net = NetConfig(**{**cfg.net, **(measured or {})})  # band RMS and sigma_data come from the data
        torch.manual_seed(cfg.seed)
        self.predictor, self.denoiser = Predictor(self.net).to(cfg.device), Denoiser(self.net).to(cfg.device)
        self.ema_p, self.ema_d = copy.deepcopy(self.predictor), copy.deepcopy(self.denoiser)
        rms = torch.tensor(self.net.band_rms or [1.0] * self.net.space_channels, device=cfg.device)
        self.pixel_weight = rms**2 / rms.pow(2).mean()  # squared error of band c times this is a pixel error
        params = list(self.predictor.parameters()) + list(self.denoiser.parameters())
        self.opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.step, self.wall, self.history = 0, 0.0, []

    def modules(self) -> dict[str, Any]:
        return {"predictor": self.predictor, "denoiser": self.denoiser, "ema.predictor": self.ema_p,
                "ema.denoiser": self.ema_d}

    def save_state(self, file: Path) -> None:
        from safetensors.torch import save_file

        tensors = {f"{n}.{k}": v.contiguous() for n, m in self.modules().items() for k, v in m.state_dict().items()}
        for i, st in self.opt.state_dict()["state"].items():
            tensors.update({f"opt.{i}.{k}": v.contiguous() for k, v in st.items()})
        tensors = {k: v.cpu() for k, v in tensors.items()}
        tensors["rng.loss"] = self.gen.get_state()
        meta = {"step": str(self.step), "wall": str(self.wall), "history": json.dumps(self.history),
                "train": json.dumps(self.cfg.to_dict(), sort_keys=True),
                "rng.numpy": json.dumps(self.rng.bit_generator.state)}
        tmp = file.with_name(file.name + ".tmp")
        save_file(tensors, str(tmp), metadata=meta)
        tmp.replace(file)

    def load_state(self, file: Path) -> None:
        import torch
        from safetensors import safe_open

        with safe_open(str(file), framework="pt", device=self.cfg.device) as f:
            names = f.keys()
            meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in names}
        saved = json.loads(meta["train"])
        mine = {k: v for k, v in self.cfg.to_dict().items() if k != "steps"}
        if {k: v for k, v in saved.items() if k != "steps"} != mine:
            raise InputError("cannot resume: the training state was made with another configuration", file=file,
                             expected=mine, found=saved)
        for n, m in self.modules().items():
            m.load_state_dict({k[len(n) + 1:]: v for k, v in tensors.items() if k.startswith(n + ".")})
        state = self.opt.state_dict()
        for i in range(len(state["param_groups"][0]["params"])):
            state["state"][i] = {k.split(".", 2)[2]: v for k, v in tensors.items() if k.startswith(f"opt.{i}.")}
        self.opt.load_state_dict(state)
        self.gen.set_state(tensors["rng.loss"].cpu().to(torch.uint8))
        self.rng.bit_generator.state = json.loads(meta["rng.numpy"])
        self.step, self.wall, self.history = int(meta["step"]), float(meta["wall"]), json.loads(meta["history"])


def train(cfg: TrainConfig, out: Path, *, resume: bool = False, log: Callable[[str], None] = print,
          on_step: Callable[[int, int], None] | None = None, out_label: str | None = None) -> dict[str, Any]:
    """Train one variant and write the checkpoint to `out`; returns its metadata."""
    import torch

    from vrbench.satb.data import batch_to_space, build_pairs, sample_batch
    from vrbench.satb.losses import satb_losses

    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"the '{cfg.recipe}' recipe trains on CUDA, and no CUDA device is available here",
                         expected="a CUDA GPU (or --recipe cpu)", found="torch.cuda.is_available() is False")
    torch.set_num_threads(cfg.threads)
    pairs = build_pairs(cfg.data, cfg.preset, scale=cfg.net.get("scale", 4), log=log)
    run, state_file = Run(cfg, measure_space(pairs, cfg)), out.with_name(out.stem + ".state.safetensors")
    if resume and state_file.is_file():
        run.load_state(state_file)
        log(f"resumed at step {run.step} from {state_file.name}")
    names, scale = pairs.train, run.net.scale
    ddc_from = int(cfg.ddc_warmup * cfg.steps)
    while run.step < cfg.steps:
        t0 = time.perf_counter()
        for group in run.opt.param_groups:
            group["lr"] = lr_at(run.step, cfg)
        gt, lq = sample_batch(pairs, names, cfg.batch, cfg.patch, run.net.window, scale, run.rng)
        x_gt, z_lq = (x.to(cfg.device) for x in batch_to_space(gt, lq, run.net))
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cfg.bf16 and cfg.device.startswith("cuda")):
            losses = satb_losses(run.predictor, run.denoiser, x_gt, z_lq, run.loss_cfg, run.gen,
                                 ddc_on=run.step >= ddc_from, evaluator=run.ema_d, block=run.net.window,
                                 pixel_weight=run.pixel_weight)
        run.opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        run.opt.step()
        decay = min(cfg.ema, (1 + run.step) / (10 + run.step))  # EMA warm-up: forget the random init quickly
        ema_update(run.ema_p, run.predictor, decay)
        ema_update(run.ema_d, run.denoiser, decay)
        run.step += 1
        run.wall += time.perf_counter() - t0
        if on_step:
            on_step(run.step, cfg.steps)
        if run.step % cfg.val_every == 0 or run.step == cfg.steps:
            run.wall += _checkpoint(run, pairs, state_file, losses, log)
    meta = _export(run, pairs, out, out_label or str(out))
    log(f"wrote {out} after {run.step} steps, {run.wall / 60:.1f} min")
    return meta


def measure_space(pairs, cfg: TrainConfig) -> dict[str, Any]:
    """Band RMS of the training GT in the Haar space and, per band, the RMS of GT minus upsampled LQ after
    normalising by it (the denoiser's sigma_data), on every training frame (docs/satb.md, Space)."""

    from vrbench.metrics.engine import to_tensor
    from vrbench.satb.nets import NetConfig, band_rms, lq_to_space, to_space

    net = NetConfig(**cfg.net)
    if net.space != "haar":
        return {}
    gts = [to_tensor(pairs.gt[k], "cpu")[None] for k in pairs.train]
    rms = band_rms(gts, net)
    net = NetConfig(**{**net.to_dict(), "band_rms": rms})
    sq, count = 0.0, 0
    for k, g in zip(pairs.train, gts, strict=True):
        z = lq_to_space(to_tensor(pairs.lq[k][0], "cpu")[None], net)
        sq = sq + (to_space(g, net) - z).double().pow(2).sum((0, 1, 3, 4))
        count += z.numel() // z.shape[2]
    sigma_data = tuple(round(float(v), 4) for v in (sq / count).sqrt().clamp_min(1e-2))
    return {"band_rms": rms, "sigma_data": sigma_data}


def _checkpoint(run: Run, pairs, state_file: Path, losses: dict, log: Callable[[str], None]) -> float:
    """Validate, log and save the training state; returns the seconds it took."""
    from vrbench.satb.evaluate import validation_psnr

    t0 = time.perf_counter()
    val = validation_psnr(run.ema_p, run.ema_d, pairs, steps=(0, 1, 4), device=run.cfg.device) if pairs.val else {}
    scalars = {k: round(float(v.detach()), 5) for k, v in losses.items()}
    run.history.append({"step": run.step, "wall_s": round(run.wall, 1), "val_psnr": val, **scalars})
    log(f"step {run.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in scalars.items())
        + " | val PSNR (EMA) " + ", ".join(f"{k} {v:.2f}" for k, v in val.items()) + f" | {run.wall / 60:.1f} min")
    run.save_state(state_file)
    return time.perf_counter() - t0


def _export(run: Run, pairs, out: Path, out_label: str) -> dict[str, Any]:
    import torch

    import vrbench
    from vrbench.satb.checkpoint import save_checkpoint

    meta = {"train": run.cfg.to_dict(), "loss": run.loss_cfg.to_dict(), "variant": run.cfg.variant,
            "command": run.cfg.command(out_label), "hardware": hardware(), "wall_time_s": round(run.wall, 1),
            "steps_done": run.step, "history": run.history, "data_manifest": pairs.manifest,
            "versions": {"vrbench": vrbench.__version__, "torch": torch.__version__}, "weights": "EMA"}
    save_checkpoint(out, run.ema_p, run.ema_d, run.net.to_dict(), meta)
    return meta
