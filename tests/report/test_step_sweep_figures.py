"""The step-sweep table (clip means, then mean and spread over seeds, runtime) and its figures."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from vrbench.errors import InputError
from vrbench.report.step_sweep import (
    RUNTIME,
    distortion_and_perception,
    plot_perception_distortion,
    plot_sweep,
    sweep_table,
)


def _results(rows):
    return pd.DataFrame([{"dataset": "d", "clip": c, "method": m, "steps": s, "seed": seed, "metric": metric,
                          "value": v} for m, s, seed, c, metric, v in rows])


def test_sweep_table_means_over_clips_then_seeds():
    rows = [("m", 1, 0, "a", "psnr-y", 20.0), ("m", 1, 0, "b", "psnr-y", 22.0),
            ("m", 1, 1, "a", "psnr-y", 24.0), ("m", 1, 1, "b", "psnr-y", 26.0),
            ("m", 2, 0, "a", "psnr-y", 30.0), ("m", 2, 0, "b", "psnr-y", math.inf),
            ("x", -1, 0, "a", "psnr-y", 1.0)]  # a method without steps is not part of a sweep
    cost = pd.DataFrame([{"dataset": "d", "clip": "a", "method": "m", "steps": 1, "seed": 0, "seconds": 2.0,
                          "frames": 10}, {"dataset": "d", "clip": "b", "method": "m", "steps": 1, "seed": 0,
                                          "seconds": 4.0, "frames": 20}])
    t = sweep_table(_results(rows), cost).set_index(["method", "steps", "metric"])
    assert t.loc[("m", 1, "psnr-y"), "mean"] == 23.0  # seed means 21 and 25
    assert t.loc[("m", 1, "psnr-y"), "std"] == pytest.approx(math.sqrt(8.0))  # sample std of (21, 25)
    assert t.loc[("m", 2, "psnr-y"), "mean"] == math.inf and t.loc[("m", 2, "psnr-y"), "std"] == 0.0
    assert t.loc[("m", 1, RUNTIME), "mean"] == pytest.approx(0.2)  # 6 s over 30 frames
    assert "x" not in t.index.get_level_values("method")


def test_sweep_plots_and_the_perception_distortion_view():
    rows = [(m, s, 0, "a", metric, v) for m, off in (("one", 0.0), ("two", 1.0)) for s in (1, 2, 4)
            for metric, v in (("psnr-y", 25 + s + off), ("lpips-alex", 0.4 - 0.05 * s), ("ssim-y", 0.7))]
    table = sweep_table(_results(rows))
    fig, axes = plot_sweep(table)
    assert [ax.get_title() for ax in axes.flat if ax.get_visible()] == ["psnr-y", "ssim-y", "lpips-alex"]
    assert [int(t) for t in axes.flat[0].get_xticks()] == [1, 2, 4]
    assert distortion_and_perception(["psnr-y", "ssim-y", "lpips-alex"]) == ("psnr-y", ["lpips-alex"])
    fig, axes = plot_perception_distortion(table, "psnr-y", ["lpips-alex"])
    ax = axes.flat[0]
    assert len(ax.lines) == 2 and sorted(t.get_text() for t in ax.texts) == ["1", "1", "2", "2", "4", "4"]
    assert ax.get_xlabel() == "psnr-y ↑" and ax.get_ylabel() == "lpips-alex ↓"
    with pytest.raises(InputError, match="perceptual"):
        plot_perception_distortion(table, "psnr-y", ["musiq"])
