"""Where a run's pictures come from: the dataset's GT and LQ clips and the cached method outputs.

Scores live in the store; frames live on disk. The store's `method_runs` table records, for each restored clip,
the folder of the cached output and what it cost. A run that reused an output restored by an earlier run has no
row of its own, so the row of the run that restored it (same clip, method config, steps and seed) is used.
Precomputed methods (kind "precomputed", e.g. `folder`) are opened again from their configured root.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from vrbench.data.base import Clip
from vrbench.errors import VrbenchError
from vrbench.registry import DATASETS, METHODS
from vrbench.store import Store
from vrbench.video import Video, open_video

UNIT = ["dataset", "clip", "method", "config_hash", "steps", "seed"]
COST_COLUMNS = ["seconds", "frames", "peak_rss_mb", "peak_gpu_mb", "device", "output", "config"]


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
    row = store.db.execute(
        f"SELECT {', '.join(COST_COLUMNS)} FROM method_runs WHERE dataset=? AND clip=? AND config_hash=? "
        "AND steps=? AND seed=? ORDER BY created DESC LIMIT 1",
        (unit["dataset"], unit["clip"], unit["config_hash"], int(unit["steps"]), int(unit["seed"]))).fetchone()
    return None if row is None else dict(zip(COST_COLUMNS, row, strict=True))


def dataset_clips(info: dict[str, Any], dataset: str) -> dict[str, Clip]:
    """The clips of `dataset` as the run's config named it (its root, if any); {} if it cannot be opened."""
    entries = [d for d in info.get("config", {}).get("datasets", []) if d.get("name") == dataset]
    root = entries[0].get("root") if entries else None
    try:
        return {c.name: c for c in DATASETS.create(dataset, root=root).clips()}
    except (VrbenchError, OSError) as e:
        raise SourceUnavailable(f"dataset '{dataset}' cannot be opened: {e}") from e


class SourceUnavailable(VrbenchError):
    """Frames a picture needs are not on this machine (the numbers are still in the store)."""


def output_video(unit: pd.Series, info: dict[str, Any], clip: Clip) -> Video:
    """The restored clip of one unit: its cached frame folder, or a precomputed method's own file."""
    folder = unit.get("output")
    if isinstance(folder, str) and folder and (Path(folder) / "frames").is_dir():
        return open_video(Path(folder) / "frames", name=clip.name)
    name = unit["method_name"]
    if name in METHODS and METHODS.card(name).kind == "precomputed" and clip.lq is not None:
        options = _method_options(info, unit["method"], name)
        try:
            method = METHODS.create(name, **options)
            return method.restore(clip.lq, scale=_scale(unit["dataset"]), steps=None, seed=int(unit["seed"]))
        except (VrbenchError, OSError) as e:
            raise SourceUnavailable(f"output of {unit['method']} for {clip.name}: {e}") from e
    raise SourceUnavailable(f"no cached output of {unit['method']} for clip {clip.name} on this machine")


def _method_options(info: dict[str, Any], label: str, name: str) -> dict[str, Any]:
    for entry in info.get("config", {}).get("methods", []):
        if isinstance(entry, dict) and (entry.get("label") or entry.get("name")) == label:
            return dict(entry.get("options") or {})
    return {}


def _scale(dataset: str) -> int:
    return DATASETS.card(dataset).scale if dataset in DATASETS else 4


def manifests(info: dict[str, Any]) -> dict[str, Any]:
    """Per dataset: the manifest's hash and the per-clip degradation records, for the provenance panel."""
    import hashlib

    out = {}
    for entry in info.get("config", {}).get("datasets", []):
        name = entry.get("name")
        try:
            ds = DATASETS.create(name, root=entry.get("root"))
            manifest = ds.manifest()
        except (VrbenchError, OSError) as e:
            out[name] = {"error": str(e)}
            continue
        blob = json.dumps(manifest, sort_keys=True).encode()
        out[name] = {"sha256": hashlib.sha256(blob).hexdigest() if manifest else "",
                     "clips": {c: {k: v for k, v in rec.items() if k != "files"}
                               for c, rec in manifest.get("clips", {}).items()},
                     "root": str(getattr(ds, "root", ""))}
    return out
