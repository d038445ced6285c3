"""Evaluation of SATB checkpoints: the quick validation PSNR used while training, and the demo table
(PSNR-Y / SSIM-Y of bicubic, predictor only, N-step SATB, ablations and guidance on the demo's GT clips degraded
with a named preset), with sampling speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from vrbench.satb.restore import SamplingConfig, restore_array

VAL_FRAMES = slice(4, 7)  # a 3-frame window from the middle of each 12-frame validation clip


def psnr_rgb(out: np.ndarray, gt: np.ndarray) -> float:
    """PSNR over all RGB values in [0, 255] (the quick training-time check; the table uses the registry metrics)."""
    mse = np.mean((out.astype(np.float64) - gt.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def bicubic(lq: np.ndarray, scale: int) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(f, (f.shape[1] * scale, f.shape[0] * scale), interpolation=cv2.INTER_CUBIC)
                     for f in lq])


def validation_psnr(predictor, denoiser, pairs, steps: tuple[int, ...] = (0, 1, 4),
                    device: str = "cpu") -> dict[str, float]:
    """Mean RGB PSNR over the validation clips: bicubic and N-step DDIM restorations (N = 0: predictor only)."""
    scale, s = predictor.cfg.scale, SamplingConfig()
    scores: dict[str, list[float]] = {"bicubic": [], **{f"N{n}": [] for n in steps}}
    for name in pairs.val:
        gt, lq = pairs.gt[name][VAL_FRAMES], pairs.lq[name][0][VAL_FRAMES]
        scores["bicubic"].append(psnr_rgb(bicubic(lq, scale), gt))
        for n in steps:
            out = restore_array(predictor, denoiser, s, lq, steps=n, seed=0, device=device)
            scores[f"N{n}"].append(psnr_rgb(out, gt))
    return {k: round(float(np.mean(v)), 3) for k, v in scores.items()}


# ---- the demo table -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One line of the table: a method label, a checkpoint (None: bicubic), steps and sampling options."""

    label: str
    checkpoint: str | None
    steps: int = 0
    sampling: dict = field(default_factory=dict)


def default_rows(checkpoints: list[str]) -> list[Row]:
    """bicubic; every checkpoint at N = 0 (predictor only) .. 5 with DDIM; the main one with DPM-Solver++(2M) SDE,
    the wavelet colour fix, CFG vs DTG at two scales, and the SDEdit baseline."""
    rows = [Row("bicubic", None)]
    main = "satb" if "satb" in checkpoints else checkpoints[0]
    label = {c: Path(c).stem for c in checkpoints}
    for c in checkpoints:
        rows += [Row(f"{label[c]} N={n}" + (" (predictor only)" if n == 0 else ""), c, n) for n in range(6)]
    for c in checkpoints:  # one step from the largest released start, where SATB's blend differs most
        rows.append(Row(f"{label[c]} N=1 from t_start=0.554", c, 1, {"timesteps": "uniform"}))
    m, name = main, label[main]
    rows += [Row(f"{name} N={n} dpmpp-2m-sde", m, n, {"sampler": "dpmpp-2m-sde"}) for n in (1, 2, 4)]
    rows += [Row(f"{name} N={n} ddpm", m, n, {"sampler": "ddpm"}) for n in (2, 4)]
    rows += [Row(f"{name} N=4 +wavelet colour fix", m, 4, {"colour_fix": "wavelet"})]
    for w in (1.5, 3.0):
        rows += [Row(f"{name} N=4 CFG w={w}", m, 4, {"guidance": "cfg", "guidance_scale": w}),
                 Row(f"{name} N=4 DTG w={w}", m, 4, {"guidance": "dtg", "guidance_scale": w})]
    rows += [Row(f"{name} SDEdit from upsampled LQ N=4", m, 4, {"start": "lq"})]
    return rows


def demo_clips(preset: str = "realbasicvsr-x4") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """GT of the demo's evaluation clips and their LQ from `degrade_clip(gt, preset, seed=0, clip_id=<clip>)`."""
    from vrbench.data.demo import DEMO_CLIPS
    from vrbench.degrade import degrade_clip
    from vrbench.registry import DATASETS
    from vrbench.video import open_video

    ds = DATASETS.create("demo")
    ds.prepare()
    clips = {}
    for spec in DEMO_CLIPS:
        if spec.has_gt:
            gt = open_video(ds.root / "GT" / spec.name, name=spec.name).read()
            clips[spec.name] = (gt, degrade_clip(gt, preset=preset, seed=0, clip_id=spec.name)[0])
    return clips


def evaluate_rows(rows: list[Row], clips: dict, metrics: tuple[str, ...] = ("psnr-y", "ssim-y"), seed: int = 0,
                  log: Callable[[str], None] = print) -> list[dict]:
    """Score every row on every clip (clip mean of per-frame values, then mean over clips) and time it."""
    from vrbench.metrics.engine import to_tensor
    from vrbench.registry import METRICS
    from vrbench.satb.checkpoint import load_checkpoint

    scorers = {m: METRICS.create(m) for m in metrics}
    for m in scorers.values():
        m.setup("cpu")
    loaded: dict[str, tuple] = {}
    results = []
    for row in rows:
        if row.checkpoint is not None and row.checkpoint not in loaded:
            loaded[row.checkpoint] = load_checkpoint(row.checkpoint, scale=4)
        values: dict[str, list[float]] = {m: [] for m in metrics}
        frames, seconds = 0, 0.0
        for gt, lq in clips.values():
            t0 = time.perf_counter()
            if row.checkpoint is None:
                out = bicubic(lq, 4)
            else:
                p, d, net, _ = loaded[row.checkpoint]
                s = replace(SamplingConfig(), **row.sampling)
                out = restore_array(p, d, s, lq, steps=row.steps, seed=seed)
            seconds += time.perf_counter() - t0
            frames += len(out)
            o, g = to_tensor(out, "cpu"), to_tensor(gt, "cpu")
            for name, m in scorers.items():
                values[name].append(_score(m, o, g))
        result = {"method": row.label, **{m: float(np.mean(v)) for m, v in values.items()},
                  "fps": frames / seconds, "per_clip": {m: v for m, v in values.items()}}
        log(f"{row.label}: " + ", ".join(f"{m} {result[m]:.4f}" for m in metrics) + f", {result['fps']:.1f} frames/s")
        results.append(result)
    return results


def _score(metric, out, gt) -> float:
    """Clip value of a metric: the mean of per-frame values, or a stream (video / temporal) metric's clip value."""
    from vrbench.metrics.base import StreamMetric

    if isinstance(metric, StreamMetric):
        state = metric.start(len(out))
        metric.update(state, out, gt, 0)
        return float(metric.finish(state)[0])
    return float(metric.compute(out, gt, metric.reference(gt)).mean())


def markdown_table(results: list[dict], metrics: tuple[str, ...] = ("psnr-y", "ssim-y")) -> str:
    from vrbench.registry import METRICS

    arrows = {m: METRICS.card(m).arrow for m in metrics}
    head = "| method | " + " | ".join(f"{m} {arrows[m]}" for m in metrics) + " | frames/s (CPU) |"
    lines = [head, "|" + "---|" * (len(metrics) + 2)]
    for r in results:
        lines.append(f"| {r['method']} | " + " | ".join(f"{r[m]:.4f}" if m.startswith("ssim") else f"{r[m]:.2f}"
                                                         for m in metrics) + f" | {r['fps']:.1f} |")
    return "\n".join(lines)
