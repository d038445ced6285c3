"""`vrbench sweep`, `vrbench profile` and `vrbench study ...`: thin wrappers over `vrbench.experiments`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vrbench.clikit import console

DEFAULT_SWEEP_METRICS = "psnr-y,ssim-y,lpips-alex,dists,musiq,niqe,hf-power-x4,hf-corr-x4,lf-psnr-x4,blur-effect"

StoreOpt = Annotated[Path | None, typer.Option("--store", help="results database (default: .vrbench/results.sqlite)")]
OutputsOpt = Annotated[Path | None, typer.Option(help="cache of method outputs (default: .vrbench/outputs)")]


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _ints(text: str, what: str) -> list[int]:
    from vrbench.errors import InputError

    try:
        return [int(t) for t in _names(text)]
    except ValueError as e:
        raise InputError(f"bad {what}", expected="comma-separated integers, e.g. 1,2,4", found=text) from e


def _options(pairs: list[str] | None) -> dict[str, Any]:
    """`key=value` pairs; values are read as YAML scalars (numbers, booleans, strings)."""
    import yaml

    from vrbench.errors import InputError

    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InputError("bad --option", expected="KEY=VALUE", found=pair)
        key, value = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def _store_path(store: Path | None) -> Path:
    from vrbench.paths import work_dir

    return store or work_dir() / "results.sqlite"


def sweep_command(
    method: Annotated[str, typer.Option(help="method(s) whose card supports steps, comma-separated")],
    steps: Annotated[str, typer.Option(help="step counts, comma-separated, e.g. 1,2,3,4,5,8")],
    dataset: Annotated[str, typer.Option(help="dataset name")] = "demo",
    seeds: Annotated[str, typer.Option(help="seeds, comma-separated: mean and spread of stochastic methods")] = "0",
    metrics: Annotated[str, typer.Option(help="metrics, comma-separated")] = DEFAULT_SWEEP_METRICS,
    clips: Annotated[str | None, typer.Option(help="only these clips, comma-separated")] = None,
    root: Annotated[Path | None, typer.Option(help="dataset folder, if not the prepared default")] = None,
    option: Annotated[list[str] | None, typer.Option(help="method option KEY=VALUE (repeatable)")] = None,
    run_name: Annotated[str | None, typer.Option("--run", help="run name (default: sweep-<method>-<dataset>)")] = None,
    out: Annotated[Path | None, typer.Option(help="folder for figures and report (default: reports/<run>)")] = None,
    device: Annotated[str | None, typer.Option(help="torch device (default: cuda if available)")] = None,
    store: StoreOpt = None,
    outputs: OutputsOpt = None,
    replace: Annotated[bool, typer.Option("--replace", help="the run name holds another config: archive that record "
                                          "as <name>@<time> and start afresh (its values stay reusable)")] = False,
) -> None:
    """Run every step count (and seed) of a method, then draw metric-vs-steps curves, runtime and the
    perception-distortion view (sweep.png/.pdf, perception_distortion.png, sweep.csv, index.html)."""
    from vrbench.cli import _check_report_folder, print_summary, progress_bar
    from vrbench.experiments import sweep
    from vrbench.fsutil import claim_folder, write_csv
    from vrbench.report import plots, sources, step_sweep
    from vrbench.report.html import write_report
    from vrbench.store import Store

    methods = _names(method)
    settings = {"seeds": _ints(seeds, "seeds"), "clips": _names(clips) or None, "root": str(root) if root else None,
                "run": run_name, "options": _options(option), "device": device}
    planned = sweep.sweep_config(methods, _ints(steps, "steps"), dataset, _names(metrics), **settings)
    _check_report_folder(out or Path("reports") / planned.name)  # before the sweep, not after it
    with progress_bar("sweep") as (on_progress, progress):
        name, summary = sweep.run_sweep(
            methods, _ints(steps, "steps"), dataset, _names(metrics), store_path=_store_path(store), outputs=outputs,
            on_progress=on_progress, progress=progress, replace=replace, **settings)
    print_summary(summary)
    target = claim_folder(out or Path("reports") / name, "report", run=name)
    with Store(_store_path(store)) as st:
        results = st.results_frame(name)
        table = step_sweep.sweep_table(results, sources.method_runs(st, name, results))
        write_csv(table, target / "sweep.csv")
        fig, _ = step_sweep.plot_sweep(table, dataset)
        fig.savefig(target / "sweep.pdf", bbox_inches="tight")
        plots.save_figure(fig, target / "sweep.png")
        distortion, perception = step_sweep.distortion_and_perception(sorted(results["metric"].unique()))
        if distortion and perception:
            fig, _ = step_sweep.plot_perception_distortion(table, distortion, perception, dataset)
            plots.save_figure(fig, target / "perception_distortion.png")
        report = write_report(st, name, target)
    _print_sweep(table)
    console.print(f"figures: {target / 'sweep.png'} · report: {report}")
    raise typer.Exit(0 if summary.ok else 1)


def _print_sweep(table) -> None:
    from rich.table import Table

    wide = table.pivot_table(index=["method", "steps"], columns="metric", values="mean")
    t = Table(title="step sweep (dataset mean over clips, mean over seeds)")
    t.add_column("method")
    t.add_column("steps", justify="right")
    for c in wide.columns:
        t.add_column(str(c), justify="right")
    for (m, s), row in wide.iterrows():
        t.add_row(str(m), str(s), *[f"{v:.4g}" for v in row])
    console.print(t)


def profile_command(
    clip: Annotated[str, typer.Option(help="clip name")],
    methods: Annotated[str, typer.Option(help="methods, comma-separated")] = "bicubic",
    dataset: Annotated[str, typer.Option(help="dataset name")] = "demo",
    row: Annotated[str | None, typer.Option(help="pixel row, a fraction like 0.5, or auto (default: auto)")] = None,
    column: Annotated[str | None, typer.Option(help="profile a column instead (pixel, fraction or auto)")] = None,
    zoom: Annotated[str, typer.Option(help="zoomed segment: auto, START:STOP or none")] = "auto",
    metric: Annotated[str, typer.Option(help="metric of the per-frame curves")] = "psnr-y",
    curves: Annotated[bool, typer.Option(help="add the per-frame metric curves")] = True,
    out: Annotated[Path, typer.Option(help="PNG or PDF file")] = Path("profile.png"),
    root: Annotated[Path | None, typer.Option(help="dataset folder, if not the prepared default")] = None,
    run_name: Annotated[str | None, typer.Option("--run", help="run name (default: profile-<dataset>)")] = None,
    store: StoreOpt = None,
    outputs: OutputsOpt = None,
) -> None:
    """Temporal profile (x-t image) of one clip for GT, input and each method, with per-frame metric curves."""
    from vrbench.config import parse_config
    from vrbench.experiments.profile import profile_figure
    from vrbench.report.plots import save_figure
    from vrbench.run import run_benchmark
    from vrbench.store import Store

    names = _names(methods)
    cfg = parse_config({"name": run_name or f"profile-{dataset}",
                        "datasets": [{"name": dataset, "root": str(root) if root else None, "clips": [clip]}],
                        "methods": names, "metrics": [metric]}, source="vrbench profile")
    with console.status(f"restoring {clip} with {', '.join(names)}"):
        summary = run_benchmark(cfg, _store_path(store), outputs)
    for f in summary.failed:
        console.print(f"  [red]failed[/] {f['dataset']}/{f['clip']} {f['method']} ({f['stage']}): {f['error']}")
    with Store(_store_path(store)) as st:
        fig, _, index, axis = profile_figure(st, cfg.name, dataset, clip, names, metric=metric, row=row,
                                             column=column, zoom=zoom, curves=curves)
    save_figure(fig, out)
    console.print(f"{axis} {index} of {clip}: {out}")


study_app = typer.Typer(no_args_is_help=True, help="Blind pairwise (GSB) user studies of a run's outputs.")


@study_app.command("make")
def study_make(
    run_name: Annotated[str, typer.Argument(metavar="RUN", help="run whose outputs to compare")],
    out: Annotated[Path | None, typer.Option(help="study folder (default: reports/<run>/study)")] = None,
    methods: Annotated[str | None, typer.Option(help="methods to compare (default: all of the run)")] = None,
    dataset: Annotated[str | None, typer.Option(help="dataset (default: the run's first)")] = None,
    clips: Annotated[str | None, typer.Option(help="clips, comma-separated (default: all)")] = None,
    criteria: Annotated[str, typer.Option(help="criteria, comma-separated")] = "fidelity,quality,overall",
    reference: Annotated[str | None, typer.Option(help="compare every method with this one only")] = None,
    seed: Annotated[int, typer.Option(help="seed of the side and order shuffles")] = 0,
    max_frames: Annotated[int, typer.Option(help="frames per clip on the page")] = 48,
    max_side: Annotated[int, typer.Option(help="larger frames are downscaled to this side")] = 960,
    store: StoreOpt = None,
) -> None:
    """Write a self-contained study page (index.html) and its unblinding key (key.json, keep it from raters)."""
    from vrbench.experiments.study import make_study
    from vrbench.store import Store

    with Store(_store_path(store)) as st:
        index, key = make_study(st, run_name, out or Path("reports") / run_name / "study", methods=_names(methods)
                                or None, dataset=dataset, clips=_names(clips) or None, criteria=tuple(
                                    _names(criteria)), reference=reference, seed=seed, max_frames=max_frames,
                                max_side=max_side)
    console.print(f"study page: {index}\nkey (do not share with raters): {key}")


@study_app.command("score")
def study_score(
    answers: Annotated[list[Path], typer.Argument(help="answers JSON files exported from the study page")],
    key: Annotated[Path | None, typer.Option(help="key.json of the study (default: beside the answers, or ./)")] = None,
    reference: Annotated[str | None, typer.Option(help="preference against this method only")] = None,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
    csv: Annotated[Path | None, typer.Option(help="also write the scores here")] = None,
) -> None:
    """GSB preference (G-B)/(G+S+B) per criterion and method, with 95% bootstrap intervals."""
    import json

    from rich.table import Table

    from vrbench.errors import InputError
    from vrbench.experiments.study import gsb_scores, load_answers

    candidates = [key] if key else [answers[0].parent / "key.json", Path("key.json")]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise InputError("study key not found", file=", ".join(map(str, candidates)), expected="key.json",
                         hint="pass --key path/to/study/key.json")
    key_data = json.loads(found.read_text())
    scores = gsb_scores(load_answers(answers, key_data), key_data, reference=reference, seed=seed)
    table = Table(title=f"GSB preference (G−B)/(G+S+B){' vs ' + reference if reference else ''}")
    for col in ("criterion", "method", "G", "S", "B", "preference", "95% CI"):
        table.add_column(col, justify="left" if col in ("criterion", "method") else "right")
    for r in scores.itertuples():
        table.add_row(r.criterion, r.method, str(r.G), str(r.S), str(r.B), f"{r.preference:+.3f}",
                      f"[{r.low:+.3f}, {r.high:+.3f}]")
    console.print(table)
    if csv:
        from vrbench.fsutil import write_csv

        write_csv(scores, csv)
