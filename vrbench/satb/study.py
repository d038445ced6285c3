"""The honest study of one training recipe: train `satb`, `naive` and `no-ddc` at several seeds (a finished
checkpoint is reused, an interrupted one resumed), then score every checkpoint on the demo's GT clips, which no
frame of the `demo-photos` training data comes from, and report mean ± std over the training seeds.

One command runs it for both budgets (`vrbench satb study --recipe cpu|gpu`); the rows are those of the README's
SATB table (docs/satb.md, Study).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from vrbench.satb.evaluate import Row, demo_clips, evaluate_rows
from vrbench.satb.schedule import T_MAX

STUDY_VARIANTS = ("satb", "naive", "no-ddc")
STUDY_METRICS = ("psnr-y", "ssim-y", "lf-psnr-x4", "hf-power-x4", "hf-corr-x4", "blur-effect", "ewarp-gt-dis")
MAIN_SAMPLER = "dpmpp-2m-sde"
EVAL_FRAMES = 6  # the first 6 frames (two noise blocks) of each demo clip: the CPU study's evaluation fits minutes


def checkpoint_file(folder: Path, variant: str, seed: int) -> Path:
    return folder / f"{variant}-seed{seed}.safetensors"


def train_all(recipe: str, variants: tuple[str, ...], seeds: list[int], folder: Path, steps: int | None = None,
              log: Callable[[str], None] = print) -> dict[tuple[str, int], Path]:
    """Train every (variant, seed) of the recipe into `folder`, one after another; finished files are kept."""
    from vrbench.satb.train import RECIPES, train

    files = {}
    for seed in seeds:
        for variant in variants:
            out = checkpoint_file(folder, variant, seed)
            files[(variant, seed)] = out
            if out.is_file():
                log(f"{out.name}: already trained")
                continue
            cfg = replace(RECIPES[recipe], variant=variant, seed=seed, **({"steps": steps} if steps else {}))
            train(cfg, out, resume=True, log=log, out_label=out.name)
            out.with_name(out.stem + ".state.safetensors").unlink(missing_ok=True)
    return files


def study_rows(variant: str, file: str, main: bool) -> list[Row]:
    """N = 0..5 with the paper's sampler, one step from the largest start; for the main variant (satb, first seed)
    also DDIM at N = 2 and guidance at N = 2, w = 3: CFG, annealing only (DTG with Delta = 0) and DTG
    (Delta = 0.15), the unconditional branch's input rescaled to its own time."""
    s = {"sampler": MAIN_SAMPLER}
    rows = [Row(f"{variant} N={n}" + (" (predictor)" if n == 0 else ""), file, n, s) for n in range(6)]
    rows.append(Row(f"{variant} N=1 from t={T_MAX:.3f}", file, 1, {**s, "timesteps": "uniform"}))
    if main:
        rows += [Row(f"{variant} N=2 ddim", file, 2, {"sampler": "ddim"})]
        g = {**s, "guidance_scale": 3.0}
        rows += [Row(f"{variant} N=2 CFG w=3", file, 2, {**g, "guidance": "cfg"}),
                 Row(f"{variant} N=2 annealing only (DTG, Delta=0) w=3", file, 2,
                     {**g, "guidance": "dtg", "dtg_delta": 0.0}),
                 Row(f"{variant} N=2 DTG Delta=0.15 w=3", file, 2, {**g, "guidance": "dtg", "dtg_delta": 0.15})]
    return rows


def evaluate_study(files: dict[tuple[str, int], Path], metrics: tuple[str, ...] = STUDY_METRICS,
                   frames: int | None = EVAL_FRAMES, log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Per-seed results of every row on the demo GT clips (their first `frames` frames; None: all); bicubic once
    (it has no seed)."""
    clips = {k: (gt[:frames], lq[:frames]) for k, (gt, lq) in demo_clips().items()}
    results = [{**r, "seed": None} for r in evaluate_rows([Row("bicubic", None)], clips, metrics, log=log)]
    for (variant, seed), file in files.items():
        rows = study_rows(variant, str(file), main=variant == "satb" and seed == min(s for _, s in files))
        results += [{**r, "seed": seed} for r in evaluate_rows(rows, clips, metrics, log=log)]
    return results


def summarise(results: list[dict[str, Any]], metrics: tuple[str, ...]) -> list[dict[str, Any]]:
    """Mean and std (ddof 1) over training seeds of every row label, in first-seen order."""
    labels = list(dict.fromkeys(r["method"] for r in results))
    table = []
    for label in labels:
        rows = [r for r in results if r["method"] == label]
        entry: dict[str, Any] = {"method": label, "seeds": len(rows)}
        for m in metrics:
            v = np.array([r[m] for r in rows], dtype=float)
            entry[m] = (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0)
        entry["fps"] = float(np.mean([r["fps"] for r in rows]))
        table.append(entry)
    return table


def markdown(table: list[dict[str, Any]], metrics: tuple[str, ...]) -> str:
    from vrbench.registry import METRICS

    head = "| method | " + " | ".join(f"{m} {METRICS.card(m).arrow}" for m in metrics) + " |"
    lines = [head, "|" + "---|" * (len(metrics) + 1)]
    for e in table:
        cells = []
        for m in metrics:
            mean, std = e[m]
            digits = 3 if m in ("ssim-y", "hf-corr-x4", "blur-effect") else 2
            cells.append(f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if e["seeds"] > 1 else ""))
        lines.append(f"| {e['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def validation_summary(files: dict[tuple[str, int], Path]) -> dict[str, dict[str, float]]:
    """Last validation PSNR (EMA weights, held-out photos) per variant, mean over seeds: the DDC decision's input."""
    from vrbench.satb.checkpoint import read_metadata

    by_variant: dict[str, list[dict]] = {}
    for (variant, _), file in files.items():
        by_variant.setdefault(variant, []).append(read_metadata(file)["history"][-1]["val_psnr"])
    return {v: {k: round(float(np.mean([h[k] for h in hs])), 3) for k in hs[0]} for v, hs in by_variant.items()}


def run_study(recipe: str, seeds: list[int], folder: Path, steps: int | None = None,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, evaluate, summarise; writes study.json and study.md into `folder` and returns the summary."""
    t0 = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    files = train_all(recipe, STUDY_VARIANTS, seeds, folder, steps, log)
    trained = time.perf_counter() - t0
    results = evaluate_study(files, log=log)
    table = summarise(results, STUDY_METRICS)
    summary = {"recipe": recipe, "seeds": seeds, "validation": validation_summary(files), "results": results,
               "table": table, "train_wall_s": round(trained, 1), "wall_s": round(time.perf_counter() - t0, 1)}
    (folder / "study.json").write_text(json.dumps(summary, indent=1))
    (folder / "study.md").write_text(markdown(table, STUDY_METRICS) + "\n")
    return summary
