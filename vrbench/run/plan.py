"""The plan of a run, as pure functions: a config, the resolved methods, metrics and datasets, and a read-only
store in; typed `Job`s (grouped per clip as `ClipTask`s), values to reuse and planning failures out.

Nothing here writes: the runner commits what the plan says to reuse, and the executors run its tasks. Steps and
seeds are both plan axes: a config with `seeds: [0, 1, 2]` plans every (clip, method, steps, seed) unit under one
run record. Conventions come from the protocol card unless the config overrides them, and are part of every cache
key, so a number is never reused under a convention it was not computed with.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from vrbench.config import MethodEntry, RunConfig
from vrbench.data.base import Clip
from vrbench.errors import InputError
from vrbench.methods.base import cache_policy, config_hash
from vrbench.store import NO_STEPS, ResultRow, Store, UnitKey
from vrbench.video import Video, list_frame_files


# ---- resolved pieces of a config ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Conventions:
    """How outputs are compared with the GT: the protocol card's values, each overridable in the config."""

    protocol: str
    colour_fix: str = "none"
    crop_border: int = 0
    output_rule: str = "scale"
    geometry: str = "error"
    anchor: str = "top-left"
    shift_search: bool = False
    resize_filter: str = "bicubic"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_conventions(config: RunConfig, protocol: Any) -> Conventions:
    """The protocol's conventions, with every value the config sets explicitly taking precedence."""

    def pick(name: str) -> Any:
        value = getattr(config, name)
        return getattr(protocol, name) if value is None else value

    return Conventions(protocol.name, protocol.colour_fix, pick("crop_border"), pick("output_rule"),
                       pick("geometry"), pick("anchor"), bool(config.shift_search), config.resize_filter or "bicubic")


@dataclass(frozen=True)
class MethodPlan:
    """One method entry of the config, resolved once: its card, options and the hash of its full configuration."""

    label: str
    name: str
    options: dict[str, Any]
    card: Any
    config: dict[str, Any]
    config_hash: str
    steps: tuple[int | None, ...]
    conventions: Conventions  # the run's, with this method's own geometry (published outputs) applied
    geometry: dict[str, Any] = field(default_factory=dict)  # the method entry's own geometry keys
    # precomputed outputs: clip name -> sha256 of that clip's output as it is on disk now (see `content_key_of`)
    content_key: Callable[[str], str] | None = field(default=None, compare=False, repr=False)

    @property
    def policy(self) -> str:
        return cache_policy(self.card)

    @property
    def entry(self) -> MethodEntry:
        return MethodEntry(name=self.name, label=self.label, options=self.options, steps=list(self.steps),
                           **self.geometry)


def method_plan(entry: MethodEntry, method: Any, conventions: Conventions) -> MethodPlan:
    config = {"name": entry.name, **method.config()}
    if conventions.colour_fix != "none":
        config["colour_fix"] = conventions.colour_fix
    own = entry.geometry_overrides()
    return MethodPlan(entry.display, entry.name, dict(entry.options), method.card, config, config_hash(config),
                      tuple(entry.steps), replace(conventions, **own), own, content_key_of(entry, method))


def content_key_of(entry: MethodEntry, method: Any) -> Callable[[str], str] | None:
    """Precomputed outputs exist before the run and can be replaced between runs, so their content, not their
    path, is part of their values' cache key: a precomputed adapter provides `content_key(clip) -> sha256`."""
    if method.card.kind != "precomputed":
        return None
    if not callable(getattr(method, "content_key", None)):
        raise InputError(f"precomputed method '{entry.name}' cannot say what its outputs hold",
                         expected="a content_key(clip) method returning the sha256 of the clip's output",
                         found=type(method).__name__)
    return method.content_key


@dataclass(frozen=True)
class MetricPlan:
    """A metric that is ready on this machine: its card and what identifies its values (version, weights)."""

    name: str
    card: Any
    weights: dict[str, Any]
    #: weight file -> the door it came through (publisher URL or PyPI package); recorded, never part of a cache key
    sources: dict[str, Any] = field(default_factory=dict)
    #: which code computed the values on this device (e.g. "vrbench CPU (OpenCV)" or "vmaf-torch"); recorded only
    implementation: str = ""

    @classmethod
    def of(cls, metric: Any) -> MetricPlan:
        prov = metric.provenance()
        return cls(metric.card.name, metric.card, dict(prov.get("weights_sha256", {})),
                   dict(prov.get("weights_source", {})), str(prov.get("implementation", "")))


