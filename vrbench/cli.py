"""The `vrbench` command line: one Typer app, every command a thin wrapper over the Python API."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from vrbench.calibrate.cli import calibrate_command
from vrbench.clikit import console
from vrbench.data.cli import datasets_app
from vrbench.degrade.cli import bench_degrade_command, degrade_command
from vrbench.errors import VrbenchError
from vrbench.experiments.cli import profile_command, study_app, sweep_command
from vrbench.methods.cli import methods_app
from vrbench.metrics.bench_cli import bench_protocol_command
from vrbench.metrics.cli import bench_metrics_command, metrics_app, weights_app
from vrbench.report.cli import export_command, leaderboard_app
from vrbench.reported.cli import reported_app
from vrbench.satb.cli import satb_app

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Benchmark generative video restoration.")
app.add_typer(datasets_app, name="datasets")
app.add_typer(methods_app, name="methods")
app.add_typer(metrics_app, name="metrics")
app.add_typer(weights_app, name="weights")
bench_app = typer.Typer(no_args_is_help=True, help="Speed benchmarks measured side by side in one run.")
bench_app.command("metrics")(bench_metrics_command)
bench_app.command("protocol")(bench_protocol_command)
bench_app.command("degrade")(bench_degrade_command)
app.command("degrade")(degrade_command)
app.add_typer(bench_app, name="bench")
app.command("sweep")(sweep_command)
app.command("profile")(profile_command)
app.add_typer(study_app, name="study")
app.add_typer(satb_app, name="satb")
app.command("calibrate")(calibrate_command)
app.add_typer(reported_app, name="reported")
app.command("export")(export_command)
app.add_typer(leaderboard_app, name="leaderboard")

StoreOpt = Annotated[Path | None, typer.Option("--store", help="results database (default: .vrbench/results.sqlite)")]


def _store_path(store: Path | None) -> Path:
    from vrbench.paths import work_dir

    return store or work_dir() / "results.sqlite"


@contextmanager
def progress_bar(title: str) -> Iterator[tuple[Callable[[str], None], Callable[[int, int], None]]]:
    """A progress bar with elapsed time and ETA; yields the (on_progress, progress) callbacks of `run_benchmark`."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[unit]}"), console=console,
                  transient=False) as bar:
        task = bar.add_task(escape(title), total=None, unit="")
        yield (lambda msg: bar.update(task, unit=escape(msg)),
               lambda done, total: bar.update(task, completed=done, total=total))
        bar.update(task, unit="done")


def _run_with_progress(config, store: Path | None, outputs: Path | None, **executor):
    from vrbench.run import run_benchmark

    with progress_bar(config.name) as (on_progress, progress):
        return run_benchmark(config, _store_path(store), outputs, on_progress=on_progress, progress=progress,
                             **executor)


def print_summary(summary) -> None:
    console.print(f"[bold]{escape(summary.run)}[/]: {summary.computed} results computed, {summary.cached} reused "
                  f"from the store, {len(summary.failed)} failures, {summary.seconds:.1f} s")
    if summary.archived:
        console.print(f"  the run's previous record (another config) is kept as {escape(summary.archived)}",
                      soft_wrap=True)
    for name, reason in sorted(summary.unavailable.items()):
        console.print(f"  [yellow]unavailable[/] {escape(name)}: {escape(reason)}", soft_wrap=True)
    for dataset, metrics in sorted(summary.not_applicable.items()):
        for metric, clips in sorted(metrics.items()):
            console.print(f"  [yellow]n/a[/] {escape(dataset)}: {escape(metric)} on {len(clips)} clip(s) without GT "
                          f"({escape(', '.join(clips))})", soft_wrap=True)
    for w in summary.warnings:
        console.print(f"  [yellow]warning[/] {escape(w['dataset'])}/{escape(w['clip'])} {escape(w['method'])}: "
                      f"{escape(w['warning'])}", soft_wrap=True)
    for f in summary.failed:
        console.print(f"  [red]failed[/] {escape(f['dataset'])}/{escape(f['clip'])} {escape(f['method'])} "
                      f"({f['stage']}): {escape(f['error'])}", soft_wrap=True)
    if not summary.failed and summary.computed + summary.cached == 0:
        console.print("  [red]nothing was computed or reused[/]: no clip, method and metric had a value to give")


def _exit_code(summary) -> int:
    """0: everything planned was computed or reused; 1: some units failed, or nothing was computed or reused."""
    return 0 if summary.ok else 1


def _check_report_folder(folder: Path) -> None:
    from vrbench.fsutil import refuse_foreign
    from vrbench.report.html import is_older_report

    refuse_foreign(folder, "report", accept=is_older_report)


