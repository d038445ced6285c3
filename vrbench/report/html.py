"""Render a run as one self-contained HTML file, plus the exports beside it (CSV, JSON, Markdown, LaTeX).

The page is a pure function of the store's tables and the frames on disk: leaderboards per dataset and protocol
(sortable, direction arrows, best / second marked, bootstrap intervals and paired tests on hover), a per-clip
drill-down with the frame viewer and temporal profiles, step-sweep curves, method cost, unavailable metrics and
the provenance panel. Plots and frames are embedded as data URIs and the CSS/JS is inline: no request leaves
the file. Names come from users, so the template autoescapes and the scripts only ever set `textContent`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from vrbench.errors import InputError
from vrbench.report import clips as clip_pages
from vrbench.report import plots, sources, tables
from vrbench.report.cards import LIVE, MetricCards
from vrbench.report.export import export_tables, json_number, write_tables
from vrbench.report.reported import reported_block
from vrbench.store import Store

__all__ = ["export_tables", "report_context", "write_report"]


def _interval_text(row: pd.Series, metric: str, level: float, cards: MetricCards) -> str:
    if row["n"] <= 1:
        return f"{int(row['n'])} clip: no interval"
    lo, hi = tables.format_value(row["low"], metric, cards), tables.format_value(row["high"], metric, cards)
    return f"{int(level * 100)}% CI [{lo}, {hi}] over {int(row['n'])} clips"


def _test_text(board: tables.Board, metric: str, method: str) -> str:
    test = board.tests.get(metric, {}).get(method)
    if test is None or test.n == 0:
        return ""
    kind = "exact sign-flip test" if test.exact else "sign-flip test, Monte Carlo"
    return (f"vs {board.best[metric]}: Δ {test.difference:+.4g}, p = {test.p_value:.3g} ({kind}, {test.n} clips)"
            + (f", {test.dropped} non-finite pairs dropped" if test.dropped else ""))


def leaderboard_tables(boards: list[tables.Board], level: float, failures: list[dict[str, Any]] | None = None,
                       warnings: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """The template's view of each board (columns, rows with marks, tooltips and coverage), for a report or a merged
    leaderboard page."""
    failures, warnings = failures or [], warnings or {}
    out = []
    for b in boards:
        columns = []
        for metric in b.metrics:
            m = max((cov[1] for cov in b.coverage[metric].values()), default=len(b.clips))
            columns.append({"metric": metric, "arrow": tables.arrow(metric, {k: v for k, v in b.directions.items()
                                                                             if v is not None}, b.cards),
                            "higher": b.directions[metric], "summary": b.cards.text(metric, "summary"),
                            "convention": b.cards.text(metric, "convention"),
                            # e.g. full-reference metrics skip the clips without GT: say so in the header
                            "clips": f"{m} of {len(b.clips)} clips" if m < len(b.clips) else "", "na": ""})
        for metric, why in b.not_applicable.items():
            columns.append({"metric": metric, "arrow": b.cards.arrow(metric), "higher": None, "na": why,
                            "summary": b.cards.text(metric, "summary"), "convention": "", "clips": ""})
        rows = [_leaderboard_row(b, method, level, warnings) for method in b.methods]
        partial = [f"{m} ({'/'.join(map(str, b.clip_coverage(m)))} clips)" for m in b.partial]
        out.append({"dataset": b.dataset, "protocol": b.protocol, "clips": b.clips, "columns": columns, "rows": rows,
                    "id": f"board-{len(out)}", "partial": partial,
                    "failures": [f for f in failures if f["dataset"] in (b.dataset, "*")]})
    return out


def _leaderboard_row(b: tables.Board, method: str, level: float, warnings: dict[str, list[str]]) -> dict[str, Any]:
    cells = []
    fmt = b.cards
    for metric in b.metrics:
        row = b.stats[metric].loc[method]
        n, m = b.coverage[metric][method]
        tip = [_interval_text(row, metric, level, fmt)]
        if n < m:
            tip.append(f"{n} of {m} clips: not ranked against methods with every clip")
        elif not math.isnan(row["rank"]):
            tip.append(_rank_text(b, metric, row["rank"]))
        if text := _test_text(b, metric, method):
            tip.append(text)
        cells.append({"text": tables.format_value(row["mean"], metric, fmt), "mark": b.marks.get(metric, {})
                      .get(method, ""), "value": tables.sort_value(row["mean"]), "tip": " · ".join(tip),
                      "coverage": f"{n}/{m}" if n < m else "",
                      "ci": "" if row["n"] <= 1 else f"[{tables.format_value(row['low'], metric, fmt)}, "
                                                    f"{tables.format_value(row['high'], metric, fmt)}]"})
    cells += [{"text": f"n/a ({why})", "mark": "na", "value": None, "tip": f"not computed on this set: {why}",
               "coverage": "", "ci": ""} for why in b.not_applicable.values()]
    avg = b.avg_rank(method)
    n, m = b.clip_coverage(method)
    return {"method": method, "cells": cells, "rank": tables.sort_value(avg), "coverage": f"{n}/{m} clips" if n < m
            else "", "rank_text": "–" if math.isnan(avg) else f"{avg:.2f}", "warnings": warnings.get(method, [])}


def _rank_text(b: tables.Board, metric: str, rank: float) -> str:
    ranks = b.stats[metric]["rank"].dropna()
    if len(ranks) > 1 and ranks.nunique() == 1:
        return f"rank {int(rank)}: the {_count_word(len(ranks))} intervals overlap, no method is separable"
    tied = int((ranks == rank).sum())
    return f"rank {int(rank)}" + (f", tied with {tied - 1} other(s): intervals overlap" if tied > 1 else "")


def _count_word(n: int) -> str:
    return "two" if n == 2 else str(n)


def _planned_labels(config: dict[str, Any]) -> list[str]:
    """The row labels the run's config asked for (display name, plus the step count where there is one)."""
    out = []
    for entry in config.get("methods", []):
        label = entry.get("label") or entry.get("name")
        for steps in entry.get("steps") or [None]:
            out.append(tables.method_label(label, tables.STEPS_NONE if steps is None else int(steps)))
    return out


