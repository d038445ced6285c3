"""`vrbench satb ...` commands: train a checkpoint, evaluate checkpoints on the demo clips, show a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vrbench.clikit import console

satb_app = typer.Typer(no_args_is_help=True, help="The built-in SATB few-step restorer: train, evaluate, inspect.")


def _recipe(name: str):
    from vrbench.errors import InputError
    from vrbench.satb.train import RECIPES

    if name not in RECIPES:
        raise InputError("unknown SATB training recipe", expected=" | ".join(RECIPES), found=repr(name))
    return RECIPES[name]


@satb_app.command("train")
def satb_train(
    out: Annotated[Path, typer.Option("--out", help="checkpoint to write (.safetensors)")],
    recipe: Annotated[str, typer.Option("--recipe", help="cpu (small, the shipped checkpoints) | gpu")] = "cpu",
    data: Annotated[str | None, typer.Option("--data", help="'demo-photos', 'demo-train' or a folder of GT clips")]
    = None,
    preset: Annotated[str, typer.Option("--preset", help="degradation preset for the LQ")] = "realbasicvsr-x4",
    variant: Annotated[str, typer.Option("--variant", help="satb | naive | no-ddc | w1 | linear | cosine")] = "satb",
    steps: Annotated[int | None, typer.Option("--steps", help="default: the recipe's")] = None,
    channels: Annotated[int | None, typer.Option("--channels", help="denoiser width (default: the recipe's)")] = None,
    batch: Annotated[int | None, typer.Option("--batch")] = None,
    patch: Annotated[int | None, typer.Option("--patch", help="LQ patch size")] = None,
    lr: Annotated[float | None, typer.Option("--lr")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    threads: Annotated[int, typer.Option("--threads", help="torch CPU threads")] = 1,
    val_every: Annotated[int | None, typer.Option("--val-every")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue from <out>.state.safetensors")] = False,
) -> None:
    """Train P and D jointly with SATB (or an ablation) and write a small fp16 EMA checkpoint with provenance."""
    from dataclasses import replace


    base = _recipe(recipe)
    given = {"data": data, "steps": steps, "batch": batch, "patch": patch, "lr": lr, "val_every": val_every}
    cfg = replace(base, preset=preset, variant=variant, seed=seed, threads=threads,
                  **{k: v for k, v in given.items() if v is not None},
                  net={**base.net, **({"channels": channels} if channels else {})})
    _train_with_bar(cfg, out, resume)


def _train_with_bar(cfg, out: Path, resume: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from vrbench.satb.train import train

    with Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("train", total=cfg.steps)
        train(cfg, out, resume=resume, log=console.print,
              on_step=lambda done, total: bar.update(task, completed=done, total=total))


@satb_app.command("study")
def satb_study(
    out: Annotated[Path, typer.Option("--out", help="folder for the checkpoints, study.json and study.md")],
    recipe: Annotated[str, typer.Option("--recipe", help="cpu | gpu")] = "cpu",
    seeds: Annotated[str, typer.Option("--seeds", help="training seeds, comma-separated")] = "0,1,2",
    steps: Annotated[int | None, typer.Option("--steps", help="default: the recipe's")] = None,
) -> None:
    """Train satb, naive and no-ddc at every seed, score them on the demo clips (unseen content) and print the
    table with mean ± std over seeds."""
    from vrbench.satb.study import STUDY_METRICS, markdown, run_study

    _recipe(recipe)
    summary = run_study(recipe, [int(s) for s in seeds.split(",") if s.strip()], out, steps, log=console.print)
    console.print(markdown(summary["table"], STUDY_METRICS), markup=False)
    console.print_json(json.dumps({"validation": summary["validation"], "train_wall_s": summary["train_wall_s"],
                                   "wall_s": summary["wall_s"]}))


@satb_app.command("eval")
def satb_eval(
    checkpoints: Annotated[list[str], typer.Argument(help="checkpoint names or files")] = None,
    preset: Annotated[str, typer.Option("--preset")] = "realbasicvsr-x4",
    threads: Annotated[int, typer.Option("--threads")] = 1,
    metrics: Annotated[str, typer.Option("--metrics", help="comma-separated metric ids")] = "psnr-y,ssim-y",
    json_out: Annotated[Path | None, typer.Option("--json", help="also write the rows as JSON")] = None,
) -> None:
    """Score bicubic, predictor only, N = 1..5, ablations, CFG vs DTG on the demo GT clips; print a Markdown table."""
    import torch

    from vrbench.satb.checkpoint import shipped_checkpoints
    from vrbench.satb.evaluate import default_rows, demo_clips, evaluate_rows, markdown_table

    torch.set_num_threads(threads)
    names = tuple(m.strip() for m in metrics.split(",") if m.strip())
    results = evaluate_rows(default_rows(checkpoints or shipped_checkpoints()), demo_clips(preset), metrics=names,
                            log=console.print)
    console.print(markdown_table(results, names), markup=False)
    if json_out:
        json_out.write_text(json.dumps(results, indent=1))


@satb_app.command("info")
def satb_info(checkpoint: Annotated[str, typer.Argument(help="checkpoint name or file")] = "satb") -> None:
    """Show a checkpoint's architecture, training command, hardware, wall time and last validation."""
    from vrbench.satb.checkpoint import checkpoint_path, read_metadata

    meta = read_metadata(checkpoint_path(checkpoint))
    last = meta.get("history", [{}])[-1] if meta.get("history") else {}
    summary = {k: meta.get(k) for k in ("net", "variant", "command", "hardware", "wall_time_s", "steps_done")}
    summary["last_validation"] = last.get("val_psnr")
    summary["data"] = {k: v for k, v in meta.get("data_manifest", {}).items() if k != "clips"}
    console.print_json(json.dumps(summary))


if __name__ == "__main__":
    satb_app()
