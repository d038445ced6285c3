"""Protocol cards: the named set of conventions that reproduces a paper's table (scale, border crop, colour fix,
geometry rule, metric set, aggregation). The protocol's name is stored with every result and is part of each
value's cache key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import yaml

from vrbench.errors import InputError, UnknownNameError
from vrbench.paths import PACKAGE_DIR

PROTOCOL_DIR = PACKAGE_DIR / "configs" / "protocols"


@dataclass(frozen=True)
class Protocol:
    name: str
    summary: str
    scale: int = 4
    crop_border: int = 0
    colour_fix: str = "none"  # none | wavelet | adain: applied to every method's output before scoring
    geometry: str = ""
    metrics: tuple[str, ...] = ()
    aggregation: str = "frames -> clip mean -> unweighted mean over clips"
    citation: str = ""
    notes: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def protocol_names() -> list[str]:
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


def load_protocol(name: str) -> Protocol:
    file = PROTOCOL_DIR / f"{name}.yaml"
    if not file.is_file():
        import difflib

        close = difflib.get_close_matches(name, protocol_names(), n=2)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownNameError(f"unknown protocol '{name}'.{hint} Known protocols: {', '.join(protocol_names())}")
    data = yaml.safe_load(file.read_text()) or {}
    unknown = sorted(set(data) - set(Protocol.__dataclass_fields__))
    if unknown:
        raise InputError("unknown keys in protocol card", file=file, found=unknown)
    data["metrics"] = tuple(data.get("metrics", ()))
    if data.get("colour_fix", "none") not in ("none", "wavelet", "adain"):
        raise InputError("unknown colour fix", file=file, expected="none, wavelet or adain", found=data["colour_fix"])
    return Protocol(**data)
