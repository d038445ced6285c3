"""The `command` adapter: run a method's official inference code as an external process, one clip at a time.

Each clip gets a fresh run folder `<work_root>/<card>/<clip>-<token>/` holding `input/` (the LQ clip as PNG
frames `{:08d}.png` from 0, or a lossless video), `output/` (where the tool must write) and `log.txt` (the tool's
stdout and stderr). Tools such as ffmpeg write into a folder but never create it, so the folder holding every path
the command names under `{output_dir}` is created before the tool starts.
The process runs without a shell in its own session, with a run token in its environment. When it ends (exit,
failure or timeout) every process of its tree is killed: its session's process group, its descendants, and any
process carrying the token, which finds daemons that called `setsid` and were re-parented (the technique of
Jenkins' ProcessTreeKiller, which marks builds with BUILD_ID). The log keeps the first and the last
`LOG_KEEP_BYTES` of the tool's output, so a tool that prints gigabytes cannot fill the disk. Outputs are
accepted only from inside the run folder (paths are resolved, symlinks included) and only after every frame has
been decoded and the frame count and size checked against what the card says to expect.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import Any

from vrbench.errors import InputError, MethodError
from vrbench.methods.base import MethodCard, config_hash
from vrbench.methods.command_spec import CommandCard, readiness, render, resolve_vars
from vrbench.methods.folder import lossy_warnings
from vrbench.methods.profiling import GroupSampler, gpu_name, nvidia_driver_present
from vrbench.paths import work_dir
from vrbench.video import (
    CONTAINER_EXTENSIONS,
    Video,
    check_frame_names,
    open_video,
    write_frames,
    write_video_lossless,
)

KILL_GRACE_S = 2.0  # between SIGTERM and SIGKILL of a timed-out process group
LOG_TAIL_LINES = 15
LOG_KEEP_BYTES = 1 << 20  # of the tool's output, the first and the last MiB are kept in its log
RUN_TOKEN_ENV = "VRBENCH_RUN_TOKEN"


@dataclass
class ProcessResult:
    returncode: int | None  # None: killed on timeout
    seconds: float
    peak_rss_mb: float | None
    peak_gpu_mb: float | None
    timed_out: bool


def run_logged(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path, timeout: float,
               sample_gpu: bool = False) -> ProcessResult:
    """Run `argv` (no shell) with stdout+stderr to `log` (head and tail kept); kill its whole process tree when it
    ends, and after `timeout` seconds if it has not."""
    log.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    read_end, write_end = os.pipe()
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env={**env, RUN_TOKEN_ENV: token}, stdin=subprocess.DEVNULL,
                                stdout=write_end, stderr=subprocess.STDOUT, shell=False, start_new_session=True,
                                close_fds=True)
    except OSError as e:
        os.close(read_end)
        raise MethodError(f"cannot start {argv[0]!r} in {cwd}: {e.strerror or e}") from e
    finally:
        os.close(write_end)
    copier = CappedLog(read_end, log)
    copier.start()
    sampler = GroupSampler(proc.pid, gpu=sample_gpu)
    sampler.start()
    status, timed_out = None, False
    try:
        status = _wait(proc.pid, t0 + timeout)
        if status is None:
            timed_out = True
            end_process_tree(proc.pid, token, signal.SIGTERM)
            status = _wait(proc.pid, time.perf_counter() + KILL_GRACE_S)
    finally:
        if status is None:  # timed out and ignored SIGTERM, or interrupted: nothing of it may survive
            end_process_tree(proc.pid, token, signal.SIGKILL)
            _, status = os.waitpid(proc.pid, 0)
        end_process_tree(proc.pid, token, signal.SIGKILL)  # stragglers and daemons the tool left behind
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
        copier.join(timeout=10)  # EOF once every holder of the pipe is gone
    return ProcessResult(None if timed_out else proc.returncode, time.perf_counter() - t0, sampler.peak_rss_mb,
                         sampler.peak_gpu_mb, timed_out)


class CappedLog(threading.Thread):
    """Copies a pipe into `log`: the first `keep` bytes as they come, the last `keep` bytes at the end, and one line
    saying how much was left out between them."""

    def __init__(self, fd: int, log: Path, keep: int = LOG_KEEP_BYTES) -> None:
        super().__init__(daemon=True, name="vrbench-tool-log")
        self.fd, self.log, self.keep = fd, log, keep

    def run(self) -> None:
        head_left, tail, held, dropped = self.keep, deque(), 0, 0
        with open(self.log, "ab") as sink:
            while data := os.read(self.fd, 1 << 16):
                if head_left:
                    sink.write(data[:head_left])
                    sink.flush()
                    data, head_left = data[head_left:], max(0, head_left - len(data))
                if data:
                    tail.append(data)
                    held += len(data)
                    while held - len(tail[0]) >= self.keep:
                        held -= len(tail[0])
                        dropped += len(tail.popleft())
            os.close(self.fd)
            rest = b"".join(tail)
            dropped += max(0, len(rest) - self.keep)
            if dropped:
                sink.write(f"\n[vrbench: {dropped} bytes of output left out here]\n".encode())
            sink.write(rest[-self.keep:] if rest else b"")


def _wait(pid: int, deadline: float) -> int | None:
    """Reap `pid` before `deadline` (its wait status), else None. Polls so the deadline holds without threads."""
    delay = 0.005
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.perf_counter() >= deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def process_tree(root: int, token: str) -> set[int]:
    """Pids of `root`'s tree: its process group, its descendants, and every process whose environment carries
    `token` (daemons that left the group with setsid and were re-parented when their parent exited)."""
    parents: dict[int, int] = {}
    found: set[int] = set()
    marker = f"{RUN_TOKEN_ENV}={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] == "Z":  # already dead, waiting to be reaped
                continue
            parents[pid] = int(fields[1])
            if int(fields[2]) == root:  # process group id: the session leader's pid
                found.add(pid)
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.add(pid)
        except (OSError, IndexError, ValueError):  # gone meanwhile, or another user's process
            continue
    frontier = found | {root}  # `root` itself only if still running: a reaped pid may belong to someone else now
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier and pid not in found}
        found |= frontier
    return found


def end_process_tree(root: int, token: str, sig: signal.Signals) -> None:
    """Send `sig` to every process of `root`'s tree (see `process_tree`); with SIGKILL, repeat until none is left,
    so children forked meanwhile go too."""
    for _ in range(20):
        pids = process_tree(root, token)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        if sig != signal.SIGKILL or not pids:
            return
        time.sleep(0.01)


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not log.is_file():
        return ""
    text = log.read_bytes()[-16384:].decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def safe_name(name: str) -> str:
    """A clip name usable as a file name by any tool (some build shell strings from paths): [A-Za-z0-9._-], not
    starting with '-' or '.' (a renamed clip gets a short hash of its name, so two names never collide)."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "clip"
    if clean.startswith("-"):  # a clip named `-o` must reach the tool as a value, never as an option
        clean = "_" + clean
    return clean if clean == name else f"{clean}-{config_hash({'clip': name})[:6]}"


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every symlink resolved, lies inside `root`."""
    return path.resolve().is_relative_to(root.resolve())


class CommandMethod:
    """A `MethodCard` plus a `CommandCard`: restores a clip by running the card's command."""

    def __init__(self, spec: CommandCard, card: MethodCard, options: dict[str, Any],
                 card_dir: Path | None = None) -> None:
        self.spec, self.card = spec, card
        self.vars = resolve_vars(spec, options, os.environ, card_dir)
        reasons = readiness(spec, self.vars, nvidia_driver_present())
        if reasons:
            raise InputError(f"method '{spec.name}' cannot run here", expected="a runnable card",
                             found="; ".join(reasons))
        self.timeout = float(options.get("timeout", spec.command.timeout))
        self.work_root = Path(options.get("work_root") or work_dir() / "command-runs").expanduser().resolve()
        self.keep = bool(options.get("keep", False))
        self.last_cost: dict[str, Any] = {}
        self.last_run_dir: Path | None = None

    def config(self) -> dict[str, Any]:
        """Everything that can change the output: the card's command, its variables and the tool's git commit."""
        repo = self.vars.get("repo")
        return {"adapter": "command", "command": self.spec.command.model_dump(exclude={"timeout", "requires"}),
                "vars": self.vars, "repo_commit": git_head(Path(repo)) if repo else None,
                "default_steps": self.card.default_steps}

    # ---- one clip ---------------------------------------------------------------------------------------------
    def restore(self, lq: Video, *, scale: int, steps: int | None = None, seed: int = 0,
                device: Any = None) -> Video:
        """Run the command on one clip. Its output stays on disk until `release()` or the next `restore()`.

        `steps=None` runs the tool's own default (the card's `default_steps`, which `{steps}` renders to);
        `steps_args` are added only when a step count is asked for.
        """
        asked, steps = steps is not None, self._steps(steps)
        self.release()
        run_dir = self._new_run_dir(lq.name)
        clip = safe_name(lq.name or "clip")
        values = self._values(lq, clip, run_dir, scale, steps, seed)
        self._stage_input(lq, Path(values["input"]))
        argv, cwd, env = self._invocation(values, asked)
        make_output_parents(argv + [env[k] for k in self.spec.command.env], Path(values["output_dir"]))
        result = run_logged(argv, cwd=cwd, env=env, log=run_dir / "log.txt", timeout=self.timeout,
                            sample_gpu=self.spec.command.requires.gpu)
        self.last_cost = {"peak_child_rss_mb": result.peak_rss_mb, "peak_gpu_mb": result.peak_gpu_mb,
                          "device": self._device(), "exit_code": result.returncode, "log": str(run_dir / "log.txt")}
        if not self.keep:
            _remove_tree(run_dir / "input")
        if result.timed_out or result.returncode != 0:
            self.last_run_dir = None  # keep the failed run's log (the error names it); drop its partial output
            if not self.keep:
                _remove_tree(run_dir / "output")
        self._raise_on_failure(result, lq.name, run_dir)
        expected = (lq.num_frames if self.spec.command.geometry.frames == "same" else None,
                    (lq.height * scale, lq.width * scale) if self.spec.command.geometry.size == "scale" else None)
        return collect_output(self.spec.command.output.format, render(self.spec.command.output.path, values),
                              run_dir, lq, expected, strict_names=self.spec.command.output.strict_names)

    def release(self, output: Video | None = None) -> None:
        """Delete the last run folder (call once its output has been copied into the harness cache)."""
        if self.last_run_dir is not None and not self.keep:
            _remove_tree(self.last_run_dir)
            self.last_run_dir = None

    def _steps(self, steps: int | None) -> int | None:
        if steps is None:
            return self.card.default_steps
        if not self.card.supports_steps and steps != self.card.default_steps:
            raise InputError(f"method '{self.card.name}' has no step-count flag", expected=self.card.default_steps,
                             found=steps, hint="its official script fixes the number of steps")
        return steps

    def _new_run_dir(self, clip: str) -> Path:
        run_dir = self.work_root / safe_name(self.card.name) / f"{safe_name(clip or 'clip')}-{uuid.uuid4().hex[:8]}"
        (run_dir / "output").mkdir(parents=True)
        (run_dir / "input").mkdir()
        self.last_run_dir = run_dir
        return run_dir

    def _values(self, lq: Video, clip: str, run_dir: Path, scale: int, steps: int | None, seed: int) -> dict:
        inp = self.spec.command.input
        input_path = run_dir / "input" / (clip if inp.format == "frames" else clip + inp.extension)
        return {**self.vars, "input": str(input_path), "input_dir": str(run_dir / "input"),
                "output_dir": str(run_dir / "output"), "run_dir": str(run_dir), "clip": clip, "scale": scale,
                "steps": steps, "seed": seed, "out_height": lq.height * scale, "out_width": lq.width * scale,
                "in_height": lq.height, "in_width": lq.width, "num_frames": lq.num_frames, "fps": f"{lq.fps:g}"}

    def _stage_input(self, lq: Video, target: Path) -> None:
        inp = self.spec.command.input
        if inp.format == "frames":
            write_frames(lq.iter_chunks(), target, pattern=inp.frame_name)
        else:
            write_video_lossless(lq.iter_chunks(), target, fps=lq.fps, codec=inp.codec)

    def _invocation(self, values: dict, steps_asked: bool) -> tuple[list[str], Path, dict[str, str]]:
        cmd = self.spec.command
        templates = list(cmd.argv) + (list(cmd.steps_args) if steps_asked else []) + list(cmd.seed_args)
        argv = [render(t, values, f"command of '{self.card.name}'") for t in templates]
        cwd = Path(render(cmd.workdir, values)).expanduser() if cmd.workdir else Path(values["run_dir"])
        if "/" in argv[0] and not Path(argv[0]).is_absolute():
            argv[0] = str((cwd / argv[0]).resolve())
        env = dict(os.environ) if cmd.inherit_env else {k: os.environ[k] for k in ("PATH", "HOME", "LANG")
                                                        if k in os.environ}
        env.update({k: render(v, values, f"env.{k}") for k, v in cmd.env.items()})
        return argv, cwd, env

    def _device(self) -> str:
        if not self.spec.command.requires.gpu:
            return "cpu"
        name = gpu_name()
        return f"cuda ({name})" if name else "cuda"

    def _raise_on_failure(self, result: ProcessResult, clip: str, run_dir: Path) -> None:
        log = run_dir / "log.txt"
        tail = log_tail(log)
        where = f"(clip '{clip}', log {log})"
        if result.timed_out:
            raise MethodError(f"'{self.card.name}' timed out after {self.timeout:g} s and its process group was "
                              f"killed {where}; last log lines:\n{tail}")
        if result.returncode != 0:
            raise MethodError(f"'{self.card.name}' exited with status {result.returncode} {where}; last log "
                              f"lines:\n{tail}")


