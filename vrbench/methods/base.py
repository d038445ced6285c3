"""The method adapter protocol: `restore(lq, *, scale, steps, seed, device) -> Video` plus a `MethodCard`.

The harness owns batching, caching, device placement and timing; an adapter only turns one LQ clip into one
output clip. Capabilities the harness must respect (does the method take a seed? does it need the GT? may its
outputs be cached?) live on the card, never in if/elif chains on names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from vrbench.video import Video
from vrbench.weights import WeightFile

KINDS = ("baseline", "generative", "precomputed", "sanity", "external")


@dataclass(frozen=True)
class MethodCard:
    """What a method is and what it can do.

    `deterministic`: the same input, steps and seed give the same output. `seeded`: the adapter passes `seed`
    on to the method (a stochastic method that is not seeded cannot be reproduced, so its outputs are never
    reused from the cache; see `cache_policy`). `needs_gt`: `restore` must also receive `gt=` (sanity methods).
    """

    name: str
    summary: str
    paper: str = ""
    license: str = ""
    kind: str = "baseline"  # one of KINDS
    supports_steps: bool = False
    default_steps: int | None = None
    scale: int | None = 4  # None: any integer scale
    colour_fix: str = "none"  # the fix the method's own code applies (`methods show`); vrbench's own: the protocol
    deterministic: bool = True
    seeded: bool = False
    needs_gt: bool = False
    weights: tuple[WeightFile, ...] = ()  # the metrics' type: `vrbench weights` lists both
    params: int | None = None
    repo: str = ""
    verified: str = ""
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Method(Protocol):
    card: MethodCard

    def restore(self, lq: Video, *, scale: int, steps: int | None, seed: int, device: Any) -> Video: ...

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


def cache_policy(card: MethodCard) -> str:
    """How the harness may cache a method's outputs.

    - `none`: never cache on disk (precomputed outputs already are files; sanity methods cost nothing);
    - `reuse`: outputs are a function of (input, config, steps, seed): cache and reuse them;
    - `fresh`: a stochastic method that does not take our seed: every run draws a new sample, so nothing may be
      reused silently, neither the output nor the scores computed from it.
    """
    if card.kind in ("precomputed", "sanity"):
        return "none"
    if card.deterministic or card.seeded:
        return "reuse"
    return "fresh"
