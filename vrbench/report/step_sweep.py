"""Step-sweep tables and figures: metric-vs-steps curves, runtime, and the perception-distortion view.

The figure follows SeedVR2 (Fig. 10, "speed-quality trade-off": one panel per metric versus sampling steps) and
SATB-VR (Fig. 6, N = 1..5), with the runtime in seconds per frame as a panel of its own, and the
perception-distortion view (Blau & Michaeli 2018): a fidelity metric against each perceptual one as the step
count varies. Several seeds give the mean and the spread (standard deviation over seeds) of stochastic methods.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from vrbench.errors import InputError
from vrbench.report.cards import LIVE, MetricCards
from vrbench.report.plots import _style_axes, method_colors, pyplot

RUNTIME = "s/frame"


def sweep_table(results: pd.DataFrame, cost: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tidy: method, steps, metric, mean, std, seeds, clips, per dataset.

    Per seed the dataset mean is the unweighted mean of clip means; `mean` and `std` are over seeds (std 0 with
    one seed). `cost` (see `report.sources.method_runs`) adds the metric "s/frame": seconds over frames.
    """
    sub = results[results["steps"] >= 0]
    if sub.empty:
        return pd.DataFrame(columns=["dataset", "method", "steps", "metric", "mean", "std", "seeds", "clips"])
    per_seed = (sub.groupby(["dataset", "method", "steps", "metric", "seed"])
                .agg(value=("value", _mean_keep_inf), clips=("clip", "nunique")).reset_index())
    if cost is not None and not cost.empty:
        c = cost[(cost["steps"] >= 0) & cost["seconds"].notna()]
        rt = (c.groupby(["dataset", "method", "steps", "seed"])
              .agg(seconds=("seconds", "sum"), frames=("frames", "sum"), clips=("clip", "nunique")).reset_index())
        rt["value"] = rt["seconds"] / rt["frames"].clip(lower=1)
        rt["metric"] = RUNTIME
        per_seed = pd.concat([per_seed, rt[per_seed.columns]], ignore_index=True)
    table = (per_seed.groupby(["dataset", "method", "steps", "metric"])
             .agg(mean=("value", _mean_keep_inf), std=("value", _std), seeds=("seed", "nunique"),
                  clips=("clips", "max")).reset_index())
    return table.sort_values(["dataset", "method", "metric", "steps"]).reset_index(drop=True)


def _mean_keep_inf(v: pd.Series) -> float:
    x = v.dropna().to_numpy(dtype=np.float64)
    return float(np.mean(x)) if x.size else math.nan


def _std(v: pd.Series) -> float:
    x = v.dropna().to_numpy(dtype=np.float64)
    return float(np.std(x, ddof=1)) if x.size > 1 and np.isfinite(x).all() else 0.0


def distortion_and_perception(metrics: list[str], cards: MetricCards = LIVE) -> tuple[str | None, list[str]]:
    """Fidelity metric for the x axis (the first in dB: PSNR) and the perceptual ones (no-reference, video-level
    and learned full-reference metrics, i.e. those with weights), read from the metric cards."""
    known = {m: c for m in metrics if (c := cards.get(m)) is not None}
    distortion = next((m for m, c in known.items() if c.get("unit") == "dB"), None)
    perception = [m for m, c in known.items()
                  if c["kind"] in ("NR", "video") or (c["kind"] == "FR" and c.get("weights"))]
    return distortion, perception


