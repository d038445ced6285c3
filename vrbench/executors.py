"""Executors: where clip tasks run. The planner hands each one a list of `ClipTask`s and commits the results it
yields, in completion order, as the single writer of the store.

- `local` (default): in this process.
- `local` with `workers > 1`: that many worker processes; with GPUs, one per GPU (`cuda:0`, `cuda:1`, ...),
  otherwise CPU workers sharing the cores.
- `ray`: one Ray task per clip on an existing cluster (`address`) or a local `ray.init()`; tasks that declare a GPU
  when the cluster has GPUs, and up to 2 retries for a task whose worker died. On Slurm, start a Ray cluster in
  the allocation (`ray start --head` on the first node, `ray start --address=...` on the others) and pass its
  address.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vrbench.config import RunConfig
from vrbench.errors import InputError
from vrbench.worker import ClipResult, ClipTask, Worker


def _task_failed(task: ClipTask, error: BaseException) -> ClipResult:
    text = f"{type(error).__name__}: {error}"
    return ClipResult(failures=[{"dataset": task.dataset, "clip": task.clip.name, "method": item.entry.display,
                                 "stage": "worker", "error": text} for item in task.items])


class LocalExecutor:
    def __init__(self, config: RunConfig, outputs: Path) -> None:
        self.config, self.outputs = config, outputs

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, tasks: list[ClipTask], sizes: list[int]) -> Iterator[tuple[tuple[ClipTask, int], ClipResult]]:
        if not tasks:
            return
        worker = Worker(self.config, self.outputs)
        for task, n in zip(tasks, sizes, strict=True):
            yield (task, n), worker.execute(task)


# ---- worker processes ---------------------------------------------------------------------------------------------
_WORKER: Worker | None = None


def _init_process(config_json: str, outputs: str, devices: Any, threads: int) -> None:
    global _WORKER
    import torch

    torch.set_num_threads(threads)
    device = devices.get()
    _WORKER = Worker(RunConfig.model_validate_json(config_json), Path(outputs), device)


def _run_in_process(task: ClipTask) -> ClipResult:
    assert _WORKER is not None  # set by the pool initializer
    return _WORKER.execute(task)


class ProcessExecutor:
    """N worker processes (spawned, so CUDA is safe), each bound to one device."""

    def __init__(self, config: RunConfig, outputs: Path, workers: int) -> None:
        self.config, self.outputs, self.workers = config, outputs, workers

    def __enter__(self) -> ProcessExecutor:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        import torch

        ctx = mp.get_context("spawn")
        devices = ctx.Manager().Queue()
        gpus = torch.cuda.device_count() if self.config.device in (None, "cuda") else 0
        for i in range(self.workers):
            devices.put(f"cuda:{i % gpus}" if gpus else (self.config.device or "cpu"))
        threads = max(1, (os.cpu_count() or 1) // self.workers) if not gpus else 2
        self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_process,
                                        initargs=(self.config.model_dump_json(), str(self.outputs), devices, threads))
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def map(self, tasks: list[ClipTask], sizes: list[int]) -> Iterator[tuple[tuple[ClipTask, int], ClipResult]]:
        from concurrent.futures import as_completed

        futures = {self.pool.submit(_run_in_process, t): (t, n) for t, n in zip(tasks, sizes, strict=True)}
        for fut in as_completed(futures):
            task, n = futures[fut]
            try:
                result = fut.result()
            except Exception as e:  # noqa: BLE001 - a dead worker fails its clip, recorded; the run goes on
                result = _task_failed(task, e)
            yield (task, n), result


# ---- Ray ----------------------------------------------------------------------------------------------------------
class RayExecutor:
    def __init__(self, config: RunConfig, outputs: Path, address: str | None) -> None:
        self.config, self.outputs, self.address = config, outputs, address

    def __enter__(self) -> RayExecutor:
        try:
            import ray
        except ImportError as e:
            raise InputError("the ray executor needs Ray", expected="pip install 'vrbench[ray]'",
                             found="ray is not installed") from e
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     **({} if self.address else {"num_cpus": os.cpu_count() or 1}))
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        self.remote = ray.remote(num_gpus=gpus, max_retries=2)(_ray_task)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, tasks: list[ClipTask], sizes: list[int]) -> Iterator[tuple[tuple[ClipTask, int], ClipResult]]:
        ray = self.ray
        config_json = self.config.model_dump_json()
        refs = {self.remote.remote(config_json, str(self.outputs), t): (t, n)
                for t, n in zip(tasks, sizes, strict=True)}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            task, n = refs[ready[0]]
            try:
                result = ray.get(ready[0])
            except Exception as e:  # noqa: BLE001 - a task that failed all its retries fails its clip
                result = _task_failed(task, e)
            yield (task, n), result


_RAY_WORKERS: dict[str, Worker] = {}


def _ray_task(config_json: str, outputs: str, task: ClipTask) -> ClipResult:
    """One clip on a Ray worker; the built methods and metrics stay cached in the worker process."""
    key = config_json + outputs
    if key not in _RAY_WORKERS:
        _RAY_WORKERS[key] = Worker(RunConfig.model_validate_json(config_json), Path(outputs))
    return _RAY_WORKERS[key].execute(task)


def make_executor(kind: str, config: RunConfig, outputs: Path, workers: int = 1, address: str | None = None):
    if kind == "local":
        return LocalExecutor(config, outputs) if workers <= 1 else ProcessExecutor(config, outputs, workers)
    if kind == "ray":
        return RayExecutor(config, outputs, address)
    raise InputError("unknown executor", expected="local or ray", found=kind)
