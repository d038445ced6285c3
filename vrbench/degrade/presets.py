"""Degradation presets: named, versioned YAML cards in `vrbench/degrade/cards/`, loaded into `Preset` and held by the
`PRESETS` registry (the same `Registry` as methods and metrics: listing, patterns, "did you mean").

A card lists stages in order (the operations of `ops.OPS`: `usm`, `blur`, `resize`, `noise`, `jpeg`, `video`,
`subsample`, `quantize`, and `shuffle` holding two groups of stages run in random order) and a temporal mode:
`drift` (per-clip draws that random-walk per frame with the card's step sizes, RealBasicVSR), `constant` (per-clip
draws held fixed, DOVE) or `independent` (every frame draws all of its parameters, the image pipelines). Cards are
validated on load so a bad range fails here, with the offending value, and not halfway through a benchmark.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from vrbench.degrade.ops import check_stage
from vrbench.errors import InputError
from vrbench.registry import Registry

TEMPORAL_MODES = ("drift", "constant", "independent")


@dataclass(frozen=True)
class Preset:
    """One degradation card: identity (name, version, hash), temporal mode, allowed scales and the stage list."""

    name: str
    version: str
    kind: str
    description: str
    sources: tuple[str, ...]
    temporal: str
    scale: int
    scales: tuple[int, ...]
    stages: tuple[dict, ...]
    sha256: str

    def as_dict(self) -> dict:
        """The card as plain JSON-serialisable data (what goes into a manifest)."""
        return {
            "name": self.name, "version": self.version, "kind": self.kind, "description": self.description,
            "sources": list(self.sources), "temporal": self.temporal, "scale": self.scale,
            "scales": list(self.scales), "stages": [dict(s) for s in self.stages], "sha256": self.sha256,
        }


# Bundled cards register when the registry is first read (vrbench.degrade.bundled); plugins through the entry-point
# group `vrbench.degradation_presets`, exporting a function decorated with PRESETS.register(card).
PRESETS: Registry[Preset] = Registry("degradation preset", "vrbench.degradation_presets", ("vrbench.degrade.bundled",))


def cards_folder() -> Path:
    return Path(str(resources.files("vrbench.degrade") / "cards"))


def list_presets(pattern: str = "*") -> list[str]:
    """Names of the registered presets (the bundled cards and any plugin's), sorted."""
    return PRESETS.names(pattern)


def load_preset(name: str) -> Preset:
    """A registered preset by name, or a card from a `.yaml` path; unknown names get the registry's "did you mean"."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return preset_from_text(path.read_text(), source=str(path))
    return PRESETS.card(name)


def register_card_file(file: Path) -> Preset:
    """Parse a card file and register it under its name (the factory returns the card itself)."""
    preset = preset_from_text(file.read_text(), source=file.name)
    if preset.name != file.stem:
        raise InputError("degradation card name differs from its file name", file=file, expected=file.stem,
                         found=preset.name)
    PRESETS.add(preset, lambda: preset, origin=f"card {file.name}")
    return preset


def preset_from_text(text: str, source: str = "card") -> Preset:
    """Parse and validate a card's YAML text."""
    import yaml

    card = yaml.safe_load(text)
    if not isinstance(card, dict):
        raise InputError("degradation card is not a mapping", file=source, found=type(card).__name__)
    missing = [k for k in ("name", "version", "temporal", "scale", "stages") if k not in card]
    if missing:
        raise InputError("degradation card lacks required fields", file=source, expected=missing, found=sorted(card))
    if card["temporal"] not in TEMPORAL_MODES:
        raise InputError("unknown temporal mode", file=source, expected=TEMPORAL_MODES, found=card["temporal"])
    scales = tuple(int(s) for s in card.get("scales", [card["scale"]]))
    if any(s < 1 for s in scales) or int(card["scale"]) not in scales:
        raise InputError("bad scales in card", file=source, expected="positive integers containing 'scale'",
                         found=(card["scale"], scales))
    stages = tuple(check_stage(s, f"{source} stage {i}") for i, s in enumerate(card["stages"]))
    return Preset(
        name=str(card["name"]), version=str(card["version"]), kind=str(card.get("kind", "video")),
        description=" ".join(str(card.get("description", "")).split()), sources=tuple(card.get("sources", [])),
        temporal=card["temporal"], scale=int(card["scale"]), scales=scales, stages=stages,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )
