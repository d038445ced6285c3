"""plan -> restore -> evaluate -> store, resumable.

Restoring and scoring are separate stages: method outputs are cached on disk under a key made of the input
clip's content hash, the method's name and configuration, the step count and the seed; metric values are
cached in the store under that key plus the metric's name, version and protocol. A re-run (or a run killed
half-way) recomputes only what is missing. A failing clip or method is recorded and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vrbench import provenance
from vrbench.config import MethodEntry, RunConfig
from vrbench.data.base import Clip
from vrbench.errors import InputError, VrbenchError
from vrbench.executors import make_executor
from vrbench.methods.base import cache_policy, config_hash
from vrbench.metrics.engine import build_metrics, deterministic_mode, pick_device
from vrbench.paths import work_dir
from vrbench.protocols import load_protocol
from vrbench.registry import DATASETS, METHODS
from vrbench.store import NO_STEPS, ResultRow, Store
from vrbench.video import Video, list_frame_files
from vrbench.worker import ClipResult, ClipTask, TaskItem, method_config


@dataclass
class RunSummary:
    run: str
    computed: int = 0
    cached: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def content_hash(video: Video) -> str:
    """sha256 over the bytes of the clip's files (frame files in order, or the container file)."""
    h = hashlib.sha256()
    if video.array is not None:
        h.update(np.ascontiguousarray(video.array).tobytes())
    elif video.path is not None and video.path.is_dir():
        for f in list_frame_files(video.path):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    else:
        with open(video.path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    return h.hexdigest()


@dataclass
class Unit:
    """One (dataset, clip, method, steps) cell of the plan."""

    dataset: str
    clip: Clip
    entry: MethodEntry
    method: Any
    steps: int | None


class Runner:
    """Executes a `RunConfig` against a `Store`, locally, one unit at a time."""

    def __init__(self, config: RunConfig, store: Store, outputs: Path | None = None,
                 on_progress: Callable[[str], None] | None = None) -> None:
        self.config, self.store = config, store
        self.outputs = outputs or work_dir() / "outputs"
        self.on_progress = on_progress or (lambda _msg: None)
        self.summary = RunSummary(config.name)
        self.device = pick_device(config.device)
        self.executor, self.workers, self.address = "local", 1, None

    # ---- planning ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        deterministic_mode(self.device)
        self.protocol = load_protocol(self.config.protocol)
        self.metrics = build_metrics(self.config.metrics or list(self.protocol.metrics), self.device)
        prov = provenance.collect(self.device, {"benchmark": self.config.seed})
        prov["metrics"] = {n: m.provenance() for n, m in self.metrics.ready.items()}
        prov["protocol"] = self.protocol.to_dict()
        self.prov_id = provenance.provenance_id(prov)
        self.store.start_run(self.config.name, self.config.model_dump(), prov, self.prov_id)
        for name, err in self.metrics.unavailable.items():
            self.summary.unavailable[name] = err.reason
            self.store.record_unavailable(self.config.name, name, err.reason, err.files)

    def plan(self) -> list[Unit]:
        methods = []
        for entry in self.config.methods:
            try:
                methods.append((entry, METHODS.create(entry.name, **entry.options)))
            except VrbenchError as e:
                self._fail("*", "*", entry.display, "setup", e)
        units = []
        for ds in self.config.datasets:
            try:
                dataset = DATASETS.create(ds.name, root=ds.root)
                clips = dataset.clips()
            except VrbenchError as e:
                self._fail(ds.name, "*", "*", "load", e)
                continue
            for problem in getattr(dataset, "problems", []):  # clips the loader left out, one error each
                if ds.clips is None or problem.clip in ds.clips:
                    self._fail(ds.name, problem.clip, "*", "load", problem.error)
            clips = [c for c in clips if ds.clips is None or c.name in ds.clips]
            for clip in clips:
                for entry, method in methods:
                    units.extend(Unit(ds.name, clip, entry, method, s) for s in entry.steps)
        return units

    # ---- execution --------------------------------------------------------------------------------------------
    def run(self, progress: Callable[[int, int], None] | None = None) -> RunSummary:
        t0 = time.perf_counter()
        self.start()
        units = self.plan()
        groups: dict[tuple[str, str], list[Unit]] = {}
        for unit in units:
            groups.setdefault((unit.dataset, unit.clip.name), []).append(unit)
        tasks = []
        for group in groups.values():
            task = self.plan_clip(group)
            if task is not None:
                tasks.append((task, len(group)))
        done = sum(len(g) for g in groups.values()) - sum(n for _, n in tasks)
        if progress:
            progress(done, len(units))
        with make_executor(self.executor, self.config, self.outputs, self.workers, self.address) as ex:
            for (task, n), result in ex.map([t for t, _ in tasks], [n for _, n in tasks]):
                self.on_progress(f"{task.dataset}/{task.clip.name}")
                self.commit(result)
                done += n
                if progress:
                    progress(done, len(units))
        self.summary.seconds = time.perf_counter() - t0
        return self.summary

    def plan_clip(self, group: list[Unit]) -> ClipTask | None:
        """Reuse what the store already has; return the work left for this clip (None if nothing is left)."""
        items = []
        for unit in group:
            try:
                item = self._plan_unit(unit)
            except (VrbenchError, ValueError, OSError) as e:
                self._fail(unit.dataset, unit.clip.name, unit.entry.display, "plan", e)
                continue
            if item is None:
                self._ok(unit)
            else:
                items.append(item)
        if not items:
            return None
        max_shift = getattr(DATASETS.card(group[0].dataset), "max_shift", 0)
        return ClipTask(group[0].dataset, self._scale(group[0]), group[0].clip, items, self.prov_id, max_shift)

    def commit(self, result: ClipResult) -> None:
        """The single writer: one transaction per unit of work."""
        for key, fields in result.method_runs:
            self.store.put_method_run(key, **fields)
        for key, alignment in result.alignments:
            self.store.put_alignment(key, alignment)
        by_unit: dict[tuple, list[ResultRow]] = {}
        for row in result.rows:
            by_unit.setdefault((row.dataset, row.clip, row.method, row.config_hash, row.steps), []).append(row)
        for rows in by_unit.values():
            self.store.put_results(rows)
            self.summary.computed += len(rows)
        for key in result.done:
            self.store.clear_failure(self.config.name, key["dataset"], key["clip"], key["method"])
        for f in result.failures:
            self.summary.failed.append(f)
            self.store.record_failure(self.config.name, f["dataset"], f["clip"], f["method"], f["stage"], f["error"])

    def _ok(self, unit: Unit) -> None:
        self.store.clear_failure(self.config.name, unit.dataset, unit.clip.name, unit.entry.display)

    def _fail(self, dataset: str, clip: str, method: str, stage: str, error: Exception) -> None:
        text = f"{type(error).__name__}: {error}"
        self.summary.failed.append({"dataset": dataset, "clip": clip, "method": method, "stage": stage,
                                    "error": text})
        self.store.record_failure(self.config.name, dataset, clip, method, stage, text)

    def _key(self, unit: Unit) -> dict[str, Any]:
        return {"run": self.config.name, "dataset": unit.dataset, "clip": unit.clip.name,
                "method": unit.entry.display,
                "config_hash": config_hash(method_config(unit.entry, unit.method, self.protocol.colour_fix)),
                "steps": NO_STEPS if unit.steps is None else unit.steps, "seed": self.config.seed}

    def _plan_unit(self, unit: Unit) -> TaskItem | None:
        """Reuse stored values; return the work item for the values still missing, or None."""
        clip = unit.clip
        if clip.lq is None:
            raise InputError("clip has no LQ input", clip=clip.name, dataset=unit.dataset,
                             expected="an LQ clip (or a dataset card that makes LQ from GT)", found="GT only")
        key = self._key(unit)
        wanted = {n: m for n, m in self.metrics.ready.items() if clip.gt is not None or not m.card.needs_gt}
        input_hash = content_hash(clip.lq)
        gt_hash = content_hash(clip.gt) if clip.gt is not None else ""
        expected = {m: self._cache_key(key, input_hash, gt_hash, wanted[m]) for m in wanted}
        stored = self.store.stored_metrics(**key)
        todo = sorted(m for m in wanted if stored.get(m) != expected[m])
        self.summary.cached += len(wanted) - len(todo)
        if not todo:
            return None
        cache_keys = {m: expected[m] for m in todo}
        rows = [] if cache_policy(unit.method.card) == "fresh" else self._reuse(key, unit, cache_keys)
        if rows:
            self.store.put_results(rows)
        missing = {m: ck for m, ck in cache_keys.items() if m not in {r.metric for r in rows}}
        if not missing:
            return None
        return TaskItem(unit.entry, unit.steps, key, missing, input_hash)

    def _cache_key(self, key: dict[str, Any], input_hash: str, gt_hash: str, metric: Any) -> str:
        blob = json.dumps({"input": input_hash, "gt": gt_hash, "method": key["config_hash"], "steps": key["steps"],
                           "seed": key["seed"], "metric": metric.card.name, "version": metric.card.version,
                           "weights": metric.provenance().get("weights_sha256", {}),
                           "protocol": self.config.protocol,
                           "geometry": [self.config.output_rule, self.config.geometry, self.config.anchor,
                                        self.config.shift_search]}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _row(self, key: dict[str, Any], unit: Unit, metric: str, value: float, per_frame: np.ndarray | None,
             cache_key: str) -> ResultRow:
        card = self.metrics.ready[metric].card
        return ResultRow(**key, metric=metric, value=value, per_frame=per_frame, metric_version=card.version,
                         protocol=self.config.protocol, method_name=unit.entry.name, cache_key=cache_key,
                         provenance=self.prov_id)

    def _reuse(self, key: dict[str, Any], unit: Unit, cache_keys: dict[str, str]) -> list[ResultRow]:
        rows = []
        for metric, ck in cache_keys.items():
            hit = self.store.cached(ck)
            if hit is not None:
                rows.append(self._row(key, unit, metric, hit[0], hit[1], ck))
        self.summary.cached += len(rows)
        return rows

    def _scale(self, unit: Unit) -> int:
        card = DATASETS.card(unit.dataset)
        return unit.method.card.scale or card.scale


def run_benchmark(config: RunConfig, store_path: Path | None = None, outputs: Path | None = None,
                  on_progress: Callable[[str], None] | None = None,
                  progress: Callable[[int, int], None] | None = None, *, executor: str = "local",
                  workers: int = 1, address: str | None = None) -> RunSummary:
    """Run a benchmark config end to end; results land in the store (default `.vrbench/results.sqlite`).

    `executor="local"` runs in this process (`workers` > 1: that many worker processes, one per GPU when
    there are GPUs); `executor="ray"` schedules one task per clip on a Ray cluster (`address`, default: a
    local one). Results are the same numbers whichever executor computes them.
    """
    with Store(store_path or work_dir() / "results.sqlite") as store:
        runner = Runner(config, store, outputs, on_progress)
        runner.executor, runner.workers, runner.address = executor, workers, address
        return runner.run(progress)
