"""Dataset cards and clips: the types that the checks, the loader (`vrbench.data.dataset`) and preparation share.

This module sits at the bottom of `vrbench.data`: it imports the layout table to validate a card, and nothing
that scans or loads a dataset.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from vrbench.data.layouts import LAYOUTS
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
