"""Render a run as one self-contained HTML file (plots embedded), plus results.csv and results.json beside it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from vrbench.registry import METRICS
from vrbench.report import plots, tables
from vrbench.store import Store


def _leaderboards(df: pd.DataFrame) -> list[dict[str, Any]]:
    boards = []
    for dataset in sorted(df["dataset"].unique()):
        board = tables.leaderboard(df, dataset)
        columns = []
        for metric in board.columns:
            card = METRICS.card(metric)
            marks = tables.rank_marks(board[metric], card.higher_is_better)
            columns.append({"metric": metric, "arrow": card.arrow, "summary": card.summary,
                            "convention": card.convention, "marks": marks})
        rows = [{"method": label,
                 "cells": [{"text": tables.format_value(board.loc[label, c["metric"]], c["metric"]),
                            "mark": c["marks"].get(label, ""),
                            "value": _json_number(board.loc[label, c["metric"]])} for c in columns]}
                for label in board.index]
        boards.append({"dataset": dataset, "columns": columns, "rows": rows,
                       "clips": sorted(df[df["dataset"] == dataset]["clip"].unique())})
    return boards


def _per_clip(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for dataset in sorted(df["dataset"].unique()):
        table = tables.per_clip(df, dataset)
        metrics = list(table.columns)
        rows = [{"clip": clip, "method": label,
                 "cells": [tables.format_value(table.loc[(clip, label), m], m) for m in metrics]}
                for clip, label in table.index]
        out.append({"dataset": dataset, "metrics": metrics, "rows": rows})
    return out


def _curves(df: pd.DataFrame, metric: str = "psnr-rgb") -> list[dict[str, str]]:
    have = df[df["metric"] == metric]
    if have.empty and not df.empty:
        metric = sorted(df["metric"].unique(), key=tables.metric_order)[0]
        have = df[df["metric"] == metric]
    out = []
    for (dataset, clip), _ in have.groupby(["dataset", "clip"]):
        fig, _ax = plots.per_frame_curves(df, dataset, clip, metric)
        out.append({"dataset": dataset, "clip": clip, "metric": metric, "src": plots.figure_to_data_uri(fig)})
    return out


def _json_number(v: Any) -> Any:
    if v is None:
        return None
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def _cost(store: Store, run: str) -> list[dict[str, Any]]:
    mr = store.method_runs_frame(run)
    if mr.empty:
        return []
    g = mr.groupby("method").agg(seconds=("seconds", "sum"), frames=("frames", "sum"),
                                 rss=("peak_rss_mb", "max"), device=("device", "first"))
    return [{"method": m, "spf": r.seconds / max(r.frames, 1), "fps": r.frames / max(r.seconds, 1e-9),
             "frames": int(r.frames), "rss": r.rss, "device": r.device} for m, r in g.iterrows()]


def report_context(store: Store, run: str) -> dict[str, Any]:
    info = store.run_info(run)
    if not info:
        raise ValueError(f"no run named '{run}' in {store.path}; runs there: {store.runs()}")
    df = store.results_frame(run)
    return {"run": run, "info": info, "leaderboards": _leaderboards(df) if not df.empty else [],
            "per_clip": _per_clip(df) if not df.empty else [], "curves": _curves(df) if not df.empty else [],
            "unavailable": store.unavailable(run), "failures": store.failures(run), "cost": _cost(store, run),
            "provenance_json": json.dumps(info.get("provenance", {}), indent=1, sort_keys=True),
            "config_json": json.dumps(info.get("config", {}), indent=1, sort_keys=True)}


def export_tables(store: Store, run: str, out_dir: Path) -> None:
    """results.csv (tidy, one row per value) and results.json (values, per-frame arrays, provenance)."""
    df = store.results_frame(run)
    flat = df.drop(columns=["per_frame"])
    flat.to_csv(out_dir / "results.csv", index=False)
    records = []
    for row in df.to_dict(orient="records"):
        pf = row.pop("per_frame")
        row["value"] = _json_number(row["value"])
        row["per_frame"] = None if pf is None else [_json_number(x) for x in pf]
        records.append(row)
    payload = {"run": run, **store.run_info(run), "unavailable": store.unavailable(run),
               "failures": store.failures(run), "results": records}
    (out_dir / "results.json").write_text(json.dumps(payload, indent=1, default=str))


def write_report(store: Store, run: str, out_dir: Path) -> Path:
    import jinja2

    from vrbench.paths import catalog_dir

    out_dir.mkdir(parents=True, exist_ok=True)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(catalog_dir("reports") / "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    html = env.get_template("report.html.j2").render(**report_context(store, run))
    target = out_dir / "index.html"
    target.write_text(html, encoding="utf-8")
    export_tables(store, run, out_dir)
    return target
