"""Golden tests of the statistics over clips: seeded bootstrap intervals, the paired test, ranks with ties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vrbench.stats import (
    Interval,
    aggregate_ranks,
    bootstrap_ci,
    ci_ranks,
    paired_test,
    summarise,
)

CLIPS = [28.1, 30.4, 25.2, 33.0, 27.7]


def test_bootstrap_interval_is_seeded_and_golden():
    iv = bootstrap_ci(CLIPS)
    assert iv.n == 5 and iv.mean == pytest.approx(28.88)
    # frozen: numpy default_rng(0), 1000 resamples, order statistics 25 and 974 of the sorted means
    assert (iv.low, iv.high) == pytest.approx((26.76, 31.42))
    assert bootstrap_ci(CLIPS) == iv  # same seed, same numbers
    other = bootstrap_ci(CLIPS, seed=1)
    assert other.low == pytest.approx(26.74) and other.high == pytest.approx(31.42)


def test_bootstrap_interval_matches_its_definition():
    rng = np.random.default_rng(0)
    means = np.sort(np.asarray(CLIPS)[rng.integers(0, 5, size=(1000, 5))].mean(axis=1))
    iv = bootstrap_ci(CLIPS)
    assert (iv.low, iv.high) == (means[25], means[974])
    wide = bootstrap_ci(CLIPS, level=0.99)
    assert wide.low <= iv.low and wide.high >= iv.high


def test_bootstrap_interval_edge_cases():
    assert bootstrap_ci([5.0]) == Interval(5.0, 5.0, 5.0, 1)
    empty = bootstrap_ci([math.nan, math.nan])
    assert empty.n == 0 and math.isnan(empty.mean)
    with_nan = bootstrap_ci([1.0, math.nan, 3.0])
    assert with_nan.n == 2 and with_nan.mean == 2.0 and (with_nan.low, with_nan.high) == (1.0, 3.0)
    # identical frames give PSNR = +inf: the mean is +inf and the interval stays ordered, never NaN
    inf = bootstrap_ci([30.0, math.inf, 31.0])
    assert inf.mean == math.inf and inf.low == 30.0 and inf.high == math.inf


def test_paired_test_exact_and_monte_carlo():
    exact = paired_test([1, 2, 3, 4], [0.5, 1.4, 2.7, 3.9])
    # all four differences positive: 2 of the 16 sign patterns are as extreme -> p = 1/8
    assert exact.exact and exact.p_value == 0.125 and exact.difference == pytest.approx(0.375) and exact.n == 4
    same = paired_test([1, 2, 3], [1, 2, 3])
    assert same.p_value == 1.0 and same.difference == 0.0
    a = np.arange(20.0)
    mc = paired_test(a, a - np.linspace(-0.2, 1.0, 20))
    assert not mc.exact and mc.n == 20 and mc.difference == pytest.approx(0.4)
    assert mc.p_value == pytest.approx(3 / 10001)  # frozen, seed 0
    assert paired_test(a, a - np.linspace(-0.2, 1.0, 20)) == mc


def test_paired_test_drops_non_finite_pairs_and_checks_lengths():
    t = paired_test([1.0, math.inf, 3.0], [0.0, 2.0, math.nan])
    assert t.n == 1 and t.dropped == 2 and t.difference == 1.0
    with pytest.raises(ValueError, match="found 3 and 2"):
        paired_test([1, 2, 3], [1, 2])


def test_ranks_tie_when_intervals_overlap():
    ivs = {"a": Interval(30.0, 29.5, 30.5, 5), "b": Interval(29.8, 29.0, 30.2, 5),
           "c": Interval(27.0, 26.0, 28.0, 5), "d": Interval(math.nan, math.nan, math.nan, 0)}
    ranks = ci_ranks(ivs, higher_is_better=True)
    assert ranks["a"] == 1 and ranks["b"] == 1 and ranks["c"] == 3 and math.isnan(ranks["d"])
    # lower is better (LPIPS): the same intervals rank the other way round
    low = ci_ranks(ivs, higher_is_better=False)
    assert low["c"] == 1 and low["a"] == 2 and low["b"] == 2


def test_ranks_are_not_forced_transitive():
    ivs = {"a": Interval(3.0, 2.5, 3.5, 4), "b": Interval(2.2, 1.6, 2.8, 4), "c": Interval(1.4, 0.9, 1.9, 4)}
    # a overlaps b, b overlaps c, a does not overlap c: a and b tie at 1, c is beaten by a only
    assert ci_ranks(ivs, True) == {"a": 1.0, "b": 1.0, "c": 2.0}


def test_summarise_and_aggregate_ranks():
    values = pd.DataFrame({"good": [30.0, 31.0, 32.0, 33.0], "bad": [20.0, 21.0, 22.0, 23.0]},
                          index=["c1", "c2", "c3", "c4"])
    s = summarise(values, higher_is_better=True)
    assert s.loc["good", "rank"] == 1 and s.loc["bad", "rank"] == 2 and s.loc["good", "mean"] == 31.5
    ranks = pd.DataFrame({"udm10": [1.0, 2.0, 3.0], "spmcs": [2.0, 1.0, math.nan]}, index=["x", "y", "z"])
    agg = aggregate_ranks(ranks)
    assert list(agg.index) == ["x", "y", "z"] and agg.tolist() == [1.5, 1.5, 3.0]
