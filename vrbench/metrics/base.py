"""The metric protocol: a `MetricCard` naming the convention, and a batched compute over frames.

Frame-level metrics (`level="frame"`) return one value per frame; the clip value is their mean, and the dataset
value the unweighted mean over clips (BasicSR / DOVE averaging). Clip-level metrics (`level="clip"`) see the
whole clip and return one value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from vrbench.weights import WeightFile

KINDS = ("FR", "NR", "video", "temporal")


@dataclass(frozen=True)
class MetricCard:
    """What a number means: direction, range, convention, version, weights and the reference implementation."""

    name: str
    summary: str
    kind: str
    higher_is_better: bool
    range: tuple[float | None, float | None] = (None, None)
    version: str = "1"
    convention: str = ""
    reference: str = ""
    level: str = "frame"
    needs_gt: bool = False
    unit: str = ""
    weights: tuple[WeightFile, ...] = ()
    requires: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["weights"] = [w.name for w in self.weights]
        return d

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


class Metric:
    """Base class. Subclasses set `card` and implement `compute` (frame level) or `compute_clip` (clip level)."""

    card: MetricCard

    def setup(self, device: Any) -> None:
        """Load weights onto `device`; raise `MetricUnavailable` if something is missing."""

    def compute(self, out: Any, gt: Any | None) -> Any:
        """Per-frame values for a chunk: float tensors (N, 3, H, W) in [0, 1] -> tensor (N,)."""
        raise NotImplementedError(f"{type(self).__name__} is clip-level; call compute_clip")

    def compute_clip(self, out: Any, gt: Any | None) -> float:
        """One value for a whole clip given as float tensors (T, 3, H, W) in [0, 1]."""
        raise NotImplementedError(f"{type(self).__name__} is frame-level; call compute")

    def provenance(self) -> dict[str, Any]:
        return {"version": self.card.version, "convention": self.card.convention}
