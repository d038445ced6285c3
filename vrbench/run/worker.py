"""The worker side of a run: restore one clip with every pending method (through the on-disk output cache) and
score them all in one pass. Workers never touch the results store: they return typed outcomes (rows, method runs,
alignments, failures) and the runner, the single writer, commits them. The same code runs in-process, in local
worker processes (one per GPU) and in Ray tasks.

Methods and metrics are built once per process (`build_method`, `build_metrics_once`): the planner and an in-process
worker share them, and a worker process keeps them across all the clips it is handed. The harness owns the device:
every `restore` is called with the worker's device.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vrbench.config import MethodEntry, RunConfig
from vrbench.errors import InputError, VrbenchError
from vrbench.run.plan import ClipTask, Failure, Job, MetricPlan, UnitKey, result_row
from vrbench.store import ResultRow, result_problem
from vrbench.video import Video, open_video, write_frames

RECOVERABLE = (VrbenchError, ValueError, OSError, RuntimeError, MemoryError)


# ---- built once per process -------------------------------------------------------------------------------------
_METHODS: dict[str, Any] = {}
_METRICS: dict[tuple[str, str], Any] = {}


def build_method(entry: MethodEntry) -> Any:
    """The method of a config entry, built on first use in this process and kept for every later clip."""
    from vrbench.registry import METHODS

    ident = json.dumps([entry.name, entry.options], sort_keys=True, default=str)
    if ident not in _METHODS:
        method = METHODS.create(entry.name, **entry.options)
        _check_takes_device(entry, method)
        _METHODS[ident] = method
    return _METHODS[ident]


def _check_takes_device(entry: MethodEntry, method: Any) -> None:
    import inspect

    params = inspect.signature(method.restore).parameters
    if "device" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise InputError(f"method adapter '{entry.name}' cannot be handed a device",
                         expected="restore(lq, *, scale, steps, seed, device): the harness owns the device",
                         found=f"restore{inspect.signature(method.restore)}")


def build_metrics_once(names: list[str], device: Any) -> Any:
    """The metric set for `names` on `device`: each metric set up (weights loaded) once in this process; one that
    is unavailable (weights missing) is tried again next time, in case its files have been put in place since."""
    from vrbench.metrics.engine import MetricSet, build_metrics

    todo = [n for n in names if (n, str(device)) not in _METRICS]
    fresh = build_metrics(todo, device) if todo else MetricSet()
    for name, metric in fresh.ready.items():
        _METRICS[(name, str(device))] = metric
    ready = {n: _METRICS[(n, str(device))] for n in names if (n, str(device)) in _METRICS}
    return MetricSet(ready, dict(fresh.unavailable))


# ---- outcomes ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MethodRun:
    """What restoring one unit cost and where its output was cached."""

    key: UnitKey
    fields: dict[str, Any]


@dataclass(frozen=True)
class AlignmentRecord:
    key: UnitKey
    alignment: dict[str, Any]


@dataclass
class ClipOutcome:
    rows: list[ResultRow] = field(default_factory=list)
    method_runs: list[MethodRun] = field(default_factory=list)
    alignments: list[AlignmentRecord] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    done: list[UnitKey] = field(default_factory=list)  # units that finished cleanly

    @classmethod
    def failed(cls, task: ClipTask, stage: str, error: BaseException) -> ClipOutcome:
        return cls(failures=[Failure.of_job(j, stage, error)
                             for j in task.jobs])


def output_dir(root: Path, job: Job) -> Path:
    steps = "none" if job.key.steps < 0 else str(job.key.steps)
    return (root / job.method.name / job.key.config_hash / f"steps-{steps}" / f"seed-{job.seed}"
            / job.input_hash[:16])


class Worker:
    """Holds the built methods and metrics of one process and its device; `execute` runs one `ClipTask`."""

    def __init__(self, config: RunConfig, outputs: Path, device: Any = None) -> None:
        from vrbench.devices import pick_device
        from vrbench.metrics.engine import deterministic_mode
        from vrbench.protocols import PROTOCOLS

        self.config, self.outputs = config, Path(outputs)
        self.device = pick_device(device or config.device)
        deterministic_mode(self.device)
        protocol = PROTOCOLS.create(config.protocol)
        self.metrics = build_metrics_once(config.metrics or list(protocol.metrics), self.device).ready
        self.metric_plans = {n: MetricPlan.of(m) for n, m in self.metrics.items()}  # once, not per stored value

    def execute(self, task: ClipTask) -> ClipOutcome:
        outcome = ClipOutcome()
        groups: dict[str, list[tuple[Job, Video, Video | None]]] = {}
        for job in task.jobs:
            try:
                output = self._restored(task, job, outcome)
                output, gt, alignment = self._aligned(task, job, output)
            except RECOVERABLE as e:
                outcome.failures.append(Failure.of_job(job, "restore", e))
                continue
            if alignment is not None:
                outcome.alignments.append(AlignmentRecord(job.key, alignment.to_dict()))
            # outputs that need no alignment are scored together against the one GT stream
            group = "shared" if gt is task.clip.gt else str(len(groups))
            groups.setdefault(group, []).append((job, output, gt))
        for members in groups.values():
            self._evaluate(task, members, outcome)
        return outcome

    # ---- geometry and scoring ---------------------------------------------------------------------------------
    def _aligned(self, task: ClipTask, job: Job, output: Video) -> tuple[Video, Video | None, Any]:
        """Apply the geometry policy: frame counts must match; a size mismatch is an error unless the conventions
        say to score the common area or to resize the output to the GT; the optional integer-shift search uses the
        dataset card's max_shift."""
        from vrbench.data.geometry import align_clip
        from vrbench.metrics.engine import check_pair

        gt, c = task.clip.gt, job.method.conventions
        if gt is None:
            return output, None, None
        if c.geometry == "error" and not c.shift_search:
            check_pair(output, gt, task.clip.name, task.dataset)
            return output, gt, None
        if output.num_frames != gt.num_frames:
            check_pair(output, gt, task.clip.name, task.dataset)
        resized = ""
        if c.geometry == "resize" and output.size != gt.size:
            resized = (f"output {output.width}x{output.height} resized to the GT's {gt.width}x{gt.height} with "
                       f"{c.resize_filter}")
            output = _resized(output, gt.size, c.resize_filter)
        alignment = align_clip(output, gt, policy="crop" if c.geometry == "resize" else c.geometry, anchor=c.anchor,
                               max_shift=task.max_shift if c.shift_search else 0,
                               clip=task.clip.name, dataset=task.dataset)
        if resized:
            alignment = replace(alignment, policy="resize", warnings=(resized, *alignment.warnings))
        o_box, g_box = alignment.out_box, alignment.gt_box
        if _whole(o_box, output) and _whole(g_box, gt):
            return output, gt, alignment
        return _view(output, o_box), _view(gt, g_box), alignment

    def _evaluate(self, task: ClipTask, members: list[tuple[Job, Video, Video | None]],
                  outcome: ClipOutcome) -> None:
        from vrbench.metrics.engine import evaluate_clip

        outputs = {str(i): out for i, (_, out, _) in enumerate(members)}
        gt = members[0][2]
        names = sorted({m for job, _, _ in members for m in job.missing})
        try:
            scores = evaluate_clip(outputs, gt, {m: self.metrics[m] for m in names}, self.device,
                                   self.config.chunk, self.config.fast, task.conventions.crop_border)
        except RECOVERABLE as e:
            if len(members) > 1:  # one method's bad output must not fail the others: score each on its own
                for member in members:
                    self._evaluate(task, [member], outcome)
                return
            outcome.failures.extend(Failure.of_job(job, "evaluate", e)
                                    for job, _, _ in members)
            return
        for (job, _, _), label in zip(members, outputs, strict=True):
            rows = [result_row(job, self.metric_plans[m], value, per_frame, task.conventions.protocol,
                               task.provenance) for m, (value, per_frame) in scores.values[label].items()
                    if m in job.missing]
            bad = [f"{r.metric}: {p}" for r in rows if (p := result_problem(r.value, r.per_frame))]
            if bad:  # never handed to the store as a success (it would refuse the unit anyway)
                outcome.failures.append(Failure.of_job(job, "evaluate", InputError(
                    "no value computed", clip=task.clip.name, dataset=task.dataset, found="; ".join(bad))))
                continue
            outcome.rows.extend(rows)
            outcome.done.append(job.key)

    # ---- restoring (with the on-disk output cache) ------------------------------------------------------------
    def _restore(self, task: ClipTask, job: Job, method: Any) -> Video:
        extra = {"gt": task.clip.gt} if getattr(method.card, "needs_gt", False) else {}
        return method.restore(task.clip.lq, scale=task.scale, steps=job.steps, seed=job.seed, device=self.device,
                              **extra)

    def _colour_fixed(self, output: Video, lq: Video, mode: str) -> Video:
        if mode == "none":
            return output
        from vrbench.colorfix import colour_fix

        return Video.from_chunks(
            lambda chunk: (colour_fix(o, q, mode)
                           for o, q in zip(output.iter_chunks(chunk), lq.iter_chunks(chunk), strict=True)),
            output.num_frames, output.height, output.width, lq.fps, lq.name)

    def _restored(self, task: ClipTask, job: Job, outcome: ClipOutcome) -> Video:
        from vrbench.methods.profiling import measure, record_output

        method = build_method(job.method.entry)
        lq, c = task.clip.lq, task.conventions
        if job.method.policy == "none":  # precomputed outputs and sanity methods: nothing to cache
            output = self._restore(task, job, method)
            check_output(task, job, output)
            warnings = _warnings(output, c.colour_fix)
            outcome.method_runs.append(MethodRun(job.key, {
                "frames": output.num_frames, "out_height": output.height, "out_width": output.width,
                "device": str(self.device), "config": job.method.config, "warnings": json.dumps(warnings),
                "output": None if output.path is None else str(output.path)}))
            return self._colour_fixed(output, lq, c.colour_fix)
        folder = output_dir(self.outputs, job)
        if job.method.policy == "fresh":  # stochastic and unseeded: a new draw every time, never reused silently
            folder = folder.with_name(f"{folder.name}-draw-{time.time_ns()}")
        elif (folder / "done.json").is_file():
            outcome.method_runs.append(reused_run(job, folder))
            return open_video(folder / "frames", name=task.clip.name, fps=lq.fps)
        tmp = _temp_output(folder)
        try:
            # timed until the frames are on disk: methods may stream their output lazily
            with measure(method, device=str(self.device)) as cost:
                output = self._restore(task, job, method)
                check_output(task, job, output)
                write_frames(self._colour_fixed(output, lq, c.colour_fix).iter_chunks(), tmp / "frames")
            cost = record_output(cost, output)
            warnings = _warnings(output, c.colour_fix)
            _publish(tmp, folder, {"config": job.method.config, "cost": cost.to_dict(), "warnings": warnings})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        release = getattr(method, "release", None)
        if callable(release):
            release(output)  # command adapters drop their run folder once the frames are cached
        outcome.method_runs.append(MethodRun(job.key, {
            **cost.store_fields(), "config": job.method.config, "output": str(folder),
            "cost": json.dumps(cost.to_dict(), default=str), "warnings": json.dumps(warnings)}))
        return open_video(folder / "frames", name=task.clip.name, fps=lq.fps)


