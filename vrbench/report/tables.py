"""Leaderboards from the tidy results table: dataset means with bootstrap intervals, ranks, best / second marks.

Averaging follows BasicSR and DOVE: per-frame values -> clip mean -> unweighted mean over clips (several seeds of
a stochastic method are averaged per clip first). The direction of each metric comes from its card, never from
a list of names here; tables built from synthetic data may pass the directions explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vrbench import stats
from vrbench.report.cards import LIVE, MetricCards

STEPS_NONE = -1


def method_label(method: str, steps: int) -> str:
    return method if steps == STEPS_NONE else f"{method} ({steps} step{'' if steps == 1 else 's'})"


def metric_order(name: str, cards: MetricCards = LIVE) -> tuple[int, int, str]:
    return cards.order(name)


def arrow(metric: str, directions: dict[str, bool] | None = None, cards: MetricCards = LIVE) -> str:
    higher = direction(metric, directions, cards)
    return "" if higher is None else ("↑" if higher else "↓")


def direction(metric: str, directions: dict[str, bool] | None, cards: MetricCards = LIVE) -> bool | None:
    if directions and metric in directions:
        return directions[metric]
    return cards.higher(metric)


def with_labels(df: pd.DataFrame) -> pd.DataFrame:
    """The results table with a `label` column: the method's display name, plus its step count if it has one."""
    out = df.copy()
    out["label"] = [method_label(m, int(s)) for m, s in zip(out["method"], out["steps"], strict=True)]
    return out


def ordered_labels(df: pd.DataFrame, order: list[str] | None = None) -> list[str]:
    """Method labels in the config's order (`order`: display names), then first appearance; steps ascending."""
    seen = df.drop_duplicates("label")[["label", "method", "steps"]]
    first = {m: i for i, m in enumerate(dict.fromkeys([*(order or []), *seen["method"]]))}
    return [r.label for r in sorted(seen.itertuples(), key=lambda r: (first[r.method], r.steps))]


def config_order(info: dict[str, Any]) -> list[str]:
    """Display names of the methods in the order the run's config lists them."""
    methods = info.get("config", {}).get("methods", [])
    return [m.get("label") or m.get("name") for m in methods if isinstance(m, dict)]


def leaderboard(df: pd.DataFrame, dataset: str, cards: MetricCards = LIVE) -> pd.DataFrame:
    """Methods x metrics table of dataset means (unweighted mean of clip means) for one dataset."""
    sub = with_labels(df[df["dataset"] == dataset])
    if sub.empty:
        return pd.DataFrame()
    clip_means = sub.groupby(["label", "metric", "clip"])["value"].agg(plain_mean)
    table = clip_means.groupby(["label", "metric"]).agg(plain_mean).unstack("metric")
    table = table.reindex(ordered_labels(sub))
    return table[sorted(table.columns, key=cards.order)]


def plain_mean(values: pd.Series) -> float:
    """Mean that keeps +inf (pandas' mean does too) and is NaN only when every value is NaN."""
    v = values.dropna().to_numpy(dtype=float)
    return float(np.mean(v)) if len(v) else math.nan


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