def _planned(clips: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """dataset -> {clip: has GT} from the run's clip snapshot."""
    out: dict[str, dict[str, bool]] = {}
    for key, record in clips.items():
        dataset, _, clip = key.partition("/")
        out.setdefault(dataset, {})[clip] = bool(record.get("gt"))
    return out


def _warnings(runs: pd.DataFrame, alignments: list[dict[str, Any]]) -> dict[str, list[str]]:
    """method label -> the distinct warnings its outputs carried (lossy output, colour fix) and their alignment
    (crop, resize, shift), each with the clips it concerns."""
    found: dict[str, dict[str, list[str]]] = {}
    if not runs.empty and "warnings" in runs:
        for label, clip, text in zip(tables.with_labels(runs)["label"], runs["clip"], runs["warnings"], strict=True):
            for w in json.loads(text) if isinstance(text, str) and text else []:
                found.setdefault(label, {}).setdefault(w, []).append(clip)
    for a in alignments:
        label = tables.method_label(a["method"], int(a["steps"]))
        for w in a.get("warnings", []):
            found.setdefault(label, {}).setdefault(w, []).append(a["clip"])
    return {label: [f"{w} ({', '.join(sorted(set(clips)))})" for w, clips in ws.items()]
            for label, ws in found.items()}


def _cross_ranks(boards: list[tables.Board]) -> dict[str, Any] | None:
    if len(boards) < 2:
        return None
    table = tables.cross_dataset_ranks(boards)
    if table.empty:
        return None
    cols = list(table.columns)
    return {"columns": cols, "datasets": [f"{b.dataset} ({b.protocol})" for b in boards],
            "rows": [{"method": m, "cells": ["–" if pd.isna(v) else f"{v:.2f}" for v in table.loc[m]]}
                     for m in table.index]}


def cost_rows(runs: pd.DataFrame, order: list[str]) -> list[dict[str, Any]]:
    if runs.empty or runs["seconds"].isna().all():
        return []
    have = tables.with_labels(runs[runs["seconds"].notna()])
    g = have.groupby("label").agg(
        seconds=("seconds", "sum"), frames=("frames", "sum"), rss=("peak_rss_mb", "max"),
        gpu=("peak_gpu_mb", "max"), device=("device", "first"), clips=("clip", "nunique"),
        params=("cost", _params))
    return [{"method": m, "spf": r.seconds / max(r.frames, 1), "fps": r.frames / max(r.seconds, 1e-9),
             "frames": int(r.frames), "clips": int(r.clips), "rss": None if pd.isna(r.rss) else float(r.rss),
             "gpu": None if pd.isna(r.gpu) else float(r.gpu), "device": r.device,
             "params": None if pd.isna(r.params) else int(r.params)}
            for m, r in g.reindex(tables.ordered_labels(have, order)).iterrows()]


def _params(costs: pd.Series) -> float:
    """The parameter count recorded with a method's restores (JSON `cost` column), NaN if none was."""
    for text in costs:
        params = json.loads(text).get("params") if isinstance(text, str) and text else None
        if params is not None:
            return float(params)
    return math.nan


def _cards(df: pd.DataFrame, cards: MetricCards, methods: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The metric and method cards of the run as snapshotted at run start."""
    out_metrics = []
    for name in sorted(df["metric"].unique(), key=cards.order) if not df.empty else []:
        c = cards.get(name)
        if c is not None:
            out_metrics.append({"name": name, "version": c.get("version", ""), "convention": c.get("convention", ""),
                                "reference": c.get("reference", ""),
                                "weights": [_weight(w) for w in c.get("weights", [])]})
    out_methods = []
    for label in sorted(df["method"].unique()) if not df.empty else []:
        c = methods.get(label)
        if c is not None:
            out_methods.append({"name": c.get("name", label), "kind": c.get("kind", ""), "paper": c.get("paper", ""),
                                "license": c.get("license", ""), "weights": [_weight(w) for w in c.get("weights", [])]})
    return {"metrics": out_metrics, "methods": out_methods}


def _weight(w: dict[str, Any]) -> dict[str, str]:
    prefix = w.get("sha256_prefix")
    return {"name": w.get("name") or w.get("file") or "",
            "sha256": w.get("sha256") or (f"{prefix}…" if prefix else "")}


@dataclass
class RunTables:
    """A run's record (with its clip and dataset snapshots), metric cards, results table and leaderboards."""

    info: dict[str, Any]
    cards: MetricCards
    df: pd.DataFrame
    boards: list[tables.Board]
    order: list[str]
    planned: dict[str, dict[str, bool]]
    stale: dict[str, list[str]] = field(default_factory=dict)  # method label -> what was left out, and why


def current_configuration(df: pd.DataFrame, methods: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The values of the configuration the run's snapshot records for each method. A run stored before vrbench
    refused a changed method configuration (new checkpoint, sampling version) under an unchanged run config may also
    hold values of the earlier one; averaging both into one row would be a wrong number, so they are left out and
    said so (method label -> note)."""
    current = {label: rec.get("config_hash") for label, rec in (methods or {}).items() if rec.get("config_hash")}
    if df.empty or not current:
        return df, {}
    stale = df["method"].map(current).notna() & (df["config_hash"] != df["method"].map(current))
    notes: dict[str, list[str]] = {}
    for label, sub in tables.with_labels(df[stale]).groupby("label"):
        hashes = ", ".join(sorted(sub["config_hash"].unique()))
        notes[label] = [f"{len(sub)} stored value(s) of an earlier configuration of this method (config {hashes}) "
                        "left out; rerun with --replace to archive them"]
    return df[~stale].reset_index(drop=True), notes


def run_tables(store: Store, run: str, *, seed: int = 0, level: float = 0.95) -> RunTables:
    """The leaderboards of a run from the store alone: its results and the snapshot of cards and manifests taken at
    run start (the one place a report, an export and a submission build them)."""
    info = sources.run_media(store, run)
    if not info.get("config"):
        raise InputError(f"no run named '{run}'", file=store.path, expected=store.runs() or "a stored run",
                         found=run)
    snapshot = store.snapshot(run, "metric")
    # runs recorded before snapshots existed fall back to today's registry
    cards = MetricCards(snapshot) if snapshot else LIVE
    info["datasets"] = store.snapshot(run, "dataset")
    df, stale = current_configuration(store.results_frame(run), store.snapshot(run, "method"))
    order = tables.config_order(info)
    planned = _planned(info["clips"])
    boards = tables.build_boards(df, seed=seed, level=level, order=order, cards=cards, planned=planned or None,
                                 expected=list(info.get("provenance", {}).get("metrics", {})),
                                 methods=_planned_labels(info.get("config", {})))
    return RunTables(info, cards, df, boards, order, planned, stale)


def report_context(store: Store, run: str, *, seed: int = 0, level: float = 0.95, media: bool = True,
                   reported: list[str] | None = None) -> dict[str, Any]:
    """Everything the template shows, computed from the store alone: the results and the snapshot of cards and
    manifests taken at run start (and, if `media`, frames on disk at the paths the store recorded). `reported`:
    reported-result cards to show in a block of their own beside the measured leaderboards."""
    rt = run_tables(store, run, seed=seed, level=level)
    info, cards, df, boards, order = rt.info, rt.cards, rt.df, rt.boards, rt.order
    runs = sources.method_runs(store, run, df) if not df.empty else pd.DataFrame()
    colors = plots.method_colors(tables.ordered_labels(tables.with_labels(df), order)) if not df.empty else {}
    seeds = sorted(int(s) for s in df["seed"].unique()) if not df.empty else []
    failures, warnings = store.failures(run), _warnings(runs, store.alignments(run))
    for label, notes in rt.stale.items():
        warnings[label] = [*warnings.get(label, []), *notes]
    return {
        "run": run, "info": info, "boards": boards,
        "leaderboards": leaderboard_tables(boards, level, failures, warnings),
        "cross_ranks": _cross_ranks(boards), "level": int(level * 100), "bootstrap_seed": seed,
        "clip_pages": [] if df.empty else clip_pages.clip_pages(df, runs, info, colors, media_on=media, order=order,
                                                                cards=cards),
        "sweeps": [] if df.empty else clip_pages.sweep_figures(df, runs, colors, cards),
        "unavailable": store.unavailable(run), "failures": failures, "warnings": warnings,
        "cost": cost_rows(runs, order),
        "cards": _cards(df, cards, store.snapshot(run, "method")), "seeds": seeds,
        "protocols": sorted(df["protocol"].unique()) if not df.empty else [],
        "manifests_json": json.dumps(info["datasets"], indent=1, sort_keys=True, default=str),
        "provenance_json": json.dumps(info.get("provenance", {}), indent=1, sort_keys=True),
        "config_json": json.dumps(info.get("config", {}), indent=1, sort_keys=True),
        "json_number": json_number,
        "reported": reported_block(reported or [], boards, info, cards),
    }


def render(context: dict[str, Any], template: str = "report.html.j2") -> str:
    import jinja2

    from vrbench.paths import catalog_dir

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(catalog_dir("reports") / "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    return env.get_template(template).render(**context)


def is_older_report(folder: Path) -> bool:
    """A report folder written before folders were marked: its index.html is a vrbench report page."""
    try:
        with open(folder / "index.html", encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
    except OSError:
        return False
    return "<title>vrbench · " in head and "<h1>vrbench report · " in head


def write_report(store: Store, run: str, out_dir: Path, *, media: bool = True, latex_style: str = "bold",
                 reported: list[str] | None = None) -> Path:
    """reports/<run>/index.html plus results.csv, results.json, leaderboard.md and leaderboard.tex, each written
    atomically into `out_dir`, which must be new, empty or a report folder vrbench made (it is marked as one).
    `reported`: reported-result cards shown in a block of their own (HTML, Markdown and LaTeX)."""
    from vrbench.fsutil import atomic_write_text, claim_folder, remove_stale

    context = report_context(store, run, media=media, reported=reported)
    out_dir = claim_folder(out_dir, "report", accept=is_older_report, run=run)
    remove_stale(out_dir)  # temporary files of a report killed while writing
    target = out_dir / "index.html"
    atomic_write_text(target, render(context))
    export_tables(store, run, out_dir, context["boards"])
    write_tables(context["boards"], out_dir, latex_style=latex_style, warnings=context["warnings"],
                 reported=context["reported"]["tables"])
    return target