def plot_sweep(table: pd.DataFrame, dataset: str | None = None, metrics: list[str] | None = None,
               colors: dict[str, str] | None = None, cards: MetricCards = LIVE):
    """One panel per metric versus steps (mean ± std over seeds), runtime last. Returns (fig, axes)."""
    plt = pyplot()
    sub = table if dataset is None else table[table["dataset"] == dataset]
    present = sorted((m for m in sub["metric"].unique() if m != RUNTIME), key=cards.order)
    metrics = [m for m in (metrics or present) if m in present] + ([RUNTIME] if RUNTIME in set(sub["metric"]) else [])
    if not metrics:
        raise InputError("nothing to plot in the sweep", expected="results with step counts", found="none")
    cols = min(4, len(metrics))
    rows = math.ceil(len(metrics) / cols)
    fig, grid = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.5 * rows), dpi=120, squeeze=False)
    methods = list(dict.fromkeys(sub["method"]))
    colors = colors or method_colors(methods)
    steps = sorted(sub["steps"].unique())
    for ax, metric in zip(grid.flat, metrics, strict=False):
        for method in methods:
            line = sub[(sub["method"] == method) & (sub["metric"] == metric)].sort_values("steps")
            if line.empty:
                continue
            y, s = line["mean"].to_numpy(float), line["std"].to_numpy(float)
            ax.plot(line["steps"], np.where(np.isfinite(y), y, np.nan), marker="o", markersize=3.5,
                    linewidth=1.5, color=colors[method], label=method)
            if (s > 0).any():
                ax.fill_between(line["steps"], y - s, y + s, color=colors[method], alpha=0.18, linewidth=0)
        _style_axes(ax, "steps", _axis_label(metric, cards))
        ax.set_xticks(steps if len(steps) <= 10 else ax.get_xticks())
        ax.set_title(metric if metric != RUNTIME else "runtime", fontsize=9)
    for ax in list(grid.flat)[len(metrics):]:
        ax.set_visible(False)
    seeds = int(sub["seeds"].max()) if not sub.empty else 1
    note = f" · mean ± std over {seeds} seeds" if seeds > 1 else ""
    fig.suptitle(f"step sweep{' on ' + dataset if dataset else ''}{note}", fontsize=10)
    if len(methods) > 1 or seeds > 1:
        grid.flat[0].legend(fontsize=7.5, frameon=False)
    fig.tight_layout()
    return fig, grid


def _axis_label(metric: str, cards: MetricCards) -> str:
    if metric == RUNTIME:
        return "seconds / frame ↓"
    return f"{metric} {cards.arrow(metric)}".strip()


def plot_perception_distortion(table: pd.DataFrame, distortion: str, perception: list[str],
                               dataset: str | None = None, colors: dict[str, str] | None = None,
                               cards: MetricCards = LIVE):
    """A fidelity metric (x) against each perceptual metric (y), one path per method, points labelled by steps."""
    plt = pyplot()
    sub = table if dataset is None else table[table["dataset"] == dataset]
    perception = [p for p in perception if p in set(sub["metric"])]
    if distortion not in set(sub["metric"]) or not perception:
        raise InputError("perception-distortion view needs a fidelity and a perceptual metric",
                         expected=f"{distortion} and one of the perceptual metrics", found=sorted(set(sub["metric"])))
    fig, grid = plt.subplots(1, len(perception), figsize=(3.3 * len(perception), 2.9), dpi=120, squeeze=False)
    methods = list(dict.fromkeys(sub["method"]))
    colors = colors or method_colors(methods)
    for ax, metric in zip(grid.flat, perception, strict=True):
        for method in methods:
            wide = (sub[(sub["method"] == method) & sub["metric"].isin([distortion, metric])]
                    .pivot_table(index="steps", columns="metric", values="mean").dropna())
            if wide.empty:
                continue
            x, y = wide[distortion].to_numpy(float), wide[metric].to_numpy(float)
            ax.plot(x, y, marker="o", markersize=3.5, linewidth=1.2, color=colors[method], label=method)
            for steps, xi, yi in zip(wide.index, x, y, strict=True):
                ax.annotate(str(steps), (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=6.5,
                            color=colors[method])
        _style_axes(ax, _axis_label(distortion, cards), _axis_label(metric, cards))
    grid.flat[0].legend(fontsize=7.5, frameon=False)
    fig.suptitle("perception–distortion as steps vary (numbers: steps)", fontsize=10)
    fig.tight_layout()
    return fig, grid
