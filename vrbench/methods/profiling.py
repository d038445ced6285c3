"""Cost of one method run: wall seconds, seconds per frame, output fps, peak RAM and GPU memory, parameters, device.

These are the columns of SeedVR2's efficiency table (Table 6): time per clip and peak memory at a given output
resolution. Peaks are measured for the run itself, not for the life of the process:

- RAM of this process: sampled from `/proc/self/status` (VmRSS) in a background thread while the method runs,
  because `ru_maxrss` is a lifetime high-water mark that an earlier, larger run would hide;
- RAM of an external tool: sampled from `/proc/<pid>/status` of every process of the tool's process group
  (`GroupSampler`; the command adapter reports it), since an exec'ed child's `ru_maxrss` also counts the
  pre-exec copy of this process;
- GPU memory: `torch.cuda.max_memory_allocated` when torch is already imported and CUDA initialised (never
  imported here just to ask), or the command adapter's `nvidia-smi` samples of the tool's processes.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_STATUS = Path("/proc/self/status")


@dataclass
class Cost:
    """What one `restore` cost. Memory in MiB; None where it could not be measured here."""

    seconds: float = 0.0
    frames: int = 0
    out_height: int = 0
    out_width: int = 0
    peak_rss_mb: float | None = None  # this process, during the run
    base_rss_mb: float | None = None  # this process just before the run: what the method did not add
    peak_child_rss_mb: float | None = None  # the external tool, if the method ran one
    peak_gpu_mb: float | None = None
    params: int | None = None
    device: str = "cpu"

    @property
    def seconds_per_frame(self) -> float | None:
        return self.seconds / self.frames if self.frames else None

    @property
    def fps(self) -> float | None:
        """Output frames per second of wall time, at the output resolution."""
        return self.frames / self.seconds if self.frames and self.seconds > 0 else None

    @property
    def method_rss_mb(self) -> float | None:
        """The RAM the method itself needed: the tool's peak for external methods, else this process's peak above
        what the process held before the run (libraries, data, other methods' networks are not the method's)."""
        if self.peak_child_rss_mb is not None:
            return self.peak_child_rss_mb
        if self.peak_rss_mb is None or self.base_rss_mb is None:
            return self.peak_rss_mb
        return max(self.peak_rss_mb - self.base_rss_mb, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds_per_frame": self.seconds_per_frame, "fps": self.fps}

    def store_fields(self) -> dict[str, Any]:
        """The columns of the store's `method_runs` table."""
        return {"seconds": self.seconds, "frames": self.frames, "out_height": self.out_height,
                "out_width": self.out_width, "peak_rss_mb": self.method_rss_mb, "peak_gpu_mb": self.peak_gpu_mb,
                "device": self.device}


def current_rss_mb() -> float | None:
    """Resident set size of this process now (Linux), else None."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0  # reported in kB
    except OSError:
        return None
    return None


def maxrss_mb(usage: resource.struct_rusage) -> float:
    """`ru_maxrss` in MiB (kilobytes on Linux, bytes on macOS)."""
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0
    return usage.ru_maxrss / scale


class _RssSampler(threading.Thread):
    """Polls this process's RSS until stopped; keeps the peak."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True, name="vrbench-rss-sampler")
        self.interval, self.peak = interval, current_rss_mb()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self._take()

    def _take(self) -> None:
        now = current_rss_mb()
        if now is not None and (self.peak is None or now > self.peak):
            self.peak = now

    def stop(self) -> float | None:
        self._stop_event.set()
        self.join()
        self._take()
        return self.peak