def _write_report(run: str, store: Path | None, out: Path | None, reported: list[str] | None = None) -> Path:
    """Write the report of `run` into `out`, or reports/<run> (a run name never leads out of reports/)."""
    from vrbench.errors import InputError
    from vrbench.report.html import write_report
    from vrbench.store import Store

    if out is None:
        name = Path(run)
        if "\0" in run or name.is_absolute() or len(name.parts) != 1 or run in (".", ".."):
            raise InputError("this run name cannot name a folder under reports/", expected="a name without "
                             "path separators, '.', '..' or NUL", found=repr(run), hint="pass --out DIR")
        out = Path("reports") / run
    with Store(_store_path(store)) as s:
        return write_report(s, run, out, reported=reported)


def _print_plan(config, resolved, plan) -> None:
    """What a run would do: per dataset and method, values already stored (or reusable) and values to compute."""
    from vrbench.clikit import cards_table

    rows = []
    for ds in resolved.datasets:
        for method in resolved.methods:
            cached = plan.counts[(ds.name, method.label, "cached")]
            todo = plan.counts[(ds.name, method.label, "todo")]
            rows.append([ds.name, method.label, str(len(ds.clips)), str(cached), str(todo)])
    cards_table(f"plan of {config.name}", ["dataset", "method", "clips", "cached", "to compute"], rows)
    console.print(f"{plan.units} units ({len(config.seed_list)} seed(s)), {plan.stored + len(plan.reuse)} values "
                  f"cached, {plan.to_compute} to compute; metrics: {', '.join(m.name for m in resolved.metrics)}")
    for name, err in sorted(resolved.unavailable.items()):
        console.print(f"  [yellow]unavailable[/] {escape(name)}: {escape(err.reason)}")
    for f in plan.failures:
        console.print(f"  [red]would fail[/] {escape(f.dataset)}/{escape(f.clip)} {escape(f.method)} ({f.stage}): "
                      f"{escape(f.error)}")


ReplaceOpt = Annotated[bool, typer.Option("--replace", help="the run name holds another config: archive that record as "
                                          "<name>@<time> and start afresh (its values stay reusable)")]
ExecutorOpt = Annotated[str, typer.Option("--executor", help="local (this process, or worker processes with "
                                          "--workers/--gpus) | process | ray")]


@app.command()
def run(
    config: Annotated[str, typer.Argument(help="a named config (e.g. demo) or a YAML file")],
    store: StoreOpt = None,
    outputs: Annotated[Path | None, typer.Option(help="cache of method outputs (default: .vrbench/outputs)")] = None,
    report: Annotated[bool, typer.Option(help="write reports/<run>/index.html afterwards")] = True,
    report_dir: Annotated[Path | None, typer.Option(help="report folder (default: reports/<run>)")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="local worker processes")] = 1,
    gpus: Annotated[int, typer.Option("--gpus", min=0, help="GPUs to use: worker k runs on cuda:k")] = 0,
    executor: ExecutorOpt = "local",
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster address (HOST:PORT)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan (cached vs to compute) and exit")] = False,
    replace: ReplaceOpt = False,
) -> None:
    """Run a benchmark config: restore every clip with every method, score it, store it, report it."""
    from vrbench.config import load_config

    cfg = load_config(config)
    if report and not dry_run:  # a foreign report folder is refused before the run, not after it
        _check_report_folder(report_dir or Path("reports") / cfg.name)
    options = {"executor": executor, "workers": workers, "gpus": gpus, "address": address}
    if dry_run:
        from vrbench.run import dry_run as plan_only

        _print_plan(cfg, *plan_only(cfg, _store_path(store), outputs=outputs, replace=replace, **options))
        return
    summary = _run_with_progress(cfg, store, outputs, replace=replace, **options)
    print_summary(summary)
    if report:
        console.print(f"report: {escape(str(_write_report(cfg.name, store, report_dir)))}")
    raise typer.Exit(_exit_code(summary))


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
    pattern: Annotated[str | None, typer.Option(help="output path of a clip under --outputs, e.g. "
                                                     "'{clip}_ours.mp4' (glob wildcards allowed)")] = None,
    names: Annotated[list[str] | None, typer.Option("--names", help="clip=name, or a YAML/JSON file mapping clips "
                                                     "to output names (repeatable)")] = None,
    geometry: Annotated[Literal["error", "crop", "resize"] | None, typer.Option(
        help="output size differs from the GT: error, crop to the common area, or resize to the GT "
             "(default: the protocol's)")] = None,
    output_rule: Annotated[Literal["scale", "seedvr2-area", "short-side-1024"] | None, typer.Option(
        "--output-rule", help="the size the outputs should have (default: the protocol's: scale x LQ)")] = None,
    resize_filter: Annotated[Literal["bicubic", "bilinear", "area", "lanczos"] | None, typer.Option(
        "--resize-filter", help="filter of --geometry resize (default bicubic)")] = None,
    strict_names: Annotated[Literal["on", "off"], typer.Option(
        "--strict-names", help="frame numbers in file names must run 0..T-1 or 1..T (off: natural order)")] = "on",
    replace: ReplaceOpt = False,
) -> None:
    """Score a folder of precomputed results against a dataset, without writing a config."""
    from vrbench.config import parse_config
    from vrbench.methods.folder import names_from_args, unmatched_outputs

    try:
        mapped = names_from_args(names or [])
    except VrbenchError as e:
        raise typer.BadParameter(str(e), param_hint="--names") from e
    options = {"root": str(outputs), "dataset": dataset, "pattern": pattern, "names": mapped or None,
               "strict_names": False if strict_names == "off" else None}
    data = {
        "name": run_name or f"eval-{dataset}",
        "datasets": [{"name": dataset, "root": str(root) if root else None}],
        "methods": [{"name": "folder", "label": method_name,
                     "options": {k: v for k, v in options.items() if v is not None},
                     **{k: v for k, v in (("geometry", geometry), ("output_rule", output_rule),
                                          ("resize_filter", resize_filter)) if v is not None}}],
        "metrics": [m.strip() for m in metrics.split(",") if m.strip()],
    }
    cfg = parse_config(data)
    if report:
        _check_report_folder(Path("reports") / cfg.name)
    summary = _run_with_progress(cfg, store, None, replace=replace)
    print_summary(summary)
    for line in unmatched_outputs(cfg.methods[0].options, dataset, str(root) if root else None):
        console.print(f"  [yellow]warning[/] {escape(line)}")
    if report:
        console.print(f"report: {escape(str(_write_report(cfg.name, store, None)))}")
    raise typer.Exit(_exit_code(summary))


