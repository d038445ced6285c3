"""A run end to end: resolve the config once, snapshot what the report will need, plan against the store, hand the
clip tasks to an executor and commit what comes back, as the store's single writer.

Restoring and scoring are separate stages: method outputs are cached on disk under a key made of the input clip's
content hash, the method's configuration, the step count and the seed; metric values are cached in the store under
that key plus the metric's name, version, weights and the run's conventions. A re-run (or a run killed half-way)
computes only what is missing. A failing clip or method is recorded and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vrbench import provenance
from vrbench.config import RunConfig
from vrbench.errors import InputError, VrbenchError
from vrbench.paths import work_dir
from vrbench.run.executors import make_executor
from vrbench.run.plan import (
    Conventions,
    DatasetPlan,
    Failure,
    MethodPlan,
    MetricPlan,
    Plan,
    make_plan,
    method_plan,
    resolve_conventions,
)
from vrbench.run.worker import ClipOutcome, build_method, build_metrics_once
from vrbench.store import Store


@dataclass
class RunSummary:
    run: str
    computed: int = 0
    cached: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    not_applicable: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # dataset -> metric -> clips
    warnings: list[dict[str, str]] = field(default_factory=list)  # dataset, clip, method, warning
    archived: str = ""  # with --replace: the name the run's previous record was archived under

    @property
    def ok(self) -> bool:
        """Everything planned was computed or reused, and there was something to compute or reuse."""
        return not self.failed and self.computed + self.cached > 0


@dataclass
class Resolved:
    """A config resolved once: conventions, ready metrics, built methods and opened datasets."""

    conventions: Conventions
    metrics: list[MetricPlan]
    unavailable: dict[str, Any]
    methods: list[MethodPlan]
    datasets: list[DatasetPlan]
    failures: list[Failure]


def resolve(config: RunConfig, device: Any) -> Resolved:
    """Every name of the config looked up and built (once per process); what cannot be set up becomes a failure."""
    from vrbench.protocols import PROTOCOLS

    protocol = PROTOCOLS.create(config.protocol)
    conventions = resolve_conventions(config, protocol)
    metric_set = build_metrics_once(config.metrics or list(protocol.metrics), device)
    failures: list[Failure] = []
    methods = []
    for entry in config.methods:
        check_method_entry(entry)  # impossible values stop the run before anything is written (exit code 2)
        try:
            methods.append(method_plan(entry, build_method(entry), conventions))
        except InputError:
            raise  # bad options or paths in the config: a usage error, nothing ran
        except (VrbenchError, ValueError, OSError) as e:  # an unknown or broken method: recorded, the run goes on
            failures.append(Failure.of("*", "*", entry.display, "setup", e))
    return Resolved(conventions, [MetricPlan.of(m) for m in metric_set.ready.values()], metric_set.unavailable,
                    methods, _open_datasets(config, failures), failures)


def check_method_entry(entry: Any) -> None:
    """Steps only for methods that have them; options only the ones the method's factory takes (with "did you
    mean"). An unknown method name is left to the run, which records it as a failure."""
    import difflib
    import inspect

    from vrbench.registry import METHODS

    if entry.name not in METHODS:
        return
    card, factory = METHODS.card(entry.name), METHODS.entry(entry.name).factory
    asked = [s for s in entry.steps if s is not None]
    if asked and not card.supports_steps:
        raise InputError(f"method '{entry.name}' has no step count", expected="steps only for a method whose card "
                         "says supports_steps (each count would compute the same output again)", found=asked)
    params = inspect.signature(factory).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return  # the factory checks its own options
    known = [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for option in entry.options:
        if option not in known:
            close = difflib.get_close_matches(option, known, n=1)
            raise InputError(f"unknown option for method '{entry.name}'", expected=known or "no options",
                             found=option, hint=f"did you mean '{close[0]}'?" if close else None)


def _open_datasets(config: RunConfig, failures: list[Failure]) -> list[DatasetPlan]:
    from vrbench.registry import DATASETS

    out = []
    for entry in config.datasets:
        try:
            dataset = DATASETS.create(entry.name, root=entry.root)
            clips = dataset.clips()
        except (VrbenchError, OSError) as e:
            failures.append(Failure.of(entry.name, "*", "*", "load", e))
            continue
        wanted = set(entry.clips) if entry.clips is not None else None
        card = dataset.card
        out.append(DatasetPlan(entry.name, tuple(c for c in clips if wanted is None or c.name in wanted),
                               tuple(p for p in dataset.problems if wanted is None or p.clip in wanted),
                               card.scale, getattr(card, "max_shift", 0)))
    return out


def snapshot(config: RunConfig, resolved: Resolved) -> dict[str, dict[str, Any]]:
    """What a report of this run needs besides the numbers, as it is now: metric and method cards, each dataset's
    manifest hash and LQ source, and the conventions. Reports read this, never the live registry or the data."""
    from vrbench.registry import DATASETS, METRICS

    names = [m.name for m in resolved.metrics] + list(resolved.unavailable)
    metrics = {n: asdict(METRICS.card(n)) for n in names if n in METRICS}
    methods = {m.label: {**m.card.to_dict(), "config": m.config, "config_hash": m.config_hash}
               for m in resolved.methods}
    datasets = {}
    for entry in config.datasets:
        record: dict[str, Any] = {"root": entry.root}
        try:
            ds = DATASETS.create(entry.name, root=entry.root)
            manifest = ds.manifest()
            record.update(root=str(ds.root), scale=ds.card.scale, lq_source=ds.card.lq_source,
                          manifest_sha256=hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
                          if manifest else "",
                          clips={c: {k: v for k, v in rec.items() if k != "files"}
                                 for c, rec in manifest.get("clips", {}).items()})
        except (VrbenchError, OSError) as e:
            record["error"] = str(e)
        datasets[entry.name] = record
    clips = {f"{ds.name}/{c.name}": {"gt": _path(c.gt), "lq": _path(c.lq), "fps": (c.lq or c.gt).fps}
             for ds in resolved.datasets for c in ds.clips}
    return {"metric": metrics, "method": methods, "dataset": datasets, "clip": clips,
            "conventions": {"run": resolved.conventions.to_dict()}}


def _path(video: Any) -> str | None:
    return None if video is None or video.path is None else str(video.path)


class Runner:
    """Executes a `RunConfig` against a `Store`."""

    def __init__(self, config: RunConfig, store: Store, outputs: Path | None = None,
                 on_progress: Callable[[str], None] | None = None, *, executor: str = "local", workers: int = 1,
                 gpus: int = 0, address: str | None = None, replace: bool = False) -> None:
        from vrbench.devices import pick_device

        self.config, self.store = config, store
        self.outputs = outputs or work_dir() / "outputs"
        self.on_progress = on_progress or (lambda _msg: None)
        self.executor, self.workers, self.gpus, self.address = executor, workers, gpus, address
        self.replace = replace
        in_process = executor == "local" and workers <= 1 and not gpus
        # the planner needs the metrics' cards and weights digests; only an in-process run scores on its device
        self.device = pick_device(config.device if in_process else "cpu")
        self.summary = RunSummary(config.name)

    def prepare(self) -> tuple[Resolved, Plan]:
        """Resolve and plan without writing anything (what `--dry-run` shows)."""
        from vrbench.metrics.engine import deterministic_mode

        deterministic_mode(self.device)
        resolved = resolve(self.config, self.device)
        prov = provenance.collect(self.device, {"benchmark": self.config.seed_list})
        prov["metrics"] = {m.name: {"version": m.card.version, "weights_sha256": m.weights,
                                    **({"weights_source": m.sources} if m.sources else {}),
                                    **({"implementation": m.implementation} if m.implementation else {})}
                           for m in resolved.metrics}
        prov["conventions"] = resolved.conventions.to_dict()
        self.prov, self.prov_id = prov, provenance.provenance_id(prov)
        plan = make_plan(self.config, resolved.conventions, resolved.methods, resolved.metrics, resolved.datasets,
                         self.store, self.prov_id)
        plan.failures[:0] = resolved.failures
        return resolved, plan

    def check_name(self) -> None:
        """One run name, one config: a different config under a stored name is refused (or, with `replace`, the old
        record is archived as `<name>@<time>`), so two configs never mix in one leaderboard."""
        old = self.store.run_info(self.config.name).get("config")
        diff = _config_diff(old, self.config) if old else []
        if not diff:
            return
        if self.replace:
            self.summary.archived = self.store.archive_run(self.config.name)
            return
        raise InputError(f"run '{self.config.name}' already holds another config", file=self.store.path,
                         expected="the same config under a run name", found=f"different {', '.join(diff) or 'config'}",
                         hint="give the run another name (values and outputs computed before are reused), or pass "
                              "--replace to archive the old record as <name>@<time>")

    def check_method_configs(self, resolved: Resolved) -> bool:
        """The same rule one level down: a method whose resolved configuration changed since the run stored its
        values (another checkpoint, another vrbench sampling version, other options from a protocol) would put two
        configurations in one leaderboard row. Refused, or with `replace` the old record is archived; True if it was
        (the plan must then be made again against the fresh record)."""
        stored = self.store.method_configs(self.config.name)
        changed = [f"{m.label} ({', '.join(sorted(stored[m.label] - {m.config_hash}))} -> {m.config_hash})"
                   for m in resolved.methods if stored.get(m.label, set()) - {m.config_hash}]
        if not changed:
            return False
        if self.replace:
            self.summary.archived = self.store.archive_run(self.config.name)
            return True
        raise InputError(f"run '{self.config.name}' holds values of another configuration of its methods",
                         file=self.store.path, expected="one configuration per method label in a run",
                         found=f"method config changed: {'; '.join(changed)}",
                         hint="pass --replace to archive the old record as <name>@<time>, or give the run another "
                              "name")

    def run(self, progress: Callable[[int, int], None] | None = None) -> RunSummary:
        t0 = time.perf_counter()
        self.check_name()
        resolved, plan = self.prepare()
        if self.check_method_configs(resolved):
            resolved, plan = self.prepare()
        self.store.start_run(self.config.name, self.config.model_dump(), self.prov, self.prov_id,
                             snapshot(self.config, resolved))
        for name, err in resolved.unavailable.items():
            self.summary.unavailable[name] = err.reason
            self.store.record_unavailable(self.config.name, name, err.reason, err.files)
        self.summary.not_applicable = plan.not_applicable
        for failure in plan.failures:
            self._record(failure)
        for job in plan.clean:
            self.store.clear_failure(job.key.run, job.key.dataset, job.key.clip, job.key.method)
        self._record_reused_outputs(plan)
        self._commit_reused(plan)
        total, done = plan.units, len(plan.clean)
        if progress:
            progress(done, total)
        with make_executor(self.executor, self.config, self.outputs, self.workers, self.gpus, self.address) as ex:
            for task, outcome in ex.map(plan.tasks):
                self.on_progress(f"{task.dataset}/{task.clip.name}")
                self.commit(outcome)
                done += len(task.jobs)
                if progress:
                    progress(done, total)
        self.summary.seconds = time.perf_counter() - t0
        return self.summary

    def _record_reused_outputs(self, plan: Plan) -> None:
        """Units whose values were all reused still get their own method-run row when their cached output is here,
        so this run's report shows its own clip's output and cost, never another dataset's clip of the same name."""
        from vrbench.run.worker import output_dir, reused_run

        have = self.store.method_runs_frame(self.config.name)
        done = {tuple(r) for r in have[["dataset", "clip", "method", "config_hash", "steps", "seed"]].itertuples(
            index=False)} if not have.empty else set()
        for job in plan.clean:
            k = job.key
            folder = output_dir(self.outputs, job)
            if job.method.policy == "reuse" and (k.dataset, k.clip, k.method, k.config_hash, k.steps, k.seed) \
                    not in done and (folder / "done.json").is_file():
                run = reused_run(job, folder)
                self.store.put_method_run(run.key.as_dict(), **run.fields)

    def _commit_reused(self, plan: Plan) -> None:
        self._put_by_unit(plan.reuse)
        self.summary.cached = plan.stored + len(plan.reuse)

    def _put_by_unit(self, rows: list) -> int:
        """One transaction per unit, so a killed run keeps each unit whole or not at all."""
        by_unit: dict[tuple, list] = {}
        for row in rows:
            unit = (row.dataset, row.clip, row.method, row.config_hash, row.steps, row.seed)
            by_unit.setdefault(unit, []).append(row)
        for unit_rows in by_unit.values():
            self.store.put_results(unit_rows)
        return len(rows)

    def commit(self, outcome: ClipOutcome) -> None:
        """The single writer: one transaction per unit of work."""
        for run in outcome.method_runs:
            self.store.put_method_run(run.key.as_dict(), **run.fields)
            self.summary.warnings.extend({"dataset": run.key.dataset, "clip": run.key.clip, "method": run.key.method,
                                          "warning": w} for w in json.loads(run.fields.get("warnings") or "[]"))
        for record in outcome.alignments:
            self.store.put_alignment(record.key.as_dict(), record.alignment)
            self.summary.warnings.extend({"dataset": record.key.dataset, "clip": record.key.clip,
                                          "method": record.key.method, "warning": w}
                                         for w in record.alignment.get("warnings", []))
        self.summary.computed += self._put_by_unit(outcome.rows)
        for key in outcome.done:
            self.store.clear_failure(key.run, key.dataset, key.clip, key.method)
        for failure in outcome.failures:
            self._record(failure)

    def _record(self, failure: Failure) -> None:
        self.summary.failed.append(failure.as_dict())
        self.store.drop_values(self.config.name, failure.dataset, failure.clip, failure.method, failure.key)
        self.store.record_failure(self.config.name, failure.dataset, failure.clip, failure.method, failure.stage,
                                  failure.error)


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _config_diff(stored: dict[str, Any], config: RunConfig) -> list[str]:
    """The keys in which the stored config, read with today's defaults, differs from `config` (not description)."""
    try:
        old = RunConfig.model_validate(stored).model_dump()
    except ValueError:
        old = stored
    new = config.model_dump()
    return sorted(k for k in set(old) | set(new) if k != "description" and _normal(old.get(k)) != _normal(new.get(k)))


def run_benchmark(config: RunConfig, store_path: Path | None = None, outputs: Path | None = None,
                  on_progress: Callable[[str], None] | None = None,
                  progress: Callable[[int, int], None] | None = None, *, executor: str = "local",
                  workers: int = 1, gpus: int = 0, address: str | None = None, replace: bool = False) -> RunSummary:
    """Run a benchmark config end to end; results land in the store (default `.vrbench/results.sqlite`).

    `executor="local"` runs in this process (`workers` > 1 or `gpus` > 0: that many worker processes, worker k on
    `cuda:k` with GPUs); `executor="process"` always uses worker processes; `executor="ray"` schedules one task per
    clip on a Ray cluster (`address`, default: a local one). The numbers are the same whichever executor runs.
    """
    with Store(store_path or work_dir() / "results.sqlite") as store:
        runner = Runner(config, store, outputs, on_progress, executor=executor, workers=workers, gpus=gpus,
                        address=address, replace=replace)
        return runner.run(progress)


def dry_run(config: RunConfig, store_path: Path | None = None, *, replace: bool = False,
            **executor: Any) -> tuple[Resolved, Plan]:
    """The plan of a run against the store, computed without writing anything (and refused where the run would be:
    another config under the same name, unless `replace`)."""
    path = store_path or work_dir() / "results.sqlite"
    with Store(path, read_only=True) as store:
        runner = Runner(config, store, **executor)
        if not replace:
            runner.check_name()
        return runner.prepare()
