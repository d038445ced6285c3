"""Dataset cards, clips and the canonical on-disk layout every loader normalises to.

Canonical layout of a prepared dataset `<root>/<name>/`: `GT/<clip>/` and `LQ/<clip>/` frame folders (or
`<clip>.<ext>` videos), plus `manifest.json` with the sha256 of every file. GT and LQ pair by clip name.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vrbench.errors import InputError
from vrbench.video import CONTAINER_EXTENSIONS, Video, natural_key, open_video


@dataclass(frozen=True)
class DatasetCard:
    """What a benchmark set is: counts, geometry, where it comes from, how its LQ is made, what to watch for."""

    name: str
    summary: str
    kind: str = "synthetic-paired"  # synthetic-paired | real | aigc | long-form | demo | folder
    scale: int = 4
    clips: int | None = None
    frames_per_clip: int | None = None
    resolution: str = ""
    urls: tuple[str, ...] = ()
    licence: str = ""
    layouts: tuple[str, ...] = ("canonical",)
    lq_source: str = "released"  # released | degrade:<preset>:<seed>
    caveats: tuple[str, ...] = ()
    loader: str = "canonical"
    citation: str = ""

    @classmethod
    def from_yaml(cls, file: Path) -> DatasetCard:
        data = yaml.safe_load(file.read_text()) or {}
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError("unknown keys in dataset card", file=file, expected=sorted(known), found=unknown)
        for key in ("urls", "layouts", "caveats"):
            if key in data:
                data[key] = tuple(data[key] or ())
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Clip:
    """One clip of a dataset: ground truth and/or LQ input, plus metadata (source, degradation manifest...)."""

    name: str
    gt: Video | None
    lq: Video | None
    meta: dict[str, Any] = field(default_factory=dict)


def _clip_entries(folder: Path) -> dict[str, Path]:
    """Clip name -> frame folder or video file inside `folder`."""
    entries: dict[str, Path] = {}
    if not folder.is_dir():
        return entries
    for p in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
        if p.name.startswith("."):
            continue
        if p.is_dir():
            entries[p.name] = p
        elif p.suffix.lower() in CONTAINER_EXTENSIONS:
            entries[p.stem] = p
    return entries


class Dataset:
    """A dataset on disk in the canonical layout. Subclasses may materialise it first (`prepare`)."""

    def __init__(self, card: DatasetCard, root: Path) -> None:
        self.card, self.root = card, Path(root)

    def prepare(self) -> None:
        """Make sure the data is on disk. The base class only checks; it cannot fetch anything."""
        if not self.root.is_dir():
            raise InputError("dataset not found", dataset=self.card.name, file=self.root,
                             expected="a prepared dataset folder with GT/ and/or LQ/",
                             hint=f"Prepare it first (see datasets/README.md, card '{self.card.name}')")

    def clips(self) -> list[Clip]:
        self.prepare()
        gt, lq = _clip_entries(self.root / "GT"), _clip_entries(self.root / "LQ")
        if not gt and not lq:
            raise InputError("dataset folder has no clips", dataset=self.card.name, file=self.root,
                             expected="GT/<clip>/ and/or LQ/<clip>/ frame folders or videos", found="none")
        manifest = self.manifest()
        names = sorted(set(gt) | set(lq), key=natural_key)
        return [Clip(n, open_video(gt[n], name=n) if n in gt else None,
                     open_video(lq[n], name=n) if n in lq else None,
                     manifest.get("clips", {}).get(n, {})) for n in names]

    def manifest(self) -> dict[str, Any]:
        file = self.root / "manifest.json"
        return json.loads(file.read_text()) if file.is_file() else {}
