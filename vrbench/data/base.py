"""Dataset cards, clips and the `Dataset` loader every benchmark set goes through.

A prepared dataset `<root>/<name>/` is in the canonical layout: `GT/<clip>/` and `LQ/<clip>/` frame folders (or
`<clip>.<ext>` videos), plus `manifest.json` with the sha256 of every file. A `Dataset` also reads a set in any
layout its card accepts (`vrbench.data.layouts`), pairs GT with LQ by clip name, and checks every clip cheaply
(frame headers only, never the pixels of a whole clip). Clips that fail a check are left out and listed in
`Dataset.problems`, each naming the clip and the file; the rest load.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from vrbench.errors import InputError
from vrbench.video import Video

KINDS = ("synthetic-paired", "real", "aigc", "long-form", "demo", "folder")
GT_RULES = ("required", "optional", "none")  # does every clip need ground truth?
_LQ_SOURCE = re.compile(
    r"^(released(:(?P<variant>[A-Za-z0-9_-]+))?|degrade:(?P<preset>[A-Za-z0-9_.-]+):(?P<seed>\d+))$")


@dataclass(frozen=True)
class Download:
    """One file to fetch for a dataset; files sharing a `variant` are needed together, variants are alternatives."""

    file: str
    url: str
    what: str = ""
    sha256: str = ""
    size: int = 0
    variant: str = "default"
    manual: bool = False  # the host needs a browser (login, quota page, folder share): print instructions instead

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: Path | str) -> Download:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError("unknown keys in a download entry", file=where, expected=sorted(known), found=unknown)
        return cls(**data)


@dataclass(frozen=True)
class LQSource:
    """Where a dataset's LQ comes from: the released files (optionally one named variant) or a seeded degradation."""

    kind: str  # released | degrade
    variant: str = ""
    preset: str = ""
    seed: int = 0

    def __str__(self) -> str:
        if self.kind == "degrade":
            return f"degrade:{self.preset}:{self.seed}"
        return "released" + (f":{self.variant}" if self.variant else "")


def parse_lq_source(text: str, where: Path | str | None = None) -> LQSource:
    """`released`, `released:<variant>` (e.g. `released:BDx4`) or `degrade:<preset>:<seed>`."""
    match = _LQ_SOURCE.match(text.strip())
    if match is None:
        raise InputError("malformed LQ source", file=where, expected="released, released:<variant> or "
                         "degrade:<preset>:<seed>", found=text)
    if match["preset"]:
        return LQSource("degrade", preset=match["preset"], seed=int(match["seed"]))
    return LQSource("released", variant=match["variant"] or "")


@dataclass(frozen=True)
class DatasetCard:
    """What a benchmark set is: counts, geometry, where it comes from, how its LQ is made, what to watch for."""

    name: str
    summary: str
    kind: str = "synthetic-paired"  # one of KINDS
    gt: str = "optional"  # one of GT_RULES
    scale: int = 4
    clips: int | None = None
    frames_per_clip: int | None = None
    resolution: str = ""
    fps: float | None = None  # frame rate of frame-folder clips (containers carry their own)
    clip_names: tuple[str, ...] = ()  # the expected clip names, where the set fixes them
    folder_names: tuple[str, ...] = ()  # folder names that hold this set inside a bigger download
    urls: tuple[str, ...] = ()  # pages describing the set
    downloads: tuple[Download, ...] = ()
    licence: str = ""
    layouts: tuple[str, ...] = ("canonical",)
    layout_options: dict[str, Any] = field(default_factory=dict)
    lq_source: str = "released"  # released | released:<variant> | degrade:<preset>:<seed>
    caveats: tuple[str, ...] = ()
    contamination: tuple[str, ...] = ()  # methods known to have trained on these clips
    max_shift: int = 0  # known pixel shift of the LQ: the radius of the opt-in integer-shift search
    loader: str = "canonical"
    citation: str = ""

    @classmethod
    def from_yaml(cls, file: Path) -> DatasetCard:
        data = yaml.safe_load(file.read_text()) or {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError("unknown keys in dataset card", file=file, expected=sorted(known), found=unknown)
        for key in ("urls", "layouts", "caveats", "clip_names", "folder_names", "contamination"):
            if key in data:
                data[key] = tuple(str(v) for v in data[key] or ())
        data["downloads"] = tuple(Download.from_dict(d, file) for d in data.get("downloads") or ())
        card = cls(**data)
        card.check(file)
        return card

    def check(self, where: Path | str = "") -> None:
        """Validate the values (not only the keys) once, when the card is read."""
        from vrbench.data.layouts import LAYOUTS

        if self.kind not in KINDS:
            raise InputError("unknown dataset kind", file=where, expected=KINDS, found=self.kind)
        if self.gt not in GT_RULES:
            raise InputError("unknown ground-truth rule", file=where, expected=GT_RULES, found=self.gt)
        bad = [x for x in self.layouts if x not in LAYOUTS]
        if bad:
            raise InputError("unknown layout in dataset card", file=where, expected=sorted(LAYOUTS), found=bad)
        if int(self.scale) != self.scale or self.scale < 1:
            raise InputError("scale must be a positive integer", file=where, expected=">= 1", found=self.scale)
        parse_lq_source(self.lq_source, where)

    @property
    def lq(self) -> LQSource:
        return parse_lq_source(self.lq_source)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Clip:
    """One clip of a dataset: ground truth and/or LQ input, plus metadata (source, degradation manifest...)."""

    name: str
    gt: Video | None
    lq: Video | None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClipProblem:
    """Why a clip was left out: the error names the clip, the file, what was expected and what was found."""

    clip: str
    error: InputError

    def __str__(self) -> str:
        return str(self.error)


class Dataset:
    """A dataset on disk in any layout its card accepts. Subclasses may materialise it first (`prepare`).

    After `clips()`, `problems` lists the clips that were left out (one `ClipProblem` per problem) and `report`
    holds everything that was found (layout, per-clip geometry, notes).
    """

    def __init__(self, card: DatasetCard, root: Path) -> None:
        self.card, self.root = card, Path(root)
        self.problems: list[ClipProblem] = []
        self.report: Any = None  # a vrbench.data.checks.DatasetReport once scanned

    def prepare(self) -> None:
        """Make sure the data is on disk. The base class only checks; `vrbench datasets prepare` fetches."""
        if not self.root.is_dir():
            raise InputError("dataset not found", dataset=self.card.name, file=self.root,
                             expected="a prepared dataset folder with GT/ and/or LQ/",
                             hint=f"Prepare it first: `vrbench datasets prepare {self.card.name}` "
                                  f"(see datasets/README.md, card '{self.card.name}')")

    def scan(self) -> Any:
        """Detect the layout and check every clip (headers only); returns the `DatasetReport`."""
        from vrbench.data.checks import scan_dataset

        self.prepare()
        self.report = scan_dataset(self.card, self.root, self.manifest())
        self.problems = [ClipProblem(c.name, e) for c in self.report.clips for e in c.problems]
        return self.report

    def clips(self) -> list[Clip]:
        report = self.scan()
        return [c.to_clip() for c in report.clips if c.ok]

    def manifest(self) -> dict[str, Any]:
        file = self.root / "manifest.json"
        return json.loads(file.read_text()) if file.is_file() else {}
