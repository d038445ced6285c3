"""Executors: where clip tasks run. The runner hands each one its `ClipTask`s and commits the outcomes it yields,
in completion order, as the single writer of the store.

- `local` (default): in this process.
- `process`: local worker processes (spawned, so CUDA is safe), each bound to one device: with `gpus` = N, worker
  k uses `cuda:k`; otherwise CPU workers sharing the cores (or the configured device).
- `ray`: one Ray task per clip on an existing cluster (`address`) or a local `ray.init()`; tasks declare a GPU when
  the cluster has GPUs, and a task whose worker died is retried twice. On Slurm, start a Ray cluster in the
  allocation (`ray start --head` on the first node, `ray start --address=...` on the others) and pass its address.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vrbench.config import RunConfig
from vrbench.errors import InputError
from vrbench.metrics import host_heap
from vrbench.run.plan import ClipTask
from vrbench.run.worker import ClipOutcome, Worker

EXECUTORS = ("local", "process", "ray")


def worker_devices(workers: int, gpus: int, device: str | None, visible_gpus: int) -> list[str]:
    """The device of each local worker process: `cuda:k` for worker k with `gpus`; else the configured device, or the
    visible GPUs in turn, or the CPU."""
    if gpus < 0 or workers < 1:
        raise InputError("bad worker count", expected="--workers >= 1 and --gpus >= 0",
                         found=f"--workers {workers} --gpus {gpus}")
    if gpus:
        if gpus > visible_gpus:
            raise InputError(f"--gpus {gpus} asks for more GPUs than this machine shows",
                             expected=f"at most {visible_gpus} (torch.cuda.device_count())", found=gpus)
        return [f"cuda:{k % gpus}" for k in range(max(workers, gpus))]
    if device in (None, "cuda") and visible_gpus:  # GPUs here, none named: spread the workers over them
        return [f"cuda:{k % visible_gpus}" for k in range(workers)]
    return [device or "cpu"] * workers


class LocalExecutor:
    """Every task in this process, on the device the config names (or the best one here)."""

    def __init__(self, config: RunConfig, outputs: Path) -> None:
        self.config, self.outputs = config, outputs

    def __enter__(self) -> LocalExecutor:
        host_heap.hold()  # freed host memory stays in the process from clip to clip (see host_heap)
        return self

    def __exit__(self, *exc: object) -> None:
        host_heap.release()

    def map(self, tasks: list[ClipTask]) -> Iterator[tuple[ClipTask, ClipOutcome]]:
        if not tasks:
            return
        worker = Worker(self.config, self.outputs)
        for task in tasks:
            yield task, worker.execute(task)


# ---- worker processes ---------------------------------------------------------------------------------------------
_WORKER: Worker | None = None


def _init_process(config_json: str, outputs: str, devices: Any, threads: int) -> None:
    global _WORKER
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)  # OpenCV filters (SSIM, VMAF, NIQE on CPU) share the worker's share of the cores
    host_heap.hold()  # for the worker's lifetime: freed host memory is reused from clip to clip
    _WORKER = Worker(RunConfig.model_validate_json(config_json), Path(outputs), devices.get())


def _run_in_process(task: ClipTask) -> ClipOutcome:
    if _WORKER is None:
        raise RuntimeError("worker process was not initialised")
    return _WORKER.execute(task)


def _process_device() -> str:
    return "" if _WORKER is None else str(_WORKER.device)


class ProcessExecutor:
    """One worker process per entry of `devices`; worker k is handed `devices[k]`."""

    def __init__(self, config: RunConfig, outputs: Path, devices: list[str]) -> None:
        self.config, self.outputs, self.devices = config, outputs, devices

    def __enter__(self) -> ProcessExecutor:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")
        queue = ctx.Manager().Queue()
        for device in self.devices:
            queue.put(device)
        n = len(self.devices)
        threads = 2 if any(d.startswith("cuda") for d in self.devices) else max(1, (os.cpu_count() or 1) // n)
        self.pool = ProcessPoolExecutor(n, mp_context=ctx, initializer=_init_process,
                                        initargs=(self.config.model_dump_json(), str(self.outputs), queue, threads))
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def map(self, tasks: list[ClipTask]) -> Iterator[tuple[ClipTask, ClipOutcome]]:
        from concurrent.futures import as_completed

        futures = {self.pool.submit(_run_in_process, t): t for t in tasks}
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                outcome = fut.result()
            except Exception as e:  # noqa: BLE001 - a dead worker fails its clip, recorded; the run goes on
                outcome = ClipOutcome.failed(task, "worker", e)
            yield task, outcome


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

    def map(self, tasks: list[ClipTask]) -> Iterator[tuple[ClipTask, ClipOutcome]]:
        ray = self.ray
        config_json = self.config.model_dump_json()
        refs = {self.remote.remote(config_json, str(self.outputs), t): t for t in tasks}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            task = refs[ready[0]]
            try:
                outcome = ray.get(ready[0])
            except Exception as e:  # noqa: BLE001 - a task that failed all its retries fails its clip
                outcome = ClipOutcome.failed(task, "worker", e)
            yield task, outcome


_RAY_WORKERS: dict[str, Worker] = {}


def _ray_task(config_json: str, outputs: str, task: ClipTask) -> ClipOutcome:
    """One clip on a Ray worker; the built methods and metrics stay cached in the worker process."""
    key = config_json + outputs
    if key not in _RAY_WORKERS:
        host_heap.hold()  # for the worker process's lifetime, as in `_init_process`
        _RAY_WORKERS[key] = Worker(RunConfig.model_validate_json(config_json), Path(outputs))
    return _RAY_WORKERS[key].execute(task)


def make_executor(kind: str, config: RunConfig, outputs: Path, workers: int = 1, gpus: int = 0,
                  address: str | None = None):
    """`local` with one worker runs in this process; more workers or GPUs mean worker processes."""
    if kind not in EXECUTORS:
        raise InputError("unknown executor", expected=" | ".join(EXECUTORS), found=kind)
    if kind == "ray":
        return RayExecutor(config, outputs, address)
    if kind == "local" and workers <= 1 and not gpus:
        return LocalExecutor(config, outputs)
    import torch

    visible = torch.cuda.device_count() if config.device in (None, "cuda") or gpus else 0
    return ProcessExecutor(config, outputs, worker_devices(workers, gpus, config.device, visible))
