"""Status of a dataset on this machine and its sha256 manifest: `vrbench datasets list` and `verify`.

Status: `missing` (no folder), `partial` (a folder, but no manifest, files missing, or fewer clips than the card
expects) or `prepared`. `verify` checks every file against `manifest.json`, lists missing, changed and extra
files, and writes the file list into the manifest when there is none yet (a folder the user put there by hand).
With `decode`, every frame of every clip is decoded as well (in chunks), which catches damage inside a file that
the header checks of the loader cannot see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vrbench.data.base import DatasetCard
from vrbench.data.dataset import Dataset
from vrbench.errors import InputError
from vrbench.fsutil import atomic_write_text
from vrbench.paths import data_root
from vrbench.weights import sha256_file


@dataclass
class Status:
    state: str  # prepared | partial | missing | any folder
    detail: str = ""


def _clip_count(manifest: dict[str, Any], root: Path) -> int:
    if manifest.get("clips"):
        return len(manifest["clips"])
    names = {p.name.split(".")[0] for side in ("GT", "LQ") if (root / side).is_dir() for p in (root / side).iterdir()}
    return len(names)


def dataset_status(card: DatasetCard, root: Path | None = None) -> Status:
    """Cheap status (file existence, no hashing) of a card's prepared folder."""
    if card.kind == "folder" and root is None:
        return Status("any folder", "pass --root")
    root = Path(root) if root else data_root() / card.name
    if not root.is_dir():
        return Status("missing", prepare_step(card))
    file = root / "manifest.json"
    manifest = json.loads(file.read_text()) if file.is_file() else {}
    clips = _clip_count(manifest, root)
    if not manifest.get("files"):
        return Status("partial", f"{clips} clips, no checksums: `vrbench datasets verify {card.name}`")
    absent = [rel for rel in manifest["files"] if not (root / rel).is_file()]
    if absent:
        return Status("partial", f"{len(absent)} of {len(manifest['files'])} files missing, e.g. {absent[0]}")
    if card.clips and clips < card.clips:
        return Status("partial", f"{clips} of {card.clips} clips ({len(manifest.get('problems', []))} left out)")
    return Status("prepared", f"{clips} clips")


def prepare_step(card: DatasetCard) -> str:
    """The `prepare` command that can work here: bare where the loader makes the data itself or the files can be
    had without a person (on disk, or downloadable now), with `--from PATH` where they must be fetched by hand."""
    from vrbench.data.builtin import LOADERS
    from vrbench.data.download import obtainable

    if LOADERS[card.loader].makes_itself or obtainable(card):
        return f"`vrbench datasets prepare {card.name}`"
    return f"get it (datasets/README.md), then `vrbench datasets prepare {card.name} --from PATH`"


@dataclass
class VerifyResult:
    root: Path
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    decode_errors: list[str] = field(default_factory=list)
    wrote_manifest: bool = False

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.decode_errors)


def _disk_files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "manifest.json" and not any(part.startswith(".") for part in
                                                                     p.relative_to(root).parts)}


def verify_dataset(card: DatasetCard, root: Path | None = None, *, decode: bool = False) -> VerifyResult:
    """Check (or, if absent, write) the sha256 manifest of a prepared dataset; optionally decode every frame."""
    root = Path(root) if root else data_root() / card.name
    if not root.is_dir():
        raise InputError("dataset not found", dataset=card.name, file=root,
                         hint=f"Prepare it first: `vrbench datasets prepare {card.name}`")
    file = root / "manifest.json"
    manifest = json.loads(file.read_text()) if file.is_file() else {}
    on_disk = _disk_files(root)
    result = VerifyResult(root)
    if not manifest.get("files"):
        manifest.setdefault("dataset", card.name)
        manifest["files"] = {rel: sha256_file(p) for rel, p in on_disk.items()}
        atomic_write_text(file, json.dumps(manifest, indent=1, sort_keys=True))
        result.wrote_manifest, result.checked = True, len(on_disk)
    else:
        for rel, digest in manifest["files"].items():
            if rel not in on_disk:
                result.missing.append(rel)
            elif sha256_file(on_disk[rel]) != digest:
                result.changed.append(rel)
            result.checked += 1
        result.extra = sorted(set(on_disk) - set(manifest["files"]))
    if decode:
        result.decode_errors = decode_all(card, root)
    return result


def decode_all(card: DatasetCard, root: Path) -> list[str]:
    """Decode every frame of every clip (chunk by chunk); one message per clip side that fails."""
    dataset = Dataset(card, root)
    dataset.scan()
    errors = [str(p) for p in dataset.problems]
    for clip in dataset.report.good:
        for video in (clip.gt, clip.lq):
            if video is None:
                continue
            try:
                for _ in video.iter_chunks():
                    pass
            except InputError as e:
                errors.append(str(e))
    return errors
