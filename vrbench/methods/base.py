"""The method adapter protocol: `restore(lq, *, scale, steps, seed) -> Video` plus a `MethodCard`.

The harness owns batching, caching, device placement and timing; an adapter only turns one LQ clip into one
output clip.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from vrbench.video import Video


@dataclass(frozen=True)
class WeightRef:
    """A weights file a method or metric needs: where it comes from and how to check it."""

    file: str
    url: str
    sha256: str = ""
    note: str = ""


@dataclass(frozen=True)
class MethodCard:
    """What a method is and what it can do. Capabilities live here, never in if/elif chains on names."""

    name: str
    summary: str
    paper: str = ""
    license: str = ""
    kind: str = "baseline"  # baseline | generative | precomputed | external
    supports_steps: bool = False
    default_steps: int | None = None
    scale: int | None = 4  # None: any integer scale
    temporal_window: int = 1
    colour_fix: str = "none"
    deterministic: bool = True
    weights: tuple[WeightRef, ...] = ()
    params: int | None = None
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Method(Protocol):
    card: MethodCard

    def restore(self, lq: Video, *, scale: int, steps: int | None, seed: int) -> Video: ...

    def config(self) -> dict[str, Any]: ...


@dataclass
class MethodSpec:
    """A method as a benchmark config names it: registry name, options, display name, step counts."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    steps: list[int | None] = field(default_factory=lambda: [None])

    @property
    def display(self) -> str:
        return self.label or self.name


def config_hash(config: dict[str, Any]) -> str:
    """Short stable hash of a method configuration (keys sorted, JSON)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
