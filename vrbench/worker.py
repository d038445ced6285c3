"""The worker side of a run: restore one clip with every pending method (through the on-disk output cache) and
score them all in one pass. Workers never touch the results store: they return rows, cost records and failures,
and the planner, the single writer, commits them. The same code runs in-process, in local worker processes (one
per GPU) and in Ray tasks.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vrbench.config import MethodEntry, RunConfig
from vrbench.data.base import Clip
from vrbench.errors import InputError, VrbenchError
from vrbench.methods.base import cache_policy
from vrbench.store import ResultRow
from vrbench.video import Video, open_video, write_frames

RECOVERABLE = (VrbenchError, ValueError, OSError, RuntimeError, MemoryError)


@dataclass
class TaskItem:
    """One (method, steps) of a clip whose metrics `cache_keys` (metric -> cache key) are still missing."""

    entry: MethodEntry
    steps: int | None
    key: dict[str, Any]
    cache_keys: dict[str, str]
    input_hash: str


@dataclass
class ClipTask:
    dataset: str
    scale: int
    clip: Clip
    items: list[TaskItem]
    provenance: str
    max_shift: int = 0


@dataclass
class ClipResult:
    rows: list[ResultRow] = field(default_factory=list)
    method_runs: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    done: list[dict[str, Any]] = field(default_factory=list)  # keys of units that finished cleanly
    alignments: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)


def method_config(entry: MethodEntry, method: Any, colour_fix: str) -> dict[str, Any]:
    config = {"name": entry.name, **method.config()}
    if colour_fix != "none":
        config["colour_fix"] = colour_fix
    return config


def output_dir(root: Path, entry: MethodEntry, key: dict[str, Any], input_hash: str) -> Path:
    steps = "none" if key["steps"] < 0 else str(key["steps"])
    return root / entry.name / key["config_hash"] / f"steps-{steps}" / f"seed-{key['seed']}" / input_hash[:16]


class Worker:
    """Holds built methods and metrics for one device; `execute` runs one `ClipTask`."""

    def __init__(self, config: RunConfig, outputs: Path, device: Any = None) -> None:
        from vrbench.metrics.engine import build_metrics, deterministic_mode, pick_device
        from vrbench.protocols import load_protocol

        self.config, self.outputs = config, Path(outputs)
        self.device = pick_device(device or config.device)
        deterministic_mode(self.device)
        self.protocol = load_protocol(config.protocol)
        self.metrics = build_metrics(config.metrics or list(self.protocol.metrics), self.device).ready
        self.methods: dict[str, Any] = {}

    def method(self, entry: MethodEntry) -> Any:
        from vrbench.registry import METHODS

        ident = json.dumps(entry.model_dump(), sort_keys=True, default=str)
        if ident not in self.methods:
            self.methods[ident] = METHODS.create(entry.name, **entry.options)
        return self.methods[ident]

    def execute(self, task: ClipTask) -> ClipResult:
        result = ClipResult()
        groups: dict[str, list[tuple[TaskItem, Video, Video | None]]] = {}
        for item in task.items:
            try:
                output = self._restored(task, item, result)
                output, gt, alignment = self._aligned(task, output)
            except RECOVERABLE as e:
                result.failures.append(_failure(task, item, "restore", e))
                continue
            if alignment is not None:
                result.alignments.append((item.key, alignment.to_dict()))
            # outputs that need no alignment are scored together against the one GT stream
            group = "shared" if gt is task.clip.gt else str(len(groups))
            groups.setdefault(group, []).append((item, output, gt))
        for members in groups.values():
            self._evaluate(task, members, result)
        return result

    def _aligned(self, task: ClipTask, output: Video) -> tuple[Video, Video | None, Any]:
        """Apply the geometry policy: frame counts must match; a size mismatch is an error unless the config asks
        to score the common area; the optional integer-shift search uses the dataset card's max_shift."""
        from vrbench.data.geometry import align_clip
        from vrbench.metrics.engine import check_pair

        gt = task.clip.gt
        if gt is None:
            return output, None, None
        if self.config.geometry == "error" and not self.config.shift_search:
            check_pair(output, gt, task.clip.name, task.dataset)
            return output, gt, None
        if output.num_frames != gt.num_frames:
            check_pair(output, gt, task.clip.name, task.dataset)
        alignment = align_clip(output, gt, policy=self.config.geometry, anchor=self.config.anchor,
                               max_shift=task.max_shift if self.config.shift_search else 0,
                               clip=task.clip.name, dataset=task.dataset)
        o_box, g_box = alignment.out_box, alignment.gt_box
        if _whole(o_box, output) and _whole(g_box, gt):
            return output, gt, alignment

        def view(video: Video, box) -> Video:
            return Video.from_chunks(
                lambda n: (np.ascontiguousarray(c[:, box.top:box.top + box.height, box.left:box.left + box.width])
                           for c in video.iter_chunks(n)),
                video.num_frames, box.height, box.width, video.fps, video.name)

        return view(output, o_box), view(gt, g_box), alignment

    def _evaluate(self, task: ClipTask, members: list[tuple[TaskItem, Video, Video | None]],
                  result: ClipResult) -> None:
        from vrbench.metrics.engine import evaluate_clip

        outputs = {str(i): out for i, (_, out, _) in enumerate(members)}
        gt = members[0][2]
        names = sorted({m for item, _, _ in members for m in item.cache_keys})
        try:
            scores = evaluate_clip(outputs, gt, {m: self.metrics[m] for m in names}, self.device,
                                   self.config.chunk, self.config.fast, self.protocol.crop_border)
        except RECOVERABLE as e:
            result.failures.extend(_failure(task, item, "evaluate", e) for item, _, _ in members)
            return
        for (item, _, _), label in zip(members, outputs, strict=True):
            for m, (value, per_frame) in scores.values[label].items():
                if m in item.cache_keys:
                    card = self.metrics[m].card
                    result.rows.append(ResultRow(**item.key, metric=m, value=value, per_frame=per_frame,
                                                 metric_version=card.version, protocol=self.config.protocol,
                                                 method_name=item.entry.name, cache_key=item.cache_keys[m],
                                                 provenance=task.provenance))
            result.done.append(item.key)

    # ---- restoring (with the on-disk output cache) ------------------------------------------------------------
    def _restore_call(self, task: ClipTask, item: TaskItem, method: Any) -> tuple[Video, Any]:
        from vrbench.methods.profiling import measure, record_output

        extra = {"gt": task.clip.gt} if getattr(method.card, "needs_gt", False) else {}
        with measure(method, device=str(self.device)) as cost:
            output = method.restore(task.clip.lq, scale=task.scale, steps=item.steps, seed=self.config.seed,
                                    **extra)
        return output, record_output(cost, output)

    def _colour_fixed(self, output: Video, lq: Video) -> Video:
        if self.protocol.colour_fix == "none":
            return output
        from vrbench.colorfix import colour_fix

        mode = self.protocol.colour_fix
        return Video.from_chunks(
            lambda chunk: (colour_fix(o, q, mode)
                           for o, q in zip(output.iter_chunks(chunk), lq.iter_chunks(chunk), strict=True)),
            output.num_frames, output.height, output.width, lq.fps, lq.name)

    def _restored(self, task: ClipTask, item: TaskItem, result: ClipResult) -> Video:
        method = self.method(item.entry)
        lq = task.clip.lq
        policy = cache_policy(method.card)
        if policy == "none":  # precomputed outputs and sanity methods: nothing to cache
            output, _ = self._restore_call(task, item, method)
            check_output(task, item, output, self.config.output_rule, self.config.geometry == "crop")
            return self._colour_fixed(output, lq)
        folder = output_dir(self.outputs, item.entry, item.key, item.input_hash)
        if policy == "fresh":  # stochastic and unseeded: a new draw every time, never reused silently
            folder = folder.with_name(f"{folder.name}-draw-{time.time_ns()}")
        elif (folder / "done.json").is_file():
            return open_video(folder / "frames", name=task.clip.name, fps=lq.fps)
        from vrbench.methods.profiling import measure, record_output

        extra = {"gt": task.clip.gt} if getattr(method.card, "needs_gt", False) else {}
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{time.time_ns()}")
        try:
            # timed until the frames are on disk: methods may stream their output lazily
            with measure(method, device=str(self.device)) as cost:
                output = method.restore(lq, scale=task.scale, steps=item.steps, seed=self.config.seed, **extra)
                check_output(task, item, output, self.config.output_rule, self.config.geometry == "crop")
                write_frames(self._colour_fixed(output, lq).iter_chunks(), tmp / "frames")
            cost = record_output(cost, output)
            warnings = [c for c in output.conversions if c.startswith("warning")]
            config = method_config(item.entry, method, self.protocol.colour_fix)
            _publish(tmp, folder, {"config": config, "cost": cost.to_dict(), "warnings": warnings})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        release = getattr(method, "release", None)
        if callable(release):
            release(output)  # command adapters drop their run folder once the frames are cached
        result.method_runs.append((item.key, {**cost.store_fields(), "config": config, "output": str(folder),
                                              "cost": json.dumps(cost.to_dict(), default=str),
                                              "warnings": json.dumps(warnings)}))
        return open_video(folder / "frames", name=task.clip.name, fps=lq.fps)


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