def reused_run(job: Job, folder: Path) -> MethodRun:
    """The record of an output restored earlier (by this clip, or by another clip with the same content): this
    unit's own row, so reports and studies find the output by this clip's name."""
    from vrbench.methods.profiling import Cost

    done = json.loads((folder / "done.json").read_text())
    known = set(Cost.__dataclass_fields__)
    cost = Cost(**{k: v for k, v in done.get("cost", {}).items() if k in known})
    return MethodRun(job.key, {**cost.store_fields(), "config": job.method.config, "output": str(folder),
                               "cost": json.dumps(cost.to_dict(), default=str),
                               "warnings": json.dumps(done.get("warnings", []))})


def _warnings(output: Video, colour_fix: str) -> list[str]:
    """What a reader of the numbers must know about this output: lossy decoding, conversions, a colour fix."""
    out = [w for w in output.conversions if w.startswith("warning")]
    if colour_fix != "none":
        out.append(f"{colour_fix} colour fix applied to the output before scoring (protocol convention)")
    return out


def _resized(video: Video, hw: tuple[int, int], method: str) -> Video:
    from vrbench.data.geometry import resize_frames

    return Video.from_chunks(lambda n: (resize_frames(c, hw, method) for c in video.iter_chunks(n)),
                             video.num_frames, hw[0], hw[1], video.fps, video.name)


