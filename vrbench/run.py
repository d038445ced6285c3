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
from vrbench.methods.base import cache_policy, config_hash
from vrbench.methods.profiling import Cost, measure, record_output
from vrbench.metrics.engine import build_metrics, check_pair, deterministic_mode, evaluate_clip, pick_device
from vrbench.paths import work_dir
from vrbench.protocols import load_protocol
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
        done = 0
        for (dataset, clip), group in groups.items():
            self.on_progress(f"{dataset}/{clip}")
            self.run_clip(group)
            done += len(group)
            if progress:
                progress(done, len(units))
        self.summary.seconds = time.perf_counter() - t0
        return self.summary

    def run_clip(self, group: list[Unit]) -> None:
        """Restore what is missing for every method of one clip, then score them all in one pass."""
        pending: list[tuple[Unit, dict[str, Any], dict[str, str]]] = []
        outputs: dict[str, Video] = {}
        for unit in group:
            try:
                work = self._prepare_unit(unit)
                if work is not None:
                    key, cache_keys, output = work
                    pending.append((unit, key, cache_keys))
                    outputs[str(len(outputs))] = output
                else:
                    self._ok(unit)
            except (VrbenchError, ValueError, OSError, RuntimeError) as e:
                self._fail(unit.dataset, unit.clip.name, unit.entry.display, "restore", e)
        if not pending:
            return
        names = sorted({m for _, _, ck in pending for m in ck})
        try:
            scores = evaluate_clip(outputs, pending[0][0].clip.gt, {m: self.metrics.ready[m] for m in names},
                                   self.device, self.config.chunk, self.config.fast, self.protocol.crop_border)
        except (VrbenchError, ValueError, OSError, RuntimeError) as e:
            for unit, _, _ in pending:
                self._fail(unit.dataset, unit.clip.name, unit.entry.display, "evaluate", e)
            return
        for (unit, key, cache_keys), label in zip(pending, outputs, strict=True):
            rows = [self._row(key, unit, m, value, per_frame, cache_keys[m])
                    for m, (value, per_frame) in scores.values[label].items() if m in cache_keys]
            self.store.put_results(rows)
            self.summary.computed += len(rows)
            self._ok(unit)

    def _ok(self, unit: Unit) -> None:
        self.store.clear_failure(self.config.name, unit.dataset, unit.clip.name, unit.entry.display)

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
        config = {"name": unit.entry.name, **unit.method.config()}
        if self.protocol.colour_fix != "none":
            config["colour_fix"] = self.protocol.colour_fix
        return config

    def _prepare_unit(self, unit: Unit) -> tuple[dict[str, Any], dict[str, str], Video] | None:
        """Reuse stored values; if some are still missing, return (key, their cache keys, the restored output)."""
        clip = unit.clip
        if clip.lq is None:
            raise InputError("clip has no LQ input", clip=clip.name, dataset=unit.dataset,
                             expected="an LQ clip (or a dataset card that makes LQ from GT)", found="GT only")
        key = self._key(unit)
        wanted = {n: m for n, m in self.metrics.ready.items() if clip.gt is not None or not m.card.needs_gt}
        todo = sorted(set(wanted) - self.store.stored_metrics(**key))
        self.summary.cached += len(wanted) - len(todo)
        if not todo:
            return None
        input_hash = content_hash(clip.lq)
        gt_hash = content_hash(clip.gt) if clip.gt is not None else ""
        cache_keys = {m: self._cache_key(key, input_hash, gt_hash, wanted[m]) for m in todo}
        rows = [] if cache_policy(unit.method.card) == "fresh" else self._reuse(key, unit, cache_keys)
        if rows:
            self.store.put_results(rows)
        missing = {m: ck for m, ck in cache_keys.items() if m not in {r.metric for r in rows}}
        if not missing:
            return None
        output = self._restored(unit, key, input_hash)
        if clip.gt is not None:
            check_pair(output, clip.gt, clip.name, unit.dataset)
        return key, missing, output

    def _cache_key(self, key: dict[str, Any], input_hash: str, gt_hash: str, metric: Any) -> str:
        blob = json.dumps({"input": input_hash, "gt": gt_hash, "method": key["config_hash"], "steps": key["steps"],
                           "seed": key["seed"], "metric": metric.card.name, "version": metric.card.version,
                           "weights": metric.provenance().get("weights_sha256", {}),
                           "protocol": self.config.protocol}, sort_keys=True, default=str)
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

    # ---- restoring (with the on-disk output cache) ------------------------------------------------------------
    def _output_dir(self, unit: Unit, key: dict[str, Any], input_hash: str) -> Path:
        steps = "none" if unit.steps is None else str(unit.steps)
        return (self.outputs / unit.entry.name / key["config_hash"] / f"steps-{steps}" / f"seed-{key['seed']}"
                / input_hash[:16])

    def _restore_call(self, unit: Unit, lq: Video, scale: int) -> tuple[Video, Cost]:
        extra = {"gt": unit.clip.gt} if getattr(unit.method.card, "needs_gt", False) else {}
        with measure(unit.method, device=str(self.device)) as cost:
            output = unit.method.restore(lq, scale=scale, steps=unit.steps, seed=self.config.seed, **extra)
        return output, record_output(cost, output)

    def _colour_fixed(self, output: Video, lq: Video, unit: Unit) -> Video:
        if self.protocol.colour_fix == "none":
            return output
        from vrbench.colorfix import colour_fix

        return Video.from_array(colour_fix(output.read(), lq.read(), self.protocol.colour_fix), lq.fps,
                                unit.clip.name)

    def _restored(self, unit: Unit, key: dict[str, Any], input_hash: str) -> Video:
        lq, scale = unit.clip.lq, self._scale(unit)
        policy = cache_policy(unit.method.card)
        if policy == "none":  # precomputed outputs and sanity methods: nothing to cache
            output, _ = self._restore_call(unit, lq, scale)
            self._check_output(unit, output, scale)
            return self._colour_fixed(output, lq, unit)
        folder = self._output_dir(unit, key, input_hash)
        if policy == "fresh":  # stochastic and unseeded: a new draw every time, never reused silently
            folder = folder.with_name(f"{folder.name}-draw-{time.time_ns()}")
        elif (folder / "done.json").is_file():
            return open_video(folder / "frames", name=unit.clip.name, fps=lq.fps)
        output, cost = self._restore_call(unit, lq, scale)
        self._check_output(unit, output, scale)
        warnings = [c for c in output.conversions if c.startswith("warning")]
        output = self._colour_fixed(output, lq, unit)
        tmp = folder.with_name(folder.name + f".tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        write_frames(output.iter_chunks(), tmp / "frames")
        (tmp / "done.json").write_text(json.dumps({"config": self._method_config(unit), "cost": cost.to_dict(),
                                                   "warnings": warnings}, default=str))
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        release = getattr(unit.method, "release", None)
        if callable(release):
            release(output)  # command adapters drop their run folder once the frames are cached
        self.store.put_method_run(key, **cost.store_fields(), config=self._method_config(unit), output=str(folder),
                                  cost=json.dumps(cost.to_dict(), default=str), warnings=json.dumps(warnings))
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


def run_benchmark(config: RunConfig, store_path: Path | None = None, outputs: Path | None = None,
                  on_progress: Callable[[str], None] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> RunSummary:
    """Run a benchmark config end to end; results land in the store (default `.vrbench/results.sqlite`)."""
    with Store(store_path or work_dir() / "results.sqlite") as store:
        return Runner(config, store, outputs, on_progress).run(progress)