@dataclass(frozen=True)
class DatasetPlan:
    """A dataset entry of the config, opened: the clips to run (headers only) and those the loader left out."""

    name: str
    clips: tuple[Clip, ...]
    problems: tuple[Any, ...]
    scale: int
    max_shift: int


# ---- units of work ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One (dataset, clip, method, steps, seed) unit whose metrics `missing` (metric -> cache key) are still due."""

    key: UnitKey
    method: MethodPlan
    steps: int | None
    seed: int
    input_hash: str
    missing: dict[str, str]


@dataclass(frozen=True)
class ClipTask:
    """Every job of one clip: they share the decoded GT, so an executor runs them together."""

    dataset: str
    clip: Clip
    scale: int
    max_shift: int
    jobs: tuple[Job, ...]
    conventions: Conventions
    provenance: str


@dataclass(frozen=True)
class Failure:
    """A unit (or a whole dataset, clip or method: `*`) that could not be computed, and why, in one line."""

    dataset: str
    clip: str
    method: str
    stage: str
    error: str
    key: UnitKey | None = None  # the one unit that failed, when it is one unit

    @classmethod
    def of(cls, dataset: str, clip: str, method: str, stage: str, error: BaseException,
           key: UnitKey | None = None) -> Failure:
        return cls(dataset, clip, method, stage, f"{type(error).__name__}: {error}", key)

    @classmethod
    def of_job(cls, job: Job, stage: str, error: BaseException) -> Failure:
        return cls.of(job.key.dataset, job.key.clip, job.key.method, stage, error, job.key)

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if k != "key"}


def result_row(job: Job, metric: MetricPlan, value: float, per_frame: np.ndarray | None, protocol: str,
               provenance: str) -> ResultRow:
    """The one place a stored value is assembled."""
    return ResultRow(**job.key.as_dict(), metric=metric.name, value=value, per_frame=per_frame,
                     metric_version=metric.card.version, protocol=protocol, method_name=job.method.name,
                     cache_key=job.missing[metric.name], provenance=provenance)


@dataclass
class Plan:
    tasks: list[ClipTask] = field(default_factory=list)
    reuse: list[ResultRow] = field(default_factory=list)  # values stored by another run under the same cache key
    clean: list[Job] = field(default_factory=list)  # units with nothing left to compute (`missing` empty)
    failures: list[Failure] = field(default_factory=list)
    provenance: str = ""
    stored: int = 0  # values this run already holds
    counts: Counter = field(default_factory=Counter)  # (dataset, method, state) -> values; state: cached | todo
    not_applicable: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # dataset -> metric -> clips

    @property
    def units(self) -> int:
        return sum(len(t.jobs) for t in self.tasks) + len(self.clean)

    @property
    def to_compute(self) -> int:
        return sum(len(j.missing) for t in self.tasks for j in t.jobs)


# ---- content hashes -----------------------------------------------------------------------------------------------
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


def cache_key(input_hash: str, gt_hash: str, method: MethodPlan, steps: int, seed: int, metric: MetricPlan,
              conventions: Conventions, output_hash: str = "", fast: bool = False) -> str:
    """A value's identity: what went in (clip, method config, steps, seed; for precomputed outputs their content),
    how it was measured (metric, version, weights) and under which conventions."""
    fields = {"input": input_hash, "gt": gt_hash, "method": method.config_hash, "steps": steps, "seed": seed,
              "metric": metric.name, "version": metric.card.version, "weights": metric.weights,
              "conventions": conventions.to_dict()}
    if output_hash:  # only for precomputed outputs, so the keys of every other method stay as they were
        fields["output"] = output_hash
    if fast:  # bf16/fp16 autocast moves learned metrics by up to ~1e-2: never mixed with full-precision values
        fields["fast"] = True
    blob = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


