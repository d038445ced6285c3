"""Leaderboards and per-clip tables from the tidy results table, with best / second-best marking.

Averaging follows BasicSR and DOVE: per-frame values -> clip mean -> unweighted mean over clips. The direction
of each metric comes from its card, never from a list of names here.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from vrbench.registry import METRICS

STEPS_NONE = -1


def method_label(method: str, steps: int) -> str:
    return method if steps == STEPS_NONE else f"{method} ({steps} steps)"


def leaderboard(df: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Methods x metrics table of dataset means (unweighted mean of clip means) for one dataset."""
    sub = df[df["dataset"] == dataset].copy()
    if sub.empty:
        return pd.DataFrame()
    sub["label"] = [method_label(m, s) for m, s in zip(sub["method"], sub["steps"], strict=True)]
    table = sub.pivot_table(index="label", columns="metric", values="value", aggfunc="mean")
    return table[sorted(table.columns, key=metric_order)]


def metric_order(name: str) -> tuple[int, str]:
    card = METRICS.card(name) if name in METRICS else None
    rank = {"FR": 0, "NR": 1, "video": 2, "temporal": 3}.get(card.kind if card else "", 4)
    return rank, name


def higher_is_better(metric: str) -> bool:
    return METRICS.card(metric).higher_is_better


def rank_marks(values: pd.Series, higher: bool) -> dict[Any, str]:
    """{index: 'best' | 'second'} for one metric column; ties share a mark; NaN never ranks."""
    finite = values.dropna()
    if finite.empty:
        return {}
    ordered = sorted(set(finite.tolist()), reverse=higher)
    marks = {}
    for idx, v in finite.items():
        if v == ordered[0]:
            marks[idx] = "best"
        elif len(ordered) > 1 and v == ordered[1]:
            marks[idx] = "second"
    return marks


def format_value(value: float, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    card = METRICS.card(metric) if metric in METRICS else None
    hi = card.range[1] if card else None
    digits = 4 if hi is not None and hi <= 1.0 else 2
    return f"{value:.{digits}f}"


def per_clip(df: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """(clip, method) x metric table of clip means."""
    sub = df[df["dataset"] == dataset].copy()
    sub["label"] = [method_label(m, s) for m, s in zip(sub["method"], sub["steps"], strict=True)]
    table = sub.pivot_table(index=["clip", "label"], columns="metric", values="value", aggfunc="mean")
    return table[sorted(table.columns, key=metric_order)]
