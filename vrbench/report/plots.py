"""Plots over the tidy results table. Each takes `ax=None` and returns `(fig, ax)`; only the CLI writes files."""

from __future__ import annotations

import pandas as pd


def per_frame_curves(df: pd.DataFrame, dataset: str, clip: str, metric: str, ax=None):
    """One line per method: the metric's per-frame values over a clip (frame index on x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vrbench.report.tables import method_label

    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 2.6), dpi=110)
    sub = df[(df["dataset"] == dataset) & (df["clip"] == clip) & (df["metric"] == metric)]
    for _, row in sub.sort_values(["method", "steps"]).iterrows():
        values = row["per_frame"]
        if values is None or len(values) == 0:
            continue
        ax.plot(range(len(values)), values, marker=".", markersize=3, linewidth=1.2,
                label=method_label(row["method"], row["steps"]))
    ax.set_xlabel("frame")
    ax.set_ylabel(metric)
    ax.set_title(f"{clip} · per-frame {metric}", fontsize=10)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8, frameon=False, loc="best")
    fig.tight_layout()
    return fig, ax


def figure_to_data_uri(fig) -> str:
    """Embed a figure in HTML as a base64 PNG (the report stays one self-contained file)."""
    import base64
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
