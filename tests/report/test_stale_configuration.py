"""A run stored before vrbench refused a changed method configuration may hold values of two configurations of one
method; the tables use the configuration the run's snapshot records and say what they left out."""

import pandas as pd

from vrbench.report.html import current_configuration


def _rows(config_hash: str, values: list[float], method: str = "satb") -> list[dict]:
    return [{"method": method, "steps": 1, "clip": f"c{i}", "metric": "psnr-y", "config_hash": config_hash,
             "value": v} for i, v in enumerate(values)]


def test_only_the_snapshotted_configuration_is_averaged_and_the_rest_is_named():
    df = pd.DataFrame(_rows("old", [20.0, 21.0]) + _rows("new", [24.0, 25.0])
                      + _rows("b1", [23.0], method="bicubic"))
    kept, stale = current_configuration(df, {"satb": {"config_hash": "new"}, "bicubic": {"config_hash": "b1"}})
    assert sorted(kept["config_hash"]) == ["b1", "new", "new"]
    assert kept[kept.method == "satb"]["value"].mean() == 24.5  # not 22.5, the mix of both configurations
    assert list(stale) == ["satb (1 step)"]
    assert "2 stored value(s) of an earlier configuration" in stale["satb (1 step)"][0]
    assert "config old" in stale["satb (1 step)"][0]


def test_runs_without_a_method_snapshot_are_left_as_they_are():
    df = pd.DataFrame(_rows("old", [20.0]) + _rows("new", [24.0]))
    kept, stale = current_configuration(df, {})
    assert len(kept) == 2 and stale == {}
