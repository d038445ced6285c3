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
    clip_values: dict[str, pd.DataFrame]  # metric -> clips x methods (NaN where a method has no value)
    clip_present: dict[str, pd.DataFrame] = field(default_factory=dict)  # metric -> clips x methods: value stored
    marks: dict[str, dict[str, str]] = field(default_factory=dict)
    tests: dict[str, dict[str, stats.PairedTest]] = field(default_factory=dict)  # metric -> method -> vs best
    best: dict[str, str] = field(default_factory=dict)
    cards: MetricCards = LIVE  # the run's snapshot when built for a report
    # metric -> method -> (clips with a value, clips the metric applies to); only complete methods are ranked
    coverage: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    not_applicable: dict[str, str] = field(default_factory=dict)  # metric -> why it has no value here ("no GT")

    def complete(self, method: str, metric: str) -> bool:
        n, m = self.coverage.get(metric, {}).get(method, (0, 0))
        return n == m

    def clip_coverage(self, method: str) -> tuple[int, int]:
        """(clips with a value of this method, clips some metric of the board applies to)."""
        have, applies = set(), set()
        for metric in self.metrics:
            have |= set(self.clip_values[metric].index[self.clip_present[metric][method]])
            applies |= set(self.clip_values[metric].index)
        return len(have), len(applies)

    @property
    def partial(self) -> list[str]:
        """Methods missing a clip on some metric: shown with n/m, never ranked or marked against complete ones."""
        return [m for m in self.methods if any(not self.complete(m, k) for k in self.metrics)]

    def mean(self, method: str, metric: str) -> float:
        return float(self.stats[metric].loc[method, "mean"])

    def avg_rank(self, method: str) -> float:
        """Mean rank over the metrics that rank anyone; NaN if this method is unranked on one of them (partial)."""
        ranked = [m for m in self.metrics if self.directions[m] is not None and self.stats[m]["rank"].notna().any()]
        ranks = [self.stats[m].loc[method, "rank"] for m in ranked]
        return math.nan if not ranks or any(math.isnan(r) for r in ranks) else float(sum(ranks) / len(ranks))


def build_boards(df: pd.DataFrame, *, seed: int = 0, n_boot: int = stats.N_BOOT, level: float = stats.LEVEL,
                 directions: dict[str, bool] | None = None, order: list[str] | None = None,
                 cards: MetricCards = LIVE, planned: dict[str, dict[str, bool]] | None = None,
                 expected: list[str] | None = None, methods: list[str] | None = None) -> list[Board]:
    """Every (dataset, protocol) leaderboard of a results table; rows in `order` (method display names).

    `planned`: dataset -> {clip: has GT} of the clips the run set out to score; a method is compared with the
    others on a metric only when it has a value on every planned clip the metric applies to. Without it, the clips
    found in the results are the planned ones. `expected`: the metrics the run computed; one with no value on a
    board is listed in `not_applicable` with the reason (e.g. a full-reference metric on a set without GT).
    `methods`: the labels the run planned; one without any value still gets a row (0 of m clips).
    """
    if df.empty:
        return []
    labelled = with_labels(df)
    boards = []
    for (dataset, protocol), sub in labelled.groupby(["dataset", "protocol"], sort=True):
        clips = (planned or {}).get(str(dataset))
        board = _board(sub, str(dataset), str(protocol), seed, n_boot, level, directions, order, cards, clips,
                       methods or [])
        for metric in expected or []:
            if metric not in board.metrics and metric not in board.not_applicable:
                card = cards.get(metric) or {}
                gt_less = clips is not None and not any(clips.values())
                board.not_applicable[metric] = "no GT" if card.get("needs_gt") and gt_less else "no value"
        boards.append(board)
    return boards