def check_output(task: ClipTask, item: TaskItem, output: Video, rule: str = "scale", lenient: bool = False) -> None:
    """Frame count and size of a method's output; with `lenient` (geometry: crop) a size that differs from the GT
    is left to the alignment step, which scores the common area and records a warning."""
    lq, gt, name = task.clip.lq, task.clip.gt, task.clip.name
    from vrbench.data.geometry import expected_output_size

    want_frames = gt.num_frames if gt is not None else lq.num_frames
    want_size = gt.size if gt is not None and rule == "scale" else expected_output_size(lq.size, scale=task.scale,
                                                                                        rule=rule)
    where = output.path if output.path is not None else f"output of {item.entry.display}"
    if output.num_frames != want_frames:
        raise InputError("wrong number of output frames", clip=name, dataset=task.dataset, file=where,
                         expected=f"{want_frames} frames", found=f"{output.num_frames} frames")
    if output.size != want_size and not (lenient and gt is not None):
        raise InputError("wrong output size", clip=name, dataset=task.dataset, file=where,
                         expected=f"{want_size[1]}x{want_size[0]} (x{task.scale} of the LQ)",
                         found=f"{output.width}x{output.height}")


def _failure(task: ClipTask, item: TaskItem, stage: str, error: BaseException) -> dict[str, str]:
    return {"dataset": task.dataset, "clip": task.clip.name, "method": item.entry.display, "stage": stage,
            "error": f"{type(error).__name__}: {error}"}
