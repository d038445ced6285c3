"""Where a run's pictures come from: the GT and LQ files and the method outputs at the paths the store recorded.

Scores live in the store; frames live on disk. At run start the runner snapshots each clip's GT and LQ paths; the
store's `method_runs` table records, for each restored clip, the folder of the cached output (or a precomputed
method's own files) and what it cost. A run that reused an output restored by an earlier run has no row of its own,
so the row of the run that restored it (same clip, method config, steps and seed) is used. Nothing here opens a
dataset or the live registry: what is gone from disk is reported as unavailable, the numbers stay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from vrbench.data.base import Clip
from vrbench.errors import VrbenchError
from vrbench.store import Store
from vrbench.video import Video, open_video

UNIT = ["dataset", "clip", "method", "config_hash", "steps", "seed"]
COST_COLUMNS = ["seconds", "frames", "peak_rss_mb", "peak_gpu_mb", "device", "output", "config", "warnings",
                "cost"]


def method_runs(store: Store, run: str, results: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per restored unit of the run's results: cost columns and the output folder (None if unknown)."""
    results = store.results_frame(run) if results is None else results
    units = results[[*UNIT, "method_name"]].drop_duplicates(UNIT)
    own = store.method_runs_frame(run)
    merged = units.merge(own[[*UNIT, *COST_COLUMNS]], on=UNIT, how="left") if not own.empty else units.assign(
        **{c: None for c in COST_COLUMNS})
    missing = merged["seconds"].isna()
    for i in merged.index[missing]:
        found = _restored_elsewhere(store, merged.loc[i])
        if found is not None:
            for c in COST_COLUMNS:
                merged.at[i, c] = found[c]
    return merged.reset_index(drop=True)


def _restored_elsewhere(store: Store, unit: pd.Series) -> dict[str, Any] | None:
    # the output cache is keyed by clip, method config, steps and seed, not by run, so any run's row describes it
    return store.method_run_elsewhere(unit["dataset"], unit["clip"], unit["config_hash"], int(unit["steps"]),
                                      int(unit["seed"]), COST_COLUMNS)


def run_media(store: Store, run: str) -> dict[str, Any]:
    """The run's record plus where its frames were at run start (`clips`: the store's clip snapshot)."""
    return {**store.run_info(run), "clips": store.snapshot(run, "clip")}


def dataset_clips(info: dict[str, Any], dataset: str) -> dict[str, Clip]:
    """The clips of `dataset` at the paths recorded at run start (`info["clips"]`: the store's clip snapshot)."""
    prefix = f"{dataset}/"
    clips = {}
    for key, record in info.get("clips", {}).items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix):]
        try:
            clips[name] = Clip(name, _open(record.get("gt"), name, record), _open(record.get("lq"), name, record))
        except (VrbenchError, OSError) as e:
            raise SourceUnavailable(f"frames of clip '{name}' of {dataset} are not readable here: {e}") from e
    if not clips:
        raise SourceUnavailable(f"no frames of dataset '{dataset}' recorded for this run, or none left on disk")
    return clips


def _open(path: str | None, name: str, record: dict[str, Any]) -> Video | None:
    if not path or not Path(path).exists():
        return None
    return open_video(Path(path), name=name, fps=record.get("fps"))


class SourceUnavailable(VrbenchError):
    """Frames a picture needs are not on this machine (the numbers are still in the store)."""


def output_video(unit: pd.Series, info: dict[str, Any], clip: Clip) -> Video:
    """The restored clip of one unit: its cached frame folder, or a precomputed method's own files."""
    recorded = unit.get("output")
    if isinstance(recorded, str) and recorded:
        path = Path(recorded)
        if (path / "frames").is_dir():
            return open_video(path / "frames", name=clip.name)
        if path.exists() and not (path / "done.json").exists():
            try:
                return open_video(path, name=clip.name)
            except (VrbenchError, OSError) as e:
                raise SourceUnavailable(f"output of {unit['method']} for {clip.name}: {e}") from e
    raise SourceUnavailable(f"no output of {unit['method']} for clip {clip.name} on this machine")