@app.command("report")
def report_cmd(
    run_name: Annotated[str, typer.Argument(metavar="RUN", help="run name")],
    store: StoreOpt = None,
    out: Annotated[Path | None, typer.Option(help="report folder (default: reports/<run>)")] = None,
    reported: Annotated[list[str] | None, typer.Option(
        "--reported", help="a reported-result card to show beside the measured rows, marked 'reported, not measured "
                           "here' (see `vrbench reported list`; repeatable)")] = None,
) -> None:
    """Write reports/<run>/index.html (self-contained) plus results.csv and results.json."""
    console.print(f"report: {escape(str(_write_report(run_name, store, out, reported)))}")


@app.command()
def clean(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="more folders to look in (e.g. the parent of a `degrade` OUT); each and its subfolders")] = None,
    outputs: Annotated[Path | None, typer.Option(help="cache of method outputs (default: .vrbench/outputs)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would be removed; remove nothing")] = False,
) -> None:
    """Remove what killed vrbench processes left: temporary outputs, staging folders, half-written files.

    Only names vrbench gives its temporary files and folders, made on this host by a process that is gone, are
    removed: the outputs cache, the prepared-data folder, reports/ and the folders given."""
    from vrbench.fsutil import stale_under
    from vrbench.paths import data_root, work_dir

    # temporary outputs sit beside finished ones in outputs/<method>/<config>/steps-*/seed-*/
    places = [(outputs or work_dir() / "outputs", 4), (data_root(), 1), (Path("reports"), 1),
              *((p, 1) for p in paths or ())]
    found = [p for root, depth in places for p in stale_under(root, depth, dry_run=dry_run)]
    for path in found:
        console.print(f"{'would remove' if dry_run else 'removed'} {escape(str(path))}", highlight=False)
    console.print(f"{len(found)} stale temporary item(s) {'found' if dry_run else 'removed'}")


@app.command()
def env() -> None:
    """Print versions, devices and paths for bug reports."""
    import json

    from vrbench import provenance
    from vrbench.devices import pick_device
    from vrbench.paths import data_root, work_dir
    from vrbench.weights import torch_hub_dir

    info = provenance.collect(pick_device())
    info["paths"] = {"data": str(data_root()), "work": str(work_dir()), "torch_hub": str(torch_hub_dir())}
    console.print_json(json.dumps(info, default=str))


def main() -> None:
    """Console entry point: user errors print one clear line and exit 2 instead of a traceback; anything else
    prints one line too (exit 1) unless VRBENCH_DEBUG=1 asks for the traceback."""
    import os

    try:
        app()
    except VrbenchError as e:
        console.print(f"[red]error:[/] {escape(str(e))}", soft_wrap=True)  # one line, whatever the width
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]: what was committed to the store is kept; run the same command to resume")
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, never a traceback by default
        if os.environ.get("VRBENCH_DEBUG") == "1":
            raise
        console.print(f"[red]error:[/] {escape(type(e).__name__)}: {escape(str(e))} (VRBENCH_DEBUG=1 shows where)",
                      soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
