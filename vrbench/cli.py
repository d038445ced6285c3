"""The `vrbench` command line: one Typer app, every command a thin wrapper over the Python API."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vrbench.clikit import console
from vrbench.data.cli import datasets_app
from vrbench.degrade.cli import bench_degrade_command, degrade_command
from vrbench.errors import VrbenchError
from vrbench.experiments.cli import profile_command, study_app, sweep_command
from vrbench.methods.cli import methods_app
from vrbench.metrics.cli import bench_metrics_command, metrics_app, weights_app
from vrbench.satb.cli import satb_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Benchmark generative video restoration.")
app.add_typer(datasets_app, name="datasets")
app.add_typer(methods_app, name="methods")
app.add_typer(metrics_app, name="metrics")
app.add_typer(weights_app, name="weights")
bench_app = typer.Typer(no_args_is_help=True, help="Speed benchmarks measured side by side in one run.")
bench_app.command("metrics")(bench_metrics_command)
bench_app.command("degrade")(bench_degrade_command)
app.command("degrade")(degrade_command)
app.add_typer(bench_app, name="bench")
app.command("sweep")(sweep_command)
app.command("profile")(profile_command)
app.add_typer(study_app, name="study")
app.add_typer(satb_app, name="satb")

StoreOpt = Annotated[Path | None, typer.Option("--store", help="results database (default: .vrbench/results.sqlite)")]


def _store_path(store: Path | None) -> Path:
    from vrbench.paths import work_dir

    return store or work_dir() / "results.sqlite"


def _run_with_progress(config, store: Path | None, outputs: Path | None, **executor):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from vrbench.run import run_benchmark

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[unit]}"), console=console, transient=False) as bar:
        task = bar.add_task(config.name, total=None, unit="")
        summary = run_benchmark(
            config, _store_path(store), outputs,
            on_progress=lambda msg: bar.update(task, unit=msg),
            progress=lambda done, total: bar.update(task, completed=done, total=total), **executor)
        bar.update(task, unit="done")
    return summary


def _print_summary(summary) -> None:
    console.print(f"[bold]{summary.run}[/]: {summary.computed} results computed, {summary.cached} reused from the "
                  f"store, {len(summary.failed)} failures, {summary.seconds:.1f} s")
    for name, reason in sorted(summary.unavailable.items()):
        console.print(f"  [yellow]unavailable[/] {name}: {reason}")
    for f in summary.failed:
        console.print(f"  [red]failed[/] {f['dataset']}/{f['clip']} {f['method']} ({f['stage']}): {f['error']}")


def _write_report(run: str, store: Path | None, out: Path | None) -> Path:
    from vrbench.report.html import write_report
    from vrbench.store import Store

    with Store(_store_path(store)) as s:
        return write_report(s, run, out or Path("reports") / run)


@app.command()
def run(
    config: Annotated[str, typer.Argument(help="a named config (e.g. demo) or a YAML file")],
    store: StoreOpt = None,
    outputs: Annotated[Path | None, typer.Option(help="cache of method outputs (default: .vrbench/outputs)")] = None,
    report: Annotated[bool, typer.Option(help="write reports/<run>/index.html afterwards")] = True,
    report_dir: Annotated[Path | None, typer.Option(help="report folder (default: reports/<run>)")] = None,
) -> None:
    """Run a benchmark config: restore every clip with every method, score it, store it, report it."""
    from vrbench.config import load_config

    cfg = load_config(config)
    summary = _run_with_progress(cfg, store, outputs)
    _print_summary(summary)
    if report:
        console.print(f"report: {_write_report(cfg.name, store, report_dir)}")


@app.command()
def evaluate(
    dataset: Annotated[str, typer.Option(help="dataset name (see `vrbench datasets list`)")],
    outputs: Annotated[Path, typer.Option(help="folder of per-clip outputs (frame folders or videos)")],
    method_name: Annotated[str, typer.Option(help="name to show for these outputs")],
    metrics: Annotated[str, typer.Option(help="comma-separated metric names")] = "psnr-rgb,psnr-y,ssim-y,ssim-rgb",
    root: Annotated[Path | None, typer.Option(help="dataset folder, if not the prepared default")] = None,
    run_name: Annotated[str | None, typer.Option("--run", help="run name (default: eval-<dataset>)")] = None,
    store: StoreOpt = None,
    report: Annotated[bool, typer.Option(help="write the HTML report afterwards")] = True,
) -> None:
    """Score a folder of precomputed results against a dataset, without writing a config."""
    from vrbench.config import parse_config

    cfg = parse_config({
        "name": run_name or f"eval-{dataset}",
        "datasets": [{"name": dataset, "root": str(root) if root else None}],
        "methods": [{"name": "folder", "label": method_name, "options": {"root": str(outputs), "dataset": dataset}}],
        "metrics": [m.strip() for m in metrics.split(",") if m.strip()],
    })
    summary = _run_with_progress(cfg, store, None)
    _print_summary(summary)
    if report:
        console.print(f"report: {_write_report(cfg.name, store, None)}")


@app.command("report")
def report_cmd(
    run_name: Annotated[str, typer.Argument(metavar="RUN", help="run name")],
    store: StoreOpt = None,
    out: Annotated[Path | None, typer.Option(help="report folder (default: reports/<run>)")] = None,
) -> None:
    """Write reports/<run>/index.html (self-contained) plus results.csv and results.json."""
    console.print(f"report: {_write_report(run_name, store, out)}")


@app.command()
def env() -> None:
    """Print versions, devices and paths for bug reports."""
    import json

    from vrbench import provenance
    from vrbench.metrics.engine import pick_device
    from vrbench.paths import data_root, work_dir
    from vrbench.weights import torch_hub_dir

    info = provenance.collect(pick_device())
    info["paths"] = {"data": str(data_root()), "work": str(work_dir()), "torch_hub": str(torch_hub_dir())}
    console.print_json(json.dumps(info, default=str))


def main() -> None:
    """Console entry point: user errors print one clear line and exit 2 instead of a traceback."""
    try:
        app()
    except VrbenchError as e:
        from rich.markup import escape

        console.print(f"[red]error:[/] {escape(str(e))}")
        sys.exit(2)


if __name__ == "__main__":
    main()
