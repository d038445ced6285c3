"""plan -> restore -> evaluate -> store, resumable.

Restoring and scoring are separate stages: method outputs are cached on disk under a key made of the input
clip's content hash, the method's name and configuration, the step count and the seed; metric values are
cached in the store under that key plus the metric's name, version and protocol. A re-run (or a run killed
half-way) recomputes only what is missing. A failing clip or method is recorded and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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
from vrbench.methods.base import config_hash
from vrbench.metrics.engine import build_metrics, check_pair, evaluate_clip, pick_device
from vrbench.paths import work_dir
from vrbench.registry import DATASETS, METHODS
from vrbench.store import NO_STEPS, ResultRow, Store
from vrbench.video import Video, list_frame_files, open_video, write_frames


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
        h.update(Path(video.path).read_bytes())
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

    # ---- planning ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        prov = provenance.collect(self.device, {"benchmark": self.config.seed})
        self.prov_id = provenance.provenance_id(prov)
        self.store.start_run(self.config.name, self.config.model_dump(), prov, self.prov_id)
        self.metrics = build_metrics(self.config.metrics, self.device)
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
                clips = DATASETS.create(ds.name, root=ds.root).clips()
            except VrbenchError as e:
                self._fail(ds.name, "*", "*", "load", e)
                continue
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
        for i, unit in enumerate(units):
            self.on_progress(f"{unit.dataset}/{unit.clip.name} · {unit.entry.display}")
            try:
                self.run_unit(unit)
                self.store.clear_failure(self.config.name, unit.dataset, unit.clip.name, unit.entry.display)
            except (VrbenchError, ValueError, OSError, RuntimeError) as e:
                self._fail(unit.dataset, unit.clip.name, unit.entry.display, "run", e)
            if progress:
                progress(i + 1, len(units))
        self.summary.seconds = time.perf_counter() - t0
        return self.summary

    def _fail(self, dataset: str, clip: str, method: str, stage: str, error: Exception) -> None:
        text = f"{type(error).__name__}: {error}"
        self.summary.failed.append({"dataset": dataset, "clip": clip, "method": method, "stage": stage,
                                    "error": text})
        self.store.record_failure(self.config.name, dataset, clip, method, stage, text)

    def _key(self, unit: Unit) -> dict[str, Any]:
        return {"run": self.config.name, "dataset": unit.dataset, "clip": unit.clip.name,
                "method": unit.entry.display, "config_hash": config_hash(self._method_config(unit)),
                "steps": NO_STEPS if unit.steps is None else unit.steps, "seed": self.config.seed}

    def _method_config(self, unit: Unit) -> dict[str, Any]:
        return {"name": unit.entry.name, **unit.method.config()}

    def run_unit(self, unit: Unit) -> None:
        clip = unit.clip
        if clip.lq is None:
            raise InputError("clip has no LQ input", clip=clip.name, dataset=unit.dataset,
                             expected="an LQ clip (or a dataset card that makes LQ from GT)", found="GT only")
        key = self._key(unit)
        wanted = {n: m for n, m in self.metrics.ready.items() if clip.gt is not None or not m.card.needs_gt}
        todo = sorted(set(wanted) - self.store.stored_metrics(**key))
        self.summary.cached += len(wanted) - len(todo)
        if not todo:
            return
        input_hash = content_hash(clip.lq)
        gt_hash = content_hash(clip.gt) if clip.gt is not None else ""
        cache_keys = {m: self._cache_key(key, input_hash, gt_hash, wanted[m]) for m in todo}
        rows = self._reuse(key, unit, cache_keys)
        missing = [m for m in todo if m not in {r.metric for r in rows}]
        if missing:
            output = self._restored(unit, key, input_hash)
            rows += self._evaluate(unit, key, output, {m: wanted[m] for m in missing}, cache_keys)
        self.store.put_results(rows)

    def _cache_key(self, key: dict[str, Any], input_hash: str, gt_hash: str, metric: Any) -> str:
        blob = json.dumps({"input": input_hash, "gt": gt_hash, "method": key["config_hash"], "steps": key["steps"],
                           "seed": key["seed"], "metric": metric.card.name, "version": metric.card.version,
                           "protocol": self.config.protocol}, sort_keys=True)
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

    def _evaluate(self, unit: Unit, key: dict[str, Any], output: Video, metrics: dict[str, Any],
                  cache_keys: dict[str, str]) -> list[ResultRow]:
        gt = unit.clip.gt
        if gt is not None:
            check_pair(output, gt, unit.clip.name, unit.dataset)
        per_frame = evaluate_clip(output, gt, metrics, self.device, self.config.chunk)
        rows = []
        for metric, values in per_frame.items():
            value = float(np.mean(values)) if len(values) else float("nan")
            rows.append(self._row(key, unit, metric, value, values, cache_keys[metric]))
        self.summary.computed += len(rows)
        return rows

    # ---- restoring (with the on-disk output cache) ------------------------------------------------------------
    def _output_dir(self, unit: Unit, key: dict[str, Any], input_hash: str) -> Path:
        steps = "none" if unit.steps is None else str(unit.steps)
        return (self.outputs / unit.entry.name / key["config_hash"] / f"steps-{steps}" / f"seed-{key['seed']}"
                / input_hash[:16])

    def _restored(self, unit: Unit, key: dict[str, Any], input_hash: str) -> Video:
        lq, scale = unit.clip.lq, self._scale(unit)
        if unit.method.card.kind == "precomputed":
            output = unit.method.restore(lq, scale=scale, steps=unit.steps, seed=self.config.seed)
            self._check_output(unit, output, scale)
            return output
        folder = self._output_dir(unit, key, input_hash)
        if (folder / "done.json").is_file():
            return open_video(folder / "frames", name=unit.clip.name, fps=lq.fps)
        t0 = time.perf_counter()
        output = unit.method.restore(lq, scale=scale, steps=unit.steps, seed=self.config.seed)
        seconds = time.perf_counter() - t0
        self._check_output(unit, output, scale)
        tmp = folder.with_name(folder.name + f".tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        write_frames(output.iter_chunks(), tmp / "frames")
        (tmp / "done.json").write_text(json.dumps({"config": self._method_config(unit), "seconds": seconds}))
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        self._record_cost(unit, key, output, seconds, folder)
        return open_video(folder / "frames", name=unit.clip.name, fps=lq.fps)

    def _scale(self, unit: Unit) -> int:
        card = DATASETS.card(unit.dataset)
        return unit.method.card.scale or card.scale

    def _check_output(self, unit: Unit, output: Video, scale: int) -> None:
        lq, gt, name = unit.clip.lq, unit.clip.gt, unit.clip.name
        want_frames = gt.num_frames if gt is not None else lq.num_frames
        want_size = gt.size if gt is not None else (lq.height * scale, lq.width * scale)
        where = output.path if output.path is not None else f"output of {unit.entry.display}"
        if output.num_frames != want_frames:
            raise InputError("wrong number of output frames", clip=name, dataset=unit.dataset, file=where,
                             expected=f"{want_frames} frames", found=f"{output.num_frames} frames")
        if output.size != want_size:
            raise InputError("wrong output size", clip=name, dataset=unit.dataset, file=where,
                             expected=f"{want_size[1]}x{want_size[0]} (x{scale} of the LQ)",
                             found=f"{output.width}x{output.height}")

    def _record_cost(self, unit: Unit, key: dict[str, Any], output: Video, seconds: float, folder: Path) -> None:
        import resource

        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        self.store.put_method_run(key, seconds=seconds, frames=output.num_frames, out_height=output.height,
                                  out_width=output.width, peak_rss_mb=rss_mb, peak_gpu_mb=None,
                                  device=str(self.device), config=self._method_config(unit), output=str(folder))


def run_benchmark(config: RunConfig, store_path: Path | None = None, outputs: Path | None = None,
                  on_progress: Callable[[str], None] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> RunSummary:
    """Run a benchmark config end to end; results land in the store (default `.vrbench/results.sqlite`)."""
    with Store(store_path or work_dir() / "results.sqlite") as store:
        return Runner(config, store, outputs, on_progress).run(progress)
