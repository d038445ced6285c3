"""Statistics over clips: bootstrap confidence intervals, a paired test between methods, ranks with ties.

A benchmark has few clips (UDM10 has 10, SPMCS 30), so the unit of resampling is the clip, not the frame: the
dataset mean is the unweighted mean of clip means (BasicSR, DOVE), and its uncertainty is that of a mean over
clips. Everything is seeded, so a report shows the same intervals every time it is rendered.

- `bootstrap_ci`: percentile bootstrap of the mean over clips (Efron & Tibshirani 1993, ch. 13), with order
  statistics as bounds (no interpolation, so +inf values of PSNR on identical frames stay well defined).
- `paired_test`: two-sided sign-flip permutation test of the mean paired difference over clips (exact when
  2^n is small, Monte Carlo otherwise), the test that uses the pairing papers throw away.
- `ci_ranks`: rank = 1 + number of methods whose interval lies entirely on the better side; overlapping
  intervals tie.
- `aggregate_ranks`: mean of those ranks across datasets (or metrics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd

N_BOOT = 1000
LEVEL = 0.95
EXACT_PERMUTATION_MAX_N = 16  # 2^16 sign patterns: exact p-values below this many clips


@dataclass(frozen=True)
class Interval:
    """Mean over clips with its bootstrap interval; `n` counts the clips that had a value (NaN dropped)."""

    mean: float
    low: float
    high: float
    n: int


def bootstrap_ci(values: np.ndarray | list[float], *, n_boot: int = N_BOOT, level: float = LEVEL,
                 seed: int = 0) -> Interval:
    """Percentile-bootstrap interval of the mean of `values` (one value per clip), seeded.

    NaN values are dropped. With one clip the interval is that value (no spread can be estimated); with none
    everything is NaN.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(_mean(x))
    if x.size == 1:
        return Interval(mean, mean, mean, 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    means = np.sort(_mean(x[idx], axis=1))
    alpha = (1.0 - level) / 2.0
    low = means[int(math.floor(alpha * n_boot))]
    high = means[int(math.ceil((1.0 - alpha) * n_boot)) - 1]
    return Interval(mean, float(low), float(high), int(x.size))


def _mean(x: np.ndarray, axis: int | None = None):
    """Mean that keeps +inf as +inf (np.mean would too, but warns when +inf meets -inf; we let NaN stand)."""
    with np.errstate(invalid="ignore"):
        return np.mean(x, axis=axis)


@dataclass(frozen=True)
class PairedTest:
    """Mean difference a - b over paired clips, its two-sided p-value, and how the p-value was obtained."""

    difference: float
    p_value: float
    n: int
    exact: bool
    dropped: int


def paired_test(a: np.ndarray | list[float], b: np.ndarray | list[float], *, n_perm: int = 10000,
                seed: int = 0) -> PairedTest:
    """Sign-flip permutation test of H0 "the paired differences are symmetric about 0".

    Pairs where either value is NaN or infinite are dropped (and counted in `dropped`). With n <= 16 pairs all
    2^n sign patterns are enumerated and the p-value is exact; otherwise `n_perm` seeded random patterns give
    p = (1 + #{|T*| >= |T|}) / (1 + n_perm) (Phipson & Smyth 2010).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired_test needs one value per clip for both methods: found {a.size} and {b.size}")
    keep = np.isfinite(a) & np.isfinite(b)
    d = a[keep] - b[keep]
    dropped = int((~keep).sum())
    if d.size == 0:
        return PairedTest(math.nan, math.nan, 0, True, dropped)
    observed = abs(d.mean())
    # a tolerance so that sign patterns giving the same |mean| up to rounding count as "at least as extreme"
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))
    if d.size <= EXACT_PERMUTATION_MAX_N:
        signs = np.array(list(product((1.0, -1.0), repeat=d.size)))
        stats = np.abs(signs @ d) / d.size
        p = float(np.mean(stats >= observed - tol))
        return PairedTest(float(d.mean()), p, int(d.size), True, dropped)
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(n_perm, d.size))
    stats = np.abs(signs @ d) / d.size
    p = float((1 + np.sum(stats >= observed - tol)) / (1 + n_perm))
    return PairedTest(float(d.mean()), p, int(d.size), False, dropped)


def ci_ranks(intervals: dict[str, Interval], higher_is_better: bool) -> dict[str, float]:
    """Rank of each method: 1 + the number of methods whose whole interval is better than its whole interval.

    Methods whose intervals overlap share a rank (competition ranking, "1, 1, 3"); a method without a value
    gets NaN and never counts against the others.
    """
    ranks: dict[str, float] = {}
    for name, iv in intervals.items():
        if math.isnan(iv.mean):
            ranks[name] = math.nan
            continue
        better = 0
        for other, ov in intervals.items():
            if other == name or math.isnan(ov.mean):
                continue
            better += ov.low > iv.high if higher_is_better else ov.high < iv.low
        ranks[name] = float(1 + better)
    return ranks


def aggregate_ranks(ranks: pd.DataFrame) -> pd.Series:
    """Mean rank per method (rows) over the columns (datasets or metrics), NaN ignored, best first."""
    return ranks.mean(axis=1, skipna=True).sort_values()


def summarise(clip_values: pd.DataFrame, higher_is_better: bool, *, n_boot: int = N_BOOT, level: float = LEVEL,
              seed: int = 0) -> pd.DataFrame:
    """Leaderboard column for one metric: `clip_values` has one row per clip and one column per method.

    Returns one row per method with mean, low, high, n and the CI rank.
    """
    intervals = {m: bootstrap_ci(clip_values[m].to_numpy(), n_boot=n_boot, level=level, seed=seed)
                 for m in clip_values.columns}
    ranks = ci_ranks(intervals, higher_is_better)
    rows = [{"method": m, "mean": iv.mean, "low": iv.low, "high": iv.high, "n": iv.n, "rank": ranks[m]}
            for m, iv in intervals.items()]
    return pd.DataFrame(rows).set_index("method")
