"""Memoised sha256 digests of files, for cache keys and weights checks.

Hashing a checkpoint or a folder of frames on every run is slow, so digests are memoised in a small JSON file. A
memoised digest is trusted only while the file's path, size, mtime_ns, inode and ctime_ns are all unchanged: a
file swapped under the same name (another inode) or rewritten in place with its size and mtime forced back
(`os.utime` moves ctime) is hashed again. Concurrent writers may drop each other's entries, which costs a rehash,
never a wrong digest.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def sha256_file(file: Path, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def file_stamp(file: Path) -> list[int]:
    """What must be unchanged for a memoised digest of `file` to stand."""
    st = os.stat(file)
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]


class DigestMemo:
    """{absolute path: {stamp, sha256, ...}} kept in one JSON file; `save()` writes it atomically."""

    def __init__(self, file: Path) -> None:
        self.file = Path(file)
        self.entries = _read(self.file)
        self.dirty: dict[str, dict[str, Any]] = {}

    def entry(self, path: Path) -> dict[str, Any]:
        """The memo entry of `path`, hashed again (and its extra fields dropped) if the file changed."""
        key = str(Path(path).resolve())
        stamp = file_stamp(path)
        entry = self.entries.get(key)
        if not entry or entry.get("stamp") != stamp or "sha256" not in entry:
            entry = {"stamp": stamp, "sha256": sha256_file(path)}
            self.remember(path, entry)
        return entry

    def sha256(self, path: Path) -> str:
        return self.entry(path)["sha256"]

    def remember(self, path: Path, entry: dict[str, Any]) -> None:
        key = str(Path(path).resolve())
        self.entries[key] = self.dirty[key] = entry

    def save(self) -> None:
        if not self.dirty:
            return
        merged = {**_read(self.file), **self.dirty}
        tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.tmp")
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(merged, indent=0))
            os.replace(tmp, self.file)
            self.dirty = {}
        except OSError:  # a read-only cache only costs a rehash next time
            tmp.unlink(missing_ok=True)


def _read(file: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(file.read_text()) if file.is_file() else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