def _torch_cuda():
    """The torch module if it is imported and CUDA is initialised; never imports torch itself."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return torch


@contextmanager
def measure(method: Any = None, device: str = "cpu") -> Iterator[Cost]:
    """Measure the block that runs `method.restore`; the `Cost` is complete when the block exits.

    Call `record_output(cost, output)` afterwards (or use `run_profiled`). An adapter that ran an external tool
    reports what only it can see in `method.last_cost` (a dict with `peak_child_rss_mb`, `peak_gpu_mb`,
    `device`); `method.num_parameters` or `card.params` gives the parameter count.
    """
    cost = Cost(device=device)
    torch = _torch_cuda()
    if torch is not None:
        torch.cuda.reset_peak_memory_stats()
    if method is not None and hasattr(method, "last_cost"):
        method.last_cost = {}
    rss_before = maxrss_mb(resource.getrusage(resource.RUSAGE_SELF))
    cost.base_rss_mb = current_rss_mb()
    sampler = _RssSampler()
    sampler.start()
    t0 = time.perf_counter()
    try:
        yield cost
    finally:
        cost.seconds = time.perf_counter() - t0
        peak = sampler.stop()
        rss_after = maxrss_mb(resource.getrusage(resource.RUSAGE_SELF))
        # a new lifetime high-water mark was set during the run: it is this run's peak (finer than sampling)
        cost.peak_rss_mb = rss_after if rss_after > rss_before else peak
        torch = torch or _torch_cuda()  # the method itself may have initialised CUDA
        if torch is not None:
            cost.peak_gpu_mb = torch.cuda.max_memory_allocated() / 2**20
            cost.device = cost.device if cost.device.startswith("cuda") else "cuda"
        _merge_adapter_report(cost, method)


def _merge_adapter_report(cost: Cost, method: Any) -> None:
    if method is None:
        return
    report = getattr(method, "last_cost", None) or {}
    if report.get("peak_child_rss_mb") is not None:
        cost.peak_child_rss_mb = float(report["peak_child_rss_mb"])
    if report.get("peak_gpu_mb") is not None:
        cost.peak_gpu_mb = max(cost.peak_gpu_mb or 0.0, float(report["peak_gpu_mb"]))
    if report.get("device"):
        cost.device = str(report["device"])
    params = getattr(method, "num_parameters", None)
    card = getattr(method, "card", None)
    cost.params = params if isinstance(params, int) else getattr(card, "params", None)


def record_output(cost: Cost, output: Any) -> Cost:
    """Fill in the output geometry (frames, height, width) from the restored `Video`."""
    cost.frames, cost.out_height, cost.out_width = output.num_frames, output.height, output.width
    return cost


def run_profiled(method: Any, lq: Any, *, device: str = "cpu", **kwargs: Any) -> tuple[Any, Cost]:
    """`method.restore(lq, **kwargs)` under `measure`; returns (output, cost)."""
    with measure(method, device) as cost:
        output = method.restore(lq, **kwargs)
    return output, record_output(cost, output)


def process_group_pids(pgid: int) -> list[int]:
    """Pids whose process group is `pgid` (Linux /proc); empty where /proc is unavailable."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            # field 5 of /proc/<pid>/stat is the pgrp; the command name (field 2) may contain spaces
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def parse_nvidia_smi_apps(text: str) -> dict[int, float]:
    """`nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits` -> {pid: MiB}."""
    used: dict[int, float] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        try:
            used[int(parts[0])] = used.get(int(parts[0]), 0.0) + float(parts[1])
        except ValueError:
            continue  # "[N/A]" where the driver hides per-process memory
    return used


def gpu_name() -> str | None:
    """Name of the first NVIDIA GPU, from the driver's /proc entry (no process started), else None."""
    root = Path("/proc/driver/nvidia/gpus")
    for info in sorted(root.glob("*/information")) if root.is_dir() else []:
        for line in info.read_text(errors="replace").splitlines():
            if line.startswith("Model:"):
                return line.split(":", 1)[1].strip()
    return None


def nvidia_driver_present() -> bool:
    return Path("/proc/driver/nvidia/version").exists()


class GroupSampler(threading.Thread):
    """Peak RAM (and GPU memory) of the processes of one process group, sampled while an external tool runs.

    RAM: `ru_maxrss` of an exec'ed child is useless here, because Linux folds the RSS of the pre-exec copy of this
    process into it; instead every `interval` s the group's `/proc/<pid>/status` is read, keeping the largest
    per-process high-water mark (VmHWM, exact for a single-process tool) and the largest sum of VmRSS over the
    group (for tools with worker processes). GPU: `nvidia-smi` per-process memory every `gpu_interval` s; inside
    a container it may report host pids that match nothing here, and the GPU peak then stays None.
    """

    def __init__(self, pgid: int, interval: float = 0.5, gpu: bool = False, gpu_interval: float = 1.0) -> None:
        super().__init__(daemon=True, name="vrbench-group-sampler")
        self.pgid, self.interval, self.gpu_interval = pgid, interval, gpu_interval
        self.smi = shutil.which("nvidia-smi") if gpu else None
        self.peak_rss_mb: float | None = None
        self.peak_gpu_mb: float | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        # dense samples while the tool starts (short runs), then every `interval` s: VmHWM keeps each process's
        # peak between samples anyway, and scanning /proc on a busy host is not free
        next_gpu, wait = 0.0, 0.01
        while True:
            self._take_rss()
            if self.smi and time.monotonic() >= next_gpu:
                self._take_gpu()
                next_gpu = time.monotonic() + self.gpu_interval
            if self._stop_event.wait(wait):
                return
            wait = min(wait * 1.5, self.interval)

    def _take_rss(self) -> None:
        total, hwm = 0.0, 0.0
        for pid in process_group_pids(self.pgid):
            rss, peak = _proc_memory_mb(pid)
            total, hwm = total + rss, max(hwm, peak)
        if total or hwm:
            self.peak_rss_mb = max(self.peak_rss_mb or 0.0, total, hwm)

    def _take_gpu(self) -> None:
        try:
            out = subprocess.run([self.smi, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            return
        used = parse_nvidia_smi_apps(out)
        mine = set(process_group_pids(self.pgid)) & set(used)
        if mine:
            self.peak_gpu_mb = max(self.peak_gpu_mb or 0.0, sum(used[p] for p in mine))

    def stop(self) -> GroupSampler:
        self._stop_event.set()
        self.join()
        return self


def _proc_memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB; zeros if it is gone or has no memory map (a zombie)."""
    rss = hwm = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024.0
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    return rss, hwm
