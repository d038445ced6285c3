"""Protocol cards: the named set of conventions that reproduces a paper's table (border crop, colour fix, output
geometry rule, size-mismatch policy, metric set). A config that names a protocol gets its conventions unless it
sets a value itself; the resolved conventions are stored with the run and are part of every value's cache key.
Aggregation is the same for every protocol: frames -> clip mean -> unweighted mean over clips.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from vrbench.errors import InputError
from vrbench.paths import PACKAGE_DIR
from vrbench.registry import Registry

PROTOCOL_DIR = PACKAGE_DIR / "configs" / "protocols"
COLOUR_FIXES = ("none", "wavelet", "adain")


@dataclass(frozen=True)
class Protocol:
    name: str
    summary: str
    crop_border: int = 0
    colour_fix: str = "none"  # none | wavelet | adain: applied to every method's output before scoring
    output_rule: str = "scale"  # scale | seedvr2-area | short-side-1024 (vrbench.data.geometry)
    geometry: str = "error"  # output size != GT size: error | crop (score the common area)
    anchor: str = "top-left"  # where the common area sits for `crop`
    metrics: tuple[str, ...] = ()
    citation: str = ""
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_protocol(file: Path) -> Protocol:
    """One protocol card, every value checked against what the code accepts."""
    from vrbench.data.geometry import ANCHORS, OUTPUT_RULES, POLICIES

    data = yaml.safe_load(file.read_text()) or {}
    unknown = sorted(set(data) - set(Protocol.__dataclass_fields__))
    if unknown:
        raise InputError("unknown keys in protocol card", file=file, expected=sorted(Protocol.__dataclass_fields__),
                         found=unknown)
    data["metrics"] = tuple(data.get("metrics", ()))
    for key, allowed in (("colour_fix", COLOUR_FIXES), ("output_rule", OUTPUT_RULES), ("geometry", POLICIES),
                         ("anchor", ANCHORS)):
        if key in data and data[key] not in allowed:
            raise InputError(f"unknown {key} in protocol card", file=file, expected=" | ".join(allowed),
                             found=data[key])
    return Protocol(**data)


def _load_cards(registry: Registry) -> None:
    for file in sorted(PROTOCOL_DIR.glob("*.yaml")):
        protocol = read_protocol(file)
        registry.add(protocol, lambda p=protocol: p, origin=f"card {file.name}")


PROTOCOLS: Registry[Protocol] = Registry("protocol", "vrbench.protocols", loader=_load_cards)


def protocol_names() -> list[str]:
    return PROTOCOLS.names()


def load_protocol(name: str) -> Protocol:
    return PROTOCOLS.create(name)