def make_output_parents(args: list[str], output_dir: Path) -> None:
    """Create the folder holding each path that an argument names under `output_dir` (`{output_dir}/{clip}/%08d.png`
    -> `output/<clip>/`). The named path itself is left to the tool, so tools that create their own output folder
    (and refuse an existing one) still can."""
    root = str(output_dir) + os.sep
    for arg in args:
        at = arg.find(root)
        if at < 0:
            continue
        parent = Path(os.path.normpath(arg[at:])).parent
        if parent != output_dir and parent.is_relative_to(output_dir):
            parent.mkdir(parents=True, exist_ok=True)


def collect_output(fmt: str, pattern: str, run_dir: Path, lq: Video,
                   expected: tuple[int | None, tuple[int, int] | None], strict_names: bool = True) -> Video:
    """Find the one output the pattern names inside `run_dir`, check its frame names, decode all of it and check
    count and size."""
    out_dir = run_dir / "output"
    full = Path(os.path.normpath(out_dir / pattern))  # absolute patterns stay absolute; `..` is folded here
    if not _static_prefix(full).is_relative_to(run_dir):  # lexical here; links are checked once matched
        raise InputError("output path escapes the run folder", clip=lq.name, file=pattern,
                         expected=f"a path inside {run_dir}", found=str(full))
    matches = [Path(m) for m in sorted(glob(str(full)))]
    matches = [m for m in matches if (m.is_dir() if fmt == "frames" else m.suffix.lower() in CONTAINER_EXTENSIONS)]
    if len(matches) != 1:
        listing = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*"))[:12]
        raise MethodError(f"expected exactly one output {'frame folder' if fmt == 'frames' else 'video'} matching "
                          f"{pattern!r} for clip '{lq.name}', found {len(matches)}; output folder holds {listing}")
    path = matches[0]
    files = [path] + ([p for p in path.rglob("*")] if path.is_dir() else [])
    escaped = [str(p) for p in files if not inside(p, run_dir)]
    if escaped:
        raise InputError("output links outside the run folder", clip=lq.name, file=path,
                         expected=f"files inside {run_dir}", found=escaped[:3])
    if path.is_dir() and strict_names:
        check_frame_names(path, lq.name)
    video = open_video(path, name=lq.name, fps=lq.fps)
    _verify(video, lq, expected)
    video.conversions += lossy_warnings(video)
    return video


def _verify(video: Video, lq: Video, expected: tuple[int | None, tuple[int, int] | None]) -> None:
    """Decode every frame (a truncated or corrupt output fails here, not in the metrics)."""
    want_frames, want_size = expected
    if want_size is not None and video.size != want_size:
        raise InputError("wrong output size", clip=lq.name, file=video.path,
                         expected=f"{want_size[1]}x{want_size[0]}", found=f"{video.width}x{video.height}")
    decoded = sum(len(chunk) for chunk in video.iter_chunks())
    if want_frames is not None and (video.num_frames != want_frames or decoded != want_frames):
        raise InputError("wrong number of output frames", clip=lq.name, file=video.path,
                         expected=f"{want_frames} frames", found=f"{decoded} frames")


def git_head(repo: Path) -> str | None:
    """The commit checked out in `repo`, read from `.git` without running git; None if not a plain checkout."""
    git = repo.expanduser() / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).is_file():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        return None
    return None


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _static_prefix(path: Path) -> Path:
    """The leading part of a glob pattern that holds no wildcard."""
    parts = []
    for part in path.parts:
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return Path(*parts)
