"""The metric protocol: a `MetricCard` naming the convention, and a batched compute over frames.

Frame-level metrics (`level="frame"`) return one value per frame; the clip value is their mean, and the dataset
value the unweighted mean over clips (BasicSR / DOVE averaging). Stream metrics (`level="clip"`: video and
temporal metrics) are fed the clip chunk by chunk, in order, and return one value per clip (plus optional
per-frame or per-pair values), so memory stays bounded by the chunk size whatever the clip length.

Full-reference metrics may split their work into a ground-truth side (`reference`, computed once per chunk and
shared by every method scored on the same clip) and an output side (`compute`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from vrbench.errors import InputError, MetricUnavailable
from vrbench.weights import UnsafeWeights, WeightFile, digest

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


def unavailable(card: MetricCard) -> MetricUnavailable | None:
    """Why a metric cannot be set up here, or None: a weights file missing or failing its checksum (unless
    unverified weights are allowed), or a package named in `requires` not installed (found, not imported).
    `setup()` runs this check first and `vrbench metrics list` shows its verdict, so the two never disagree."""
    import importlib.util

    missing = [w for w in card.weights if not w.present()]
    if missing:
        return MetricUnavailable(card.name, "weights missing", tuple(w.missing_message() for w in missing))
    for w in card.weights:
        try:
            digest(w)
        except UnsafeWeights as e:
            return MetricUnavailable(card.name, "weights refused: loading them could run code", (str(e),))
        except InputError as e:
            return MetricUnavailable(card.name, "weights have the wrong checksum", (str(e),))
    absent = [m for m in card.requires if importlib.util.find_spec(m) is None]
    if absent:
        return MetricUnavailable(card.name, f"package not installed: {', '.join(absent)}")
    return None


def check_ready(card: MetricCard) -> None:
    """Raise `MetricUnavailable` with the reason `unavailable(card)` gives."""
    problem = unavailable(card)
    if problem is not None:
        raise problem


class Metric:
    """Base class of frame-level metrics: subclasses set `card` and implement `compute`."""

    card: MetricCard
    #: may run under reduced precision in the engine's --fast mode (learned networks; never PSNR/SSIM)
    tolerates_fast: bool = False

    def setup(self, device: Any) -> None:
        """Load weights onto `device`; raise `MetricUnavailable` if something is missing."""

    def reference(self, gt: Any) -> Any:
        """Ground-truth-side work for a chunk, shared by every method scored against the same frames."""
        return None

    def compute(self, out: Any, gt: Any | None, ref: Any = None) -> Any:
        """Per-frame values for a chunk: float tensors (N, 3, H, W) in [0, 1] -> tensor (N,)."""
        raise NotImplementedError(type(self).__name__)

    def provenance(self) -> dict[str, Any]:
        return {"version": self.card.version, "convention": self.card.convention}


class StreamMetric(Metric):
    """A video or temporal metric: `start`, then `update` with consecutive chunks, then `finish`."""

    def start(self, num_frames: int) -> Any:
        """Fresh per-clip state for a clip of `num_frames` frames."""
        raise NotImplementedError(type(self).__name__)

    def update(self, state: Any, out: Any, gt: Any | None, index: int) -> None:
        """Feed frames [index, index + len(out)) of the clip (float (n, 3, H, W) in [0, 1])."""
        raise NotImplementedError(type(self).__name__)

    def finish(self, state: Any) -> tuple[float, Any]:
        """(clip value, per-frame or per-pair values or None)."""
        raise NotImplementedError(type(self).__name__)
