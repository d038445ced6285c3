"""Every registered metric card's direction and range are what the leaderboard's best/second marking follows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vrbench.registry import METRICS
from vrbench.report.tables import build_boards


def _values_in_range(card) -> tuple[float, float, float]:
    lo, hi = card.range
    lo = 0.0 if lo is None else lo
    hi = lo + 10.0 if hi is None else hi
    return tuple(lo + f * (hi - lo) for f in (0.2, 0.5, 0.8))


@pytest.mark.parametrize("metric", METRICS.names())
def test_best_and_second_follow_the_card(metric):
    card = METRICS.card(metric)
    low, mid, high = _values_in_range(card)
    assert card.range[0] is None or card.range[1] is None or card.range[0] <= low < high <= card.range[1]
    rows = [{"run": "r", "dataset": "d", "clip": c, "method": m, "steps": -1, "seed": 0, "metric": metric,
             "value": v, "protocol": "default", "per_frame": np.array([v]), "config_hash": m}
            for c in ("c1", "c2") for m, v in (("low", low), ("mid", mid), ("high", high))]
    (board,) = build_boards(pd.DataFrame(rows), n_boot=50)
    marks = board.marks[metric]
    best, second = ("high", "mid") if card.higher_is_better else ("low", "mid")
    assert marks[best] == "best" and marks[second] == "second"
    assert ("low" if card.higher_is_better else "high") not in marks
