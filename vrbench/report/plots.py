"""Plots over the tidy results table. Each takes `ax=None` and returns `(fig, ax)`; only the CLI writes files."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# a colour-blind-safe palette (Okabe & Ito 2008), reused for the same method in every plot of a report
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
GT_COLOR = "#4d4d4d"


def pyplot():
    """matplotlib.pyplot on the Agg backend (reports are drawn without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def method_colors(names: list[str]) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def worst_frames(values: np.ndarray, higher_is_better: bool, k: int) -> np.ndarray:
    """Indices of the k worst frames (lowest value if higher is better), NaN ignored, worst first."""
    v = np.asarray(values, dtype=np.float64)
    idx = np.flatnonzero(~np.isnan(v))
    order = idx[np.argsort(v[idx] if higher_is_better else -v[idx], kind="stable")]
    return order[:k]


def per_frame_curves(df: pd.DataFrame, dataset: str, clip: str, metric: str, ax=None, *, worst: int = 3,
                     colors: dict[str, str] | None = None, order: list[str] | None = None,
                     higher: bool | None = None):
    """One line per method: the metric's per-frame values over a clip, its `worst` frames circled (`higher`: the
    metric's direction, from its card when not given)."""
    from vrbench.report.tables import direction, ordered_labels, with_labels

    plt = pyplot()
    own = ax is None
    fig, ax = plt.subplots(figsize=(6.4, 2.8), dpi=120) if own else (ax.figure, ax)
    sub = with_labels(df[(df["dataset"] == dataset) & (df["clip"] == clip) & (df["metric"] == metric)])
    labels = ordered_labels(sub, order) if not sub.empty else []
    colors = colors or method_colors(labels)
    higher = direction(metric, None) if higher is None else higher
    marked = False
    for label in labels:
        arrays = [np.asarray(a, dtype=np.float64) for a in sub[sub["label"] == label]["per_frame"] if a is not None]
        if not arrays or len({len(a) for a in arrays}) != 1 or len(arrays[0]) == 0:
            continue
        values = np.mean(arrays, axis=0)  # several seeds: their mean per frame
        shown = np.where(np.isinf(values), np.nan, values)
        ax.plot(np.arange(len(values)), shown, linewidth=1.4, color=colors.get(label), label=label)
        if worst and higher is not None:
            bad = worst_frames(shown, higher, worst)
            ax.scatter(bad, shown[bad], s=46, facecolors="none", edgecolors=colors.get(label), linewidths=1.3,
                       zorder=3)
            marked = marked or len(bad) > 0
    if sub["per_frame"].map(lambda a: a is not None and np.isinf(a).any()).any():
        ax.text(0.99, 0.02, "∞ (identical frames) not drawn", transform=ax.transAxes, ha="right", fontsize=7,
                color="#666")
    _style_axes(ax, "frame", f"{metric} {'↑' if higher else '↓' if higher is not None else ''}".strip())
    ax.set_title(f"{clip} · per-frame {metric}" + (f" · ○ worst {worst} frames" if marked else ""), fontsize=9.5)
    if ax.lines:
        ax.legend(fontsize=7.5, frameon=False, loc="best", ncol=2 if len(ax.lines) > 4 else 1)
    if own:
        fig.tight_layout()
    return fig, ax


def _style_axes(ax, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel, fontsize=8.5)
    ax.set_ylabel(ylabel, fontsize=8.5)
    ax.tick_params(labelsize=7.5)
    ax.grid(alpha=0.25, linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def figure_to_data_uri(fig, fmt: str = "png", dpi: int | None = None) -> str:
    """Embed a figure in HTML as a base64 PNG (the report stays one self-contained file)."""
    import base64
    import io

    plt = pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    plt.close(fig)
    return f"data:image/{fmt};base64," + base64.b64encode(buf.getvalue()).decode()


def save_figure(fig, file, dpi: int = 200) -> None:
    """PNG or PDF by extension, tight bounding box, at paper resolution."""
    from pathlib import Path

    file = Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(file, dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)


def finite_or_nan(x: float) -> float:
    return x if math.isfinite(x) else math.nan
