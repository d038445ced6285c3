"""`vrbench satb ...` commands: train a checkpoint, evaluate checkpoints on the demo clips, show a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vrbench.clikit import console

satb_app = typer.Typer(no_args_is_help=True, help="The built-in SATB few-step restorer: train, evaluate, inspect.")


@satb_app.command("train")
def satb_train(
    out: Annotated[Path, typer.Option("--out", help="checkpoint to write (.safetensors)")],
    data: Annotated[str, typer.Option("--data", help="'demo-train' or a folder of GT clips")] = "demo-train",
    preset: Annotated[str, typer.Option("--preset", help="degradation preset for the LQ")] = "realbasicvsr-x4",
    variant: Annotated[str, typer.Option("--variant", help="satb | naive | no-ddc | w1 | linear | cosine")] = "satb",
    steps: Annotated[int, typer.Option("--steps")] = 2000,
    channels: Annotated[int, typer.Option("--channels", help="denoiser width")] = 32,
    batch: Annotated[int, typer.Option("--batch")] = 8,
    patch: Annotated[int, typer.Option("--patch", help="LQ patch size")] = 16,
    lr: Annotated[float, typer.Option("--lr")] = 4e-4,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    threads: Annotated[int, typer.Option("--threads", help="torch CPU threads")] = 1,
    val_every: Annotated[int, typer.Option("--val-every")] = 250,
    resume: Annotated[bool, typer.Option("--resume", help="continue from <out>.state.safetensors")] = False,
) -> None:
    """Train P and D jointly with SATB (or an ablation) and write a small fp16 EMA checkpoint with provenance."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from vrbench.satb.train import TrainConfig, train

    cfg = TrainConfig(data=data, preset=preset, variant=variant, steps=steps, batch=batch, patch=patch, lr=lr,
                      seed=seed, threads=threads, val_every=val_every, net={"scale": 4, "channels": channels})
    with Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("train", total=steps)
        train(cfg, out, resume=resume, log=console.print,
              on_step=lambda done, total: bar.update(task, completed=done, total=total))


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