def _view(video: Video, box: Any) -> Video:
    return Video.from_chunks(
        lambda n: (np.ascontiguousarray(c[:, box.top:box.top + box.height, box.left:box.left + box.width])
                   for c in video.iter_chunks(n)),
        video.num_frames, box.height, box.width, video.fps, video.name)


def _temp_output(folder: Path) -> Path:
    """The private folder this process writes an output into; the temporary outputs that killed processes left
    beside it are removed first (a live process's are never touched: its pid is in the name)."""
    from vrbench.fsutil import remove_stale, temp_name

    remove_stale(folder.parent)
    return folder.with_name(temp_name(folder.name))


def _publish(tmp: Path, folder: Path, done: dict[str, Any]) -> None:
    """Frames were written to a private temporary folder; rename it into place only once complete, so a run
    killed at any moment never leaves a partial output that a later run would trust. If another process finished
    the same output first, its copy is kept."""
    (tmp / "done.json").write_text(json.dumps(done, default=str))
    folder.parent.mkdir(parents=True, exist_ok=True)
    if folder.exists() and not (folder / "done.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)  # leftover of an older layout; never a finished output
    try:
        os.replace(tmp, folder)
    except OSError:
        if not (folder / "done.json").is_file():
            raise


def _whole(box: Any, video: Video) -> bool:
    return (box.top, box.left, box.height, box.width) == (0, 0, video.height, video.width)


def check_output(task: ClipTask, job: Job, output: Video) -> None:
    """Frame count and size of a method's output under the conventions' output rule; with geometry `crop` a size
    that differs from the GT is left to the alignment step, which scores the common area and records a warning."""
    from vrbench.data.geometry import expected_output_size

    lq, gt, name, c = task.clip.lq, task.clip.gt, task.clip.name, job.method.conventions
    want_frames = gt.num_frames if gt is not None else lq.num_frames
    by_rule = c.output_rule != "scale" or gt is None
    want_size = expected_output_size(lq.size, scale=task.scale, rule=c.output_rule) if by_rule else gt.size
    where = output.path if output.path is not None else f"output of {job.key.method}"
    if output.num_frames != want_frames:
        raise InputError("wrong number of output frames", clip=name, dataset=task.dataset, file=where,
                         expected=f"{want_frames} frames", found=f"{output.num_frames} frames")
    if gt is None:  # no-reference and temporal metrics only: the size is not compared with anything
        return
    if output.size != want_size and c.geometry == "error":
        rule = f"x{task.scale} of the LQ" if c.output_rule == "scale" else f"output rule {c.output_rule}"
        raise InputError("wrong output size", clip=name, dataset=task.dataset, file=where,
                         expected=f"{want_size[1]}x{want_size[0]} ({rule})", found=f"{output.width}x{output.height}")