def _board(sub: pd.DataFrame, dataset: str, protocol: str, seed: int, n_boot: int, level: float,
           directions: dict[str, bool] | None, order: list[str] | None, cards: MetricCards,
           planned: dict[str, bool] | None, planned_methods: list[str]) -> Board:
    methods = ordered_labels(sub, order)
    methods += [m for m in planned_methods if m not in methods]  # planned but without any value: a 0/m row
    metrics = sorted(sub["metric"].unique(), key=cards.order)
    clip_means = sub.groupby(["metric", "clip", "label"])["value"].agg(plain_mean)
    # a clip counts for a method when it has a value for every seed of the run (a clip scored with fewer seeds than
    # the others would be averaged over a different draw)
    seeds = sub.groupby(["metric", "clip", "label"])["seed"].nunique()
    present = seeds >= seeds.groupby(level="metric").transform("max")
    clips = sorted(planned) if planned is not None else sorted(sub["clip"].unique())
    board = Board(dataset, protocol, sorted(set(clips) | set(sub["clip"])), methods, metrics,
                  {m: direction(m, directions, cards) for m in metrics}, {}, {}, cards=cards)
    for metric in metrics:
        needs_gt = bool((cards.get(metric) or {}).get("needs_gt"))
        applies = ([c for c in board.clips if planned.get(c, True) or not needs_gt] if planned is not None
                   else sorted(sub[sub["metric"] == metric]["clip"].unique()))
        values = clip_means.loc[metric].unstack("label").reindex(index=applies, columns=methods)
        have = present.loc[metric].astype(float).unstack("label").reindex(index=applies, columns=methods) == 1.0
        # a clip where every stored value is NaN has no value to give (a temporal metric on a 1-frame clip): the
        # metric does not apply there; a NaN beside real values of other methods counts as missing
        void = have.any(axis=1) & values.isna().all(axis=1)
        values, have = values[~void], (have & values.notna())[~void]
        if values.empty:
            board.not_applicable[metric] = "no value on any clip (e.g. a temporal metric on 1-frame clips)"
            continue
        board.clip_values[metric], board.clip_present[metric] = values, have
        board.coverage[metric] = {m: (int(have[m].sum()), len(values)) for m in methods}
        complete = [m for m in methods if board.complete(m, metric)]
        higher = board.directions[metric]
        summary = stats.summarise(values, True if higher is None else higher, n_boot=n_boot, level=level, seed=seed)
        ranked = stats.summarise(values[complete], True if higher is None else higher, n_boot=n_boot, level=level,
                                 seed=seed) if complete else None
        # ranks, marks and tests only among methods with a value on every clip: a mean over fewer clips is shown,
        # never compared with the others
        summary["rank"] = math.nan
        if ranked is not None and higher is not None:
            summary.loc[complete, "rank"] = ranked["rank"]
        board.stats[metric] = summary
        if higher is None or not complete:
            continue
        board.marks[metric] = rank_marks(summary.loc[complete, "mean"], higher)
        _paired_tests(board, metric, values[complete], summary.loc[complete], higher, seed)
    board.metrics = [m for m in metrics if m not in board.not_applicable]
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
                           for m in values.columns if m != best}


def cross_dataset_ranks(boards: list[Board]) -> pd.DataFrame:
    """Methods x metrics: mean over datasets of the CI ranks (only boards sharing a protocol are comparable). A method
    unranked on one of the boards that rank a metric (missing or partial there) gets no mean: an average over fewer
    datasets would favour it."""
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
    methods = list(dict.fromkeys(m for b in boards for m in b.methods))
    boards_of = ranks.groupby("metric")["dataset"].nunique()
    table = ranks.pivot_table(index="method", columns="metric", values="rank", aggfunc=["mean", "count"],
                              dropna=False).reindex(methods)
    table = table["mean"].where(table["count"] == boards_of.reindex(table["mean"].columns))
    cards = boards[0].cards if boards else LIVE
    table = table[sorted(table.columns, key=cards.order)]
    table["mean rank"] = table.mean(axis=1, skipna=False)
    return table.sort_values("mean rank")
