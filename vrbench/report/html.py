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
from pathlib import Path
from typing import Any

import pandas as pd

from vrbench.registry import METHODS, METRICS
from vrbench.report import clips as clip_pages
from vrbench.report import plots, sources, tables
from vrbench.report.export import export_tables, json_number, write_tables
from vrbench.store import Store

__all__ = ["export_tables", "report_context", "write_report"]


def _interval_text(row: pd.Series, metric: str, level: float) -> str:
    if row["n"] <= 1:
        return f"{int(row['n'])} clip: no interval"
    lo, hi = tables.format_value(row["low"], metric), tables.format_value(row["high"], metric)
    return f"{int(level * 100)}% CI [{lo}, {hi}] over {int(row['n'])} clips"


def _test_text(board: tables.Board, metric: str, method: str) -> str:
    test = board.tests.get(metric, {}).get(method)
    if test is None or test.n == 0:
        return ""
    kind = "exact sign-flip test" if test.exact else "sign-flip test, Monte Carlo"
    return (f"vs {board.best[metric]}: Δ {test.difference:+.4g}, p = {test.p_value:.3g} ({kind}, {test.n} clips)"
            + (f", {test.dropped} non-finite pairs dropped" if test.dropped else ""))


def _leaderboards(boards: list[tables.Board], level: float) -> list[dict[str, Any]]:
    out = []
    for b in boards:
        columns = []
        for metric in b.metrics:
            card = METRICS.card(metric) if metric in METRICS else None
            n = int(b.stats[metric]["n"].max())
            columns.append({"metric": metric, "arrow": tables.arrow(metric, {k: v for k, v in b.directions.items()
                                                                             if v is not None}),
                            "higher": b.directions[metric], "summary": card.summary if card else "",
                            "convention": card.convention if card else "",
                            # e.g. full-reference metrics skip the clips without GT: say so in the header
                            "clips": f"{n} of {len(b.clips)} clips" if n < len(b.clips) else ""})
        rows = []
        for method in b.methods:
            cells = []
            for metric in b.metrics:
                row = b.stats[metric].loc[method]
                rank = row["rank"]
                tip = [_interval_text(row, metric, level)]
                if not math.isnan(rank):
                    tip.append(f"rank {int(rank)} (ties when intervals overlap)")
                if text := _test_text(b, metric, method):
                    tip.append(text)
                cells.append({"text": tables.format_value(row["mean"], metric), "mark": b.marks.get(metric, {})
                              .get(method, ""), "value": tables.sort_value(row["mean"]), "tip": " · ".join(tip),
                              "ci": "" if row["n"] <= 1 else f"[{tables.format_value(row['low'], metric)}, "
                                                            f"{tables.format_value(row['high'], metric)}]"})
            avg = b.avg_rank(method)
            rows.append({"method": method, "cells": cells, "rank": tables.sort_value(avg),
                         "rank_text": "–" if math.isnan(avg) else f"{avg:.2f}"})
        out.append({"dataset": b.dataset, "protocol": b.protocol, "clips": b.clips, "columns": columns, "rows": rows,
                    "id": f"board-{len(out)}"})
    return out


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


def _cost(runs: pd.DataFrame, order: list[str]) -> list[dict[str, Any]]:
    if runs.empty or runs["seconds"].isna().all():
        return []
    have = tables.with_labels(runs[runs["seconds"].notna()])
    g = have.groupby("label").agg(
        seconds=("seconds", "sum"), frames=("frames", "sum"), rss=("peak_rss_mb", "max"),
        gpu=("peak_gpu_mb", "max"), device=("device", "first"), clips=("clip", "nunique"))
    return [{"method": m, "spf": r.seconds / max(r.frames, 1), "fps": r.frames / max(r.seconds, 1e-9),
             "frames": int(r.frames), "clips": int(r.clips), "rss": None if pd.isna(r.rss) else float(r.rss),
             "gpu": None if pd.isna(r.gpu) else float(r.gpu), "device": r.device}
            for m, r in g.reindex(tables.ordered_labels(have, order)).iterrows()]


def _cards(df: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    metrics = []
    for name in sorted(df["metric"].unique(), key=tables.metric_order) if not df.empty else []:
        if name in METRICS:
            c = METRICS.card(name)
            metrics.append({"name": name, "version": c.version, "convention": c.convention,
                            "reference": c.reference, "weights": [
                                {"name": w.name, "sha256": w.sha256 or (f"{w.sha256_prefix}…" if w.sha256_prefix
                                                                        else "")} for w in c.weights]})
    methods = []
    for name in sorted(df["method_name"].unique()) if not df.empty else []:
        if name in METHODS:
            c = METHODS.card(name)
            methods.append({"name": name, "kind": c.kind, "paper": c.paper, "license": c.license,
                            "weights": [{"name": w.file, "sha256": w.sha256} for w in c.weights]})
    return {"metrics": metrics, "methods": methods}


def report_context(store: Store, run: str, *, seed: int = 0, level: float = 0.95, media: bool = True
                   ) -> dict[str, Any]:
    """Everything the template shows, computed from the store (and, if `media`, frames on disk)."""
    info = store.run_info(run)
    if not info:
        raise ValueError(f"no run named '{run}' in {store.path}; runs there: {store.runs()}")
    df = store.results_frame(run)
    order = tables.config_order(info)
    boards = tables.build_boards(df, seed=seed, level=level, order=order)
    runs = sources.method_runs(store, run, df) if not df.empty else pd.DataFrame()
    colors = plots.method_colors(tables.ordered_labels(tables.with_labels(df), order)) if not df.empty else {}
    seeds = sorted(int(s) for s in df["seed"].unique()) if not df.empty else []
    return {
        "run": run, "info": info, "boards": boards, "leaderboards": _leaderboards(boards, level),
        "cross_ranks": _cross_ranks(boards), "level": int(level * 100), "bootstrap_seed": seed,
        "clip_pages": [] if df.empty else clip_pages.clip_pages(df, runs, info, colors, media_on=media, order=order),
        "sweeps": [] if df.empty else clip_pages.sweep_figures(df, runs, colors),
        "unavailable": store.unavailable(run), "failures": store.failures(run), "cost": _cost(runs, order),
        "cards": _cards(df), "seeds": seeds, "protocols": sorted(df["protocol"].unique()) if not df.empty else [],
        "manifests_json": json.dumps(sources.manifests(info), indent=1, sort_keys=True, default=str),
        "provenance_json": json.dumps(info.get("provenance", {}), indent=1, sort_keys=True),
        "config_json": json.dumps(info.get("config", {}), indent=1, sort_keys=True),
        "json_number": json_number,
    }


def render(context: dict[str, Any], template: str = "report.html.j2") -> str:
    import jinja2

    from vrbench.paths import catalog_dir

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(catalog_dir("reports") / "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    return env.get_template(template).render(**context)


def write_report(store: Store, run: str, out_dir: Path, *, media: bool = True, latex_style: str = "bold") -> Path:
    """reports/<run>/index.html plus results.csv, results.json, leaderboard.md and leaderboard.tex."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    context = report_context(store, run, media=media)
    target = out_dir / "index.html"
    target.write_text(render(context), encoding="utf-8")
    export_tables(store, run, out_dir)
    write_tables(context["boards"], out_dir, latex_style=latex_style)
    return target
