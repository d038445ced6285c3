"""The `Dataset` loader every benchmark set goes through.

A prepared dataset `<root>/<name>/` is in the canonical layout: `GT/<clip>/` and `LQ/<clip>/` frame folders (or
`<clip>.<ext>` videos), plus `manifest.json` with the sha256 of every file. A `Dataset` also reads a set in any
layout its card accepts (`vrbench.data.layouts`), pairs GT with LQ by clip name, and checks every clip cheaply
(frame headers only, never the pixels of a whole clip). Clips that fail a check are left out and listed in
`Dataset.problems`, each naming the clip and the file; the rest load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vrbench.data.base import Clip, ClipProblem, DatasetCard
from vrbench.data.checks import DatasetReport, scan_dataset
from vrbench.errors import InputError


class Dataset:
    """A dataset on disk in any layout its card accepts. Subclasses may materialise it first (`prepare`).

    After `clips()`, `problems` lists the clips that were left out (one `ClipProblem` per problem) and `report`
    holds everything that was found (layout, per-clip geometry, notes).
    """

    makes_itself = False  # True where `prepare` makes the data from what is installed (no download, no --from)

    def __init__(self, card: DatasetCard, root: Path) -> None:
        self.card, self.root = card, Path(root)
        self.problems: list[ClipProblem] = []
        self.report: DatasetReport | None = None  # set by `scan`

    def prepare(self, force: bool = False) -> None:
        """Make sure the data is on disk. The base class only checks; `vrbench datasets prepare` fetches."""
        if not self.root.is_dir():
            raise InputError("dataset not found", dataset=self.card.name, file=self.root,
                             expected="a prepared dataset folder with GT/ and/or LQ/",
                             hint=f"Prepare it first: `vrbench datasets prepare {self.card.name}` "
                                  f"(see datasets/README.md, card '{self.card.name}')")

    def scan(self) -> DatasetReport:
        """Detect the layout and check every clip (headers only); returns the `DatasetReport`."""
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
