"""Safe unpacking of zip and tar archives that users download for a dataset.

Every entry is checked before anything is written: absolute paths, drive letters, `..` components, and symbolic or
hard links whose target leaves the extraction folder refuse the whole archive, naming the entry. Links that stay
inside the tree, device files and FIFOs are not needed by any dataset and are skipped (the list is returned).
Entries are written one by one into folders we create, never through `extractall`.

Sizes are checked before anything is written: the declared unpacked total may not exceed `MAX_UNPACK_RATIO` times
the archive's size (at least 1 MiB counts as the archive's size) nor the free space at the destination; while
writing, the bytes of each entry are counted and an entry that grows past its declared size is refused, so a
header that lies cannot get round the check.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from vrbench.errors import InputError

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ARCHIVE_SUFFIXES = (".zip", *TAR_SUFFIXES)
JUNK = ("__MACOSX", ".DS_Store", "Thumbs.db")
# Unpacked bytes per archive byte. Video frames barely compress (PNG and JPEG ~1x, BMP or raw frames a few x), while
# a zip bomb reaches 1000x (a 1 MB zip of zeros unpacks to 1 GiB).
MAX_UNPACK_RATIO = 100


@dataclass
class Unpacked:
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # in-tree links, special files, OS junk


def is_archive(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and name.endswith(ARCHIVE_SUFFIXES)


def _safe_name(name: str, archive: Path) -> PurePosixPath:
    """The entry's relative path, or InputError if it is absolute or climbs out of the tree."""
    text = name.replace("\\", "/")
    parts = PurePosixPath(text).parts
    if text.startswith("/") or (parts and len(parts[0]) == 2 and parts[0][1] == ":"):
        raise InputError("archive entry has an absolute path", file=archive, expected="relative paths", found=name)
    if ".." in parts:
        raise InputError("archive entry escapes the extraction folder", file=archive,
                         expected="paths without '..'", found=name)
    return PurePosixPath(*[p for p in parts if p not in ("", ".")])


def _check_link(entry: PurePosixPath, target: str, archive: Path, hard: bool) -> None:
    """A link target must stay inside the tree (symlinks resolve from the entry's folder, hard links from the top)."""
    t = target.replace("\\", "/")
    base = PurePosixPath() if hard else entry.parent
    parts: list[str] = []
    escaped = t.startswith("/")
    for part in (*base.parts, *PurePosixPath(t).parts):
        if part == "..":
            if not parts:
                escaped = True
                break
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    if escaped:
        kind = "hard link" if hard else "symbolic link"
        raise InputError(f"archive {kind} points outside the extraction folder", file=archive,
                         expected="links inside the archive", found=f"{entry} -> {target}")


def _is_junk(rel: PurePosixPath) -> bool:
    return any(p in JUNK for p in rel.parts) or rel.name.startswith("._")


def check_unpacked_size(archive: Path, dest: Path, declared: int) -> None:
    """Refuse an archive whose entries declare more bytes than `MAX_UNPACK_RATIO` x its size or the free space."""
    packed = archive.stat().st_size
    limit = MAX_UNPACK_RATIO * max(packed, 1 << 20)
    if declared > limit:
        raise InputError("archive would unpack to too much data", file=archive,
                         expected=f"at most {MAX_UNPACK_RATIO}x its {packed} bytes ({limit} bytes)",
                         found=f"{declared} bytes declared by its entries")
    free = shutil.disk_usage(dest).free
    if declared > free:
        raise InputError("not enough free space to unpack the archive", file=archive, expected=f"{declared} bytes",
                         found=f"{free} bytes free under {dest}")


def _write(dest: Path, rel: PurePosixPath, source, archive: Path, declared: int) -> None:
    target = dest.joinpath(*rel.parts)
    if target.exists():
        raise InputError("archive entries collide", file=archive, expected="unique paths", found=str(rel))
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(target, "wb") as out:
        while block := source.read(1 << 20):
            written += len(block)
            if written > declared:
                raise InputError("archive entry is larger than its header declares", file=archive,
                                 expected=f"{declared} bytes", found=f"more than {declared} bytes in {rel}")
            out.write(block)


def _unpack_zip(archive: Path, dest: Path) -> Unpacked:
    result = Unpacked()
    with zipfile.ZipFile(archive) as zf:
        plan = []
        for info in zf.infolist():
            rel = _safe_name(info.filename, archive)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                _check_link(rel, zf.read(info).decode("utf-8", "replace"), archive, hard=False)
                result.skipped.append(str(rel))
            elif info.is_dir() or not rel.parts:
                continue
            elif _is_junk(rel):
                result.skipped.append(str(rel))
            else:
                plan.append((info, rel))
        check_unpacked_size(archive, dest, sum(info.file_size for info, _ in plan))
        for info, rel in plan:
            with zf.open(info) as src:
                _write(dest, rel, src, archive, info.file_size)
            result.files.append(str(rel))
    return result


def _unpack_tar(archive: Path, dest: Path) -> Unpacked:
    result = Unpacked()
    with tarfile.open(archive) as tf:
        plan = []
        for member in tf.getmembers():
            rel = _safe_name(member.name, archive)
            if member.issym() or member.islnk():
                _check_link(rel, member.linkname, archive, hard=member.islnk())
                result.skipped.append(str(rel))
            elif member.isfile() and rel.parts and not _is_junk(rel):
                plan.append((member, rel))
            elif not member.isdir():
                result.skipped.append(str(rel))
        check_unpacked_size(archive, dest, sum(member.size for member, _ in plan))
        for member, rel in plan:
            src = tf.extractfile(member)
            if src is None:
                raise InputError("cannot read archive entry", file=archive, found=member.name)
            with src:
                _write(dest, rel, src, archive, member.size)
            result.files.append(str(rel))
    return result


def safe_unpack(archive: Path, dest: Path) -> Unpacked:
    """Unpack a zip or tar archive into `dest` after checking every entry (see the module docstring)."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            return _unpack_zip(archive, dest)
        if name.endswith(TAR_SUFFIXES):
            return _unpack_tar(archive, dest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise InputError("cannot read archive", file=archive, expected="a valid zip or tar file",
                         found=f"{type(e).__name__}: {e}") from e
    raise InputError("not a supported archive", file=archive, expected=ARCHIVE_SUFFIXES, found=archive.suffix)
