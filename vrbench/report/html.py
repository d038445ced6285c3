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

from vrbench.report import clips as clip_pages
from vrbench.report import plots, sources, tables
from vrbench.report.cards import LIVE, MetricCards
from vrbench.report.export import export_tables, json_number, write_tables
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


def _leaderboards(boards: list[tables.Board], level: float) -> list[dict[str, Any]]:
    out = []
    for b in boards:
        columns = []
        for metric in b.metrics:
            n = int(b.stats[metric]["n"].max())
            columns.append({"metric": metric, "arrow": tables.arrow(metric, {k: v for k, v in b.directions.items()
                                                                             if v is not None}, b.cards),
                            "higher": b.directions[metric], "summary": b.cards.text(metric, "summary"),
                            "convention": b.cards.text(metric, "convention"),
                            # e.g. full-reference metrics skip the clips without GT: say so in the header
                            "clips": f"{n} of {len(b.clips)} clips" if n < len(b.clips) else ""})
        rows = []
        for method in b.methods:
            cells = []
            for metric in b.metrics:
                row = b.stats[metric].loc[method]
                rank = row["rank"]
                tip = [_interval_text(row, metric, level, b.cards)]
                if not math.isnan(rank):
                    tip.append(f"rank {int(rank)} (ties when intervals overlap)")
                if text := _test_text(b, metric, method):
                    tip.append(text)
                fmt = b.cards
                cells.append({"text": tables.format_value(row["mean"], metric, fmt), "mark": b.marks.get(metric, {})
                              .get(method, ""), "value": tables.sort_value(row["mean"]), "tip": " · ".join(tip),
                              "ci": "" if row["n"] <= 1 else f"[{tables.format_value(row['low'], metric, fmt)}, "
                                                            f"{tables.format_value(row['high'], metric, fmt)}]"})
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


def report_context(store: Store, run: str, *, seed: int = 0, level: float = 0.95, media: bool = True
                   ) -> dict[str, Any]:
    """Everything the template shows, computed from the store alone: the results and the snapshot of cards and
    manifests taken at run start (and, if `media`, frames on disk at the paths the store recorded)."""
    info = sources.run_media(store, run)
    if not info.get("config"):
        raise ValueError(f"no run named '{run}' in {store.path}; runs there: {store.runs()}")
    snapshot = store.snapshot(run, "metric")
    # runs recorded before snapshots existed fall back to today's registry
    cards = MetricCards(snapshot) if snapshot else LIVE
    info["datasets"] = store.snapshot(run, "dataset")
    df = store.results_frame(run)
    order = tables.config_order(info)
    boards = tables.build_boards(df, seed=seed, level=level, order=order, cards=cards)
    runs = sources.method_runs(store, run, df) if not df.empty else pd.DataFrame()
    colors = plots.method_colors(tables.ordered_labels(tables.with_labels(df), order)) if not df.empty else {}
    seeds = sorted(int(s) for s in df["seed"].unique()) if not df.empty else []
    return {
        "run": run, "info": info, "boards": boards, "leaderboards": _leaderboards(boards, level),
        "cross_ranks": _cross_ranks(boards), "level": int(level * 100), "bootstrap_seed": seed,
        "clip_pages": [] if df.empty else clip_pages.clip_pages(df, runs, info, colors, media_on=media, order=order,
                                                                cards=cards),
        "sweeps": [] if df.empty else clip_pages.sweep_figures(df, runs, colors, cards),
        "unavailable": store.unavailable(run), "failures": store.failures(run), "cost": _cost(runs, order),
        "cards": _cards(df, cards, store.snapshot(run, "method")), "seeds": seeds,
        "protocols": sorted(df["protocol"].unique()) if not df.empty else [],
        "manifests_json": json.dumps(info["datasets"], indent=1, sort_keys=True, default=str),
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
