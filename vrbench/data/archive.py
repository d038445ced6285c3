"""Safe unpacking of zip and tar archives that users download for a dataset.

Every entry is checked before anything is written: absolute paths, drive letters, `..` components, and symbolic or
hard links whose target leaves the extraction folder refuse the whole archive, naming the entry. Links that stay
inside the tree, device files and FIFOs are not needed by any dataset and are skipped (the list is returned).
Entries are written one by one into folders we create, never through `extractall`.
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


def _write(dest: Path, rel: PurePosixPath, source, archive: Path) -> None:
    target = dest.joinpath(*rel.parts)
    if target.exists():
        raise InputError("archive entries collide", file=archive, expected="unique paths", found=str(rel))
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)


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
        for info, rel in plan:
            with zf.open(info) as src:
                _write(dest, rel, src, archive)
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
        for member, rel in plan:
            src = tf.extractfile(member)
            if src is None:
                raise InputError("cannot read archive entry", file=archive, found=member.name)
            with src:
                _write(dest, rel, src, archive)
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
