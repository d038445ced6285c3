"""Writing what later steps trust, and removing only what vrbench made.

- Atomic writes: the bytes go to a temporary file beside the target and replace it in one rename (POSIX rename(2),
  `os.replace`, is atomic within one file system), so a reader, or a process killed at any moment, sees the old
  complete file or the new complete one, never a prefix.
- Temporary names carry `.vrbench.tmp-<pid>-<host>-<random>`: a later run (or `vrbench clean`) removes those whose
  process is gone on this host, and nothing else.
- Markers: a small hidden JSON file (`.vrbench-report`, `.vrbench-dataset`) in a folder vrbench made, so that an
  existing folder is written into or replaced only when vrbench made it.
- CSV cells that a spreadsheet would evaluate (`=`, `+`, `-`, `@`, tab, CR first) are neutralised with a leading
  `'` (OWASP, "CSV Injection").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vrbench.errors import InputError

TEMP_PATTERN = re.compile(r"\.vrbench\.tmp-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[0-9a-f]{8}")
# output folders of the run core before temporary names carried the host: `<input hash>.tmp-<pid>-<time_ns>`
OLD_OUTPUT_TEMP = re.compile(r"[0-9a-f]{16}\.tmp-(?P<pid>\d+)-\d{16,}")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def host_id() -> str:
    """8 hex digits naming this machine: a temporary name made on another host (a shared disk) is never judged."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_name(base: str, suffix: str = "") -> str:
    """A hidden name beside `base` for a temporary file or folder of this process (`suffix` kept for writers that
    pick the format from it, e.g. `.mkv`)."""
    return f".{base}.vrbench.tmp-{os.getpid()}-{host_id()}-{secrets.token_hex(4)}{suffix}"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename itself is still atomic
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """A temporary path beside `target` (same suffix) to write a file or a folder into; it replaces `target` when
    the block ends without error and is removed otherwise. A folder can replace only a missing or empty one."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(temp_name(target.name, target.suffix))
    try:
        yield tmp
        if tmp.is_file():
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically (see the module docstring)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    return atomic_write_bytes(path, text.encode(encoding))


# ---- CSV ---------------------------------------------------------------------------------------------------------
def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading `'`; numbers, and text that is a number
    ("-inf", "-0.5"), are kept as they are."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def write_csv(frame: Any, path: str | Path) -> Path:
    """A pandas DataFrame as CSV (no index), every text cell and header through `csv_cell`, written atomically."""
    from pandas.api.types import is_numeric_dtype

    safe = frame.rename(columns=csv_cell)
    for column in safe.columns:
        if not is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(csv_cell)
    return atomic_write_text(path, safe.to_csv(index=False))


# ---- markers: folders vrbench made ------------------------------------------------------------------------------
def marker_path(folder: Path, kind: str) -> Path:
    return Path(folder) / f".vrbench-{kind}"


def write_marker(folder: str | Path, kind: str, **fields: Any) -> Path:
    """Mark `folder` as a vrbench `kind` folder ("report", "dataset"), with a few identifying fields."""
    import vrbench

    return atomic_write_text(marker_path(Path(folder), kind), json.dumps(
        {"made_by": "vrbench", "kind": kind, "vrbench": vrbench.__version__, **fields}, sort_keys=True) + "\n")


def read_marker(folder: str | Path, kind: str) -> dict[str, Any] | None:
    """The fields of `folder`'s `kind` marker, or None if it has none (or one that is not vrbench's)."""
    file = marker_path(Path(folder), kind)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("made_by") == "vrbench" and data.get("kind") == kind
    return data if ok else None


def is_vrbench_made(folder: str | Path, kind: str, **fields: Any) -> bool:
    """True if `folder` carries a `kind` marker whose fields include `fields` (e.g. `dataset="udm10"`)."""
    marker = read_marker(folder, kind)
    return marker is not None and all(marker.get(k) == v for k, v in fields.items())


def describe_folder(folder: Path, limit: int = 3) -> str:
    """What a folder holds, in a few words: `2 entries: notes.txt, thesis/`."""
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as e:
        return f"an unreadable folder ({e.strerror})"
    if not entries:
        return "an empty folder"
    named = [p.name + ("/" if p.is_dir() else "") for p in entries[:limit]]
    more = f", ... ({len(entries) - limit} more)" if len(entries) > limit else ""
    return f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}: {', '.join(named)}{more}"


def refuse_foreign(folder: str | Path, kind: str, *, accept: Callable[[Path], bool] | None = None) -> None:
    """Raise unless `folder` is new, empty, carries a vrbench `kind` marker or is recognised by `accept`; changes
    nothing (commands check their output folder before they start work)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"refusing to write a {kind} there", file=folder,
                         expected="a new folder, or one vrbench made", found="a file")
    if folder.is_dir() and read_marker(folder, kind) is None and any(folder.iterdir()) \
            and not (accept is not None and accept(folder)):
        raise InputError(f"refusing to write a {kind} into a folder vrbench did not make", file=folder,
                         expected=f"a new or empty folder, or one holding {marker_path(folder, kind).name}",
                         found=describe_folder(folder), hint="choose another folder")


def claim_folder(folder: str | Path, kind: str, *, accept: Callable[[Path], bool] | None = None,
                 **fields: Any) -> Path:
    """Create `folder`, or take an existing one that is empty or carries a vrbench `kind` marker (or that `accept`
    recognises); mark it and return it. Anything else is refused with one line naming the folder and its content."""
    folder = Path(folder)
    refuse_foreign(folder, kind, accept=accept)
    folder.mkdir(parents=True, exist_ok=True)
    write_marker(folder, kind, **fields)
    return folder


# ---- leftovers of killed processes -------------------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    """True if a process `pid` exists on this host (or might: anything but 'no such process' counts as alive)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _stale(name: str) -> bool:
    if m := TEMP_PATTERN.search(name):
        return m["host"] == host_id() and int(m["pid"]) != os.getpid() and not pid_alive(int(m["pid"]))
    if m := OLD_OUTPUT_TEMP.fullmatch(name):
        return int(m["pid"]) != os.getpid() and not pid_alive(int(m["pid"]))
    return False


def stale_temporaries(folder: str | Path) -> list[Path]:
    """Temporary files and folders directly in `folder` that vrbench made in a process of this host that is gone."""
    try:
        return sorted(p for p in Path(folder).iterdir() if _stale(p.name))
    except OSError:  # missing or unreadable folder: nothing of ours to find there
        return []


def remove_stale(folder: str | Path, *, dry_run: bool = False) -> list[Path]:
    """Remove (or, with `dry_run`, only list) `stale_temporaries(folder)`; returns them."""
    found = stale_temporaries(folder)
    if not dry_run:
        for path in found:
            _remove(path)
    return found


def stale_under(root: str | Path, depth: int, *, dry_run: bool = False) -> list[Path]:
    """`remove_stale` in `root` and in its folders down to `depth` levels below it (temporary folders themselves
    and hidden folders are not entered)."""
    found, level = [], [Path(root)]
    for d in range(depth + 1):
        below = []
        for folder in level:
            found += remove_stale(folder, dry_run=dry_run)
            if d < depth:
                try:
                    below += sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()
                                    and not p.name.startswith(".") and not _stale(p.name))
                except OSError:
                    continue
        level = below
    return found