def format_value(value: float | None, metric: str, cards: MetricCards = LIVE) -> str:
    """Two decimals for unbounded metrics (dB, MUSIQ), four for metrics in [0, 1]; ∞ for identical frames."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    hi = cards.upper(metric)
    digits = 4 if hi is not None and hi <= 1.0 else 2
    return f"{value:.{digits}f}"


def sort_value(v: float | None) -> float | None:
    """Sort key for the browser: JSON has no infinity, so ±inf become ±1e308; NaN becomes None (sorted last)."""
    if v is None or math.isnan(v):
        return None
    return math.copysign(1e308, v) if math.isinf(v) else float(v)


def per_clip(df: pd.DataFrame, dataset: str, cards: MetricCards = LIVE) -> pd.DataFrame:
    """(clip, method) x metric table of clip means (seeds averaged)."""
    sub = with_labels(df[df["dataset"] == dataset])
    table = sub.groupby(["clip", "label", "metric"])["value"].agg(plain_mean).unstack("metric")
    return table[sorted(table.columns, key=cards.order)]


@dataclass
class Board:
    """One leaderboard: a dataset under one protocol, with intervals, CI ranks, marks and paired tests."""

    dataset: str
    protocol: str
    clips: list[str]
    methods: list[str]
    metrics: list[str]
    directions: dict[str, bool | None]
    stats: dict[str, pd.DataFrame]  # metric -> rows per method: mean, low, high, n, rank
    clip_values: dict[str, pd.DataFrame]  # metric -> clips x methods
    marks: dict[str, dict[str, str]] = field(default_factory=dict)
    tests: dict[str, dict[str, stats.PairedTest]] = field(default_factory=dict)  # metric -> method -> vs best
    best: dict[str, str] = field(default_factory=dict)
    cards: MetricCards = LIVE  # the run's snapshot when built for a report

    def mean(self, method: str, metric: str) -> float:
        return float(self.stats[metric].loc[method, "mean"])

    def avg_rank(self, method: str) -> float:
        ranks = [self.stats[m].loc[method, "rank"] for m in self.metrics if self.directions[m] is not None]
        ranks = [r for r in ranks if not math.isnan(r)]
        return float(sum(ranks) / len(ranks)) if ranks else math.nan


def build_boards(df: pd.DataFrame, *, seed: int = 0, n_boot: int = stats.N_BOOT, level: float = stats.LEVEL,
                 directions: dict[str, bool] | None = None, order: list[str] | None = None,
                 cards: MetricCards = LIVE) -> list[Board]:
    """Every (dataset, protocol) leaderboard of a results table; rows in `order` (method display names)."""
    if df.empty:
        return []
    labelled = with_labels(df)
    boards = []
    for (dataset, protocol), sub in labelled.groupby(["dataset", "protocol"], sort=True):
        boards.append(_board(sub, str(dataset), str(protocol), seed, n_boot, level, directions, order, cards))
    return boards


def _board(sub: pd.DataFrame, dataset: str, protocol: str, seed: int, n_boot: int, level: float,
           directions: dict[str, bool] | None, order: list[str] | None, cards: MetricCards) -> Board:
    methods = ordered_labels(sub, order)
    metrics = sorted(sub["metric"].unique(), key=cards.order)
    clip_means = sub.groupby(["metric", "clip", "label"])["value"].agg(plain_mean)
    board = Board(dataset, protocol, sorted(sub["clip"].unique()), methods, metrics,
                  {m: direction(m, directions, cards) for m in metrics}, {}, {}, cards=cards)
    for metric in metrics:
        values = clip_means.loc[metric].unstack("label").reindex(columns=methods)
        board.clip_values[metric] = values
        higher = board.directions[metric]
        summary = stats.summarise(values, True if higher is None else higher, n_boot=n_boot, level=level, seed=seed)
        if higher is None:
            summary["rank"] = math.nan
        board.stats[metric] = summary
        if higher is None:
            continue
        board.marks[metric] = rank_marks(summary["mean"], higher)
        _paired_tests(board, metric, values, summary, higher, seed)
    return board


def _paired_tests(board: Board, metric: str, values: pd.DataFrame, summary: pd.DataFrame, higher: bool,
                  seed: int) -> None:
    """Each method against the best one on this metric, paired by clip."""
    finite = summary["mean"].dropna()
    if finite.empty:
        return
    best = finite.idxmax() if higher else finite.idxmin()
    board.best[metric] = best
    board.tests[metric] = {m: stats.paired_test(values[m].to_numpy(), values[best].to_numpy(), seed=seed)
                           for m in board.methods if m != best}


def cross_dataset_ranks(boards: list[Board]) -> pd.DataFrame:
    """Methods x metrics: mean over datasets of the CI ranks (only boards sharing a protocol are comparable)."""
    frames = []
    for b in boards:
        for metric in b.metrics:
            if b.directions[metric] is None:
                continue
            r = b.stats[metric]["rank"].rename("rank").to_frame()
            r["metric"], r["dataset"], r["protocol"] = metric, b.dataset, b.protocol
            frames.append(r.reset_index())
    if not frames:
        return pd.DataFrame()
    ranks = pd.concat(frames)
    table = ranks.pivot_table(index="method", columns="metric", values="rank", aggfunc="mean")
    cards = boards[0].cards if boards else LIVE
    table = table[sorted(table.columns, key=cards.order)]
    table["mean rank"] = table.mean(axis=1, skipna=True)
    return table.sort_values("mean rank")