# ---- planning ---------------------------------------------------------------------------------------------------
def make_plan(config: RunConfig, conventions: Conventions, methods: list[MethodPlan], metrics: list[MetricPlan],
              datasets: list[DatasetPlan], store: Store, provenance: str) -> Plan:
    """Every unit of the config against what `store` already holds (read only)."""
    plan = Plan(provenance=provenance)
    for ds in datasets:
        for problem in ds.problems:  # clips the loader left out, one failure each
            plan.failures.append(Failure.of(ds.name, problem.clip, "*", "load", problem.error))
        for clip in ds.clips:
            jobs = _clip_jobs(config, conventions, methods, metrics, ds, clip, store, plan)
            if jobs:
                plan.tasks.append(ClipTask(ds.name, clip, ds.scale, ds.max_shift, tuple(jobs), conventions,
                                           provenance))
    return plan


def _clip_jobs(config: RunConfig, conventions: Conventions, methods: list[MethodPlan], metrics: list[MetricPlan],
               ds: DatasetPlan, clip: Clip, store: Store, plan: Plan) -> list[Job]:
    if clip.lq is None:
        error = InputError("clip has no LQ input", clip=clip.name, dataset=ds.name,
                           expected="an LQ clip (or a dataset card that makes LQ from GT)", found="GT only")
        plan.failures.extend(Failure.of(ds.name, clip.name, m.label, "plan", error) for m in methods)
        return []
    try:
        input_hash = content_hash(clip.lq)
        gt_hash = content_hash(clip.gt) if clip.gt is not None else ""
    except OSError as e:
        plan.failures.extend(Failure.of(ds.name, clip.name, m.label, "plan", e) for m in methods)
        return []
    wanted = [m for m in metrics if clip.gt is not None or not m.card.needs_gt]
    for m in metrics:
        if m not in wanted:  # said in the summary and the report, never dropped silently
            plan.not_applicable.setdefault(ds.name, {}).setdefault(m.name, []).append(clip.name)
    jobs = []
    for method in methods:
        try:  # no metric applies to this clip: its output is never read, so it is not looked for either
            output_hash = method.content_key(clip.name) if method.content_key and wanted else ""
        except (InputError, OSError) as e:  # the output is missing or unreadable: the same failure restoring gives
            plan.failures.append(Failure.of(ds.name, clip.name, method.label, "restore", e))
            continue
        for steps in method.steps:
            for seed in config.seed_list:
                stored_steps = NO_STEPS if steps is None else steps
                key = UnitKey(config.name, ds.name, clip.name, method.label, method.config_hash, stored_steps, seed)
                expected = {m.name: cache_key(input_hash, gt_hash, method, stored_steps, seed, m,
                                              method.conventions, output_hash, config.fast) for m in wanted}
                job = _job(key, method, steps, seed, input_hash, expected, {m.name: m for m in wanted}, store,
                           conventions, plan)
                if job is None:
                    plan.clean.append(Job(key, method, steps, seed, input_hash, {}))
                else:
                    jobs.append(job)
    return jobs


def _job(key: UnitKey, method: MethodPlan, steps: int | None, seed: int, input_hash: str, expected: dict[str, str],
         metrics: dict[str, MetricPlan], store: Store, conventions: Conventions, plan: Plan) -> Job | None:
    """The job for the values of one unit still missing (None if nothing is), after reuse from other runs."""
    stored = store.stored_metrics(**key.as_dict())
    todo = {m: ck for m, ck in expected.items() if stored.get(m) != ck}
    plan.stored += len(expected) - len(todo)
    plan.counts[(key.dataset, key.method, "cached")] += len(expected) - len(todo)
    if todo and method.policy != "fresh":  # a fresh draw is never reused, not even its scores
        job = Job(key, method, steps, seed, input_hash, todo)
        for m, ck in list(todo.items()):
            hit = store.cached(ck)
            if hit is not None:
                plan.reuse.append(result_row(job, metrics[m], hit[0], hit[1], conventions.protocol, plan.provenance))
                plan.counts[(key.dataset, key.method, "cached")] += 1
                del todo[m]
    plan.counts[(key.dataset, key.method, "todo")] += len(todo)
    return Job(key, method, steps, seed, input_hash, todo) if todo else None
