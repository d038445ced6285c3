"""The metric cards a report reads: a run's snapshot (taken by the runner at run start and kept in the store), so
an old run's report says what its numbers meant then, whatever is installed today. `LIVE` reads the registry, for
figures drawn by a command right after it computed them and for tables built from synthetic data in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

KIND_ORDER = {"FR": 0, "NR": 1, "video": 2, "temporal": 3}


class MetricCards:
    """name -> card fields (as `dataclasses.asdict` of a `MetricCard` gives them)."""

    def __init__(self, cards: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._cards = None if cards is None else {k: dict(v) for k, v in cards.items()}

    def get(self, name: str) -> dict[str, Any] | None:
        if self._cards is not None:
            return self._cards.get(name)
        from vrbench.registry import METRICS

        return asdict(METRICS.card(name)) if name in METRICS else None

    def order(self, name: str) -> tuple[int, int, str]:
        """Papers' column order: full-reference fidelity (PSNR, SSIM), learned full-reference (LPIPS, DISTS),
        no-reference, video-level, temporal; unknown metrics last."""
        card = self.get(name)
        rank = KIND_ORDER.get(card["kind"] if card else "", 4)
        return rank, int(bool(card and card.get("weights"))), name

    def higher(self, name: str) -> bool | None:
        card = self.get(name)
        return None if card is None else bool(card["higher_is_better"])

    def arrow(self, name: str) -> str:
        higher = self.higher(name)
        return "" if higher is None else ("↑" if higher else "↓")

    def text(self, name: str, field: str) -> str:
        card = self.get(name)
        return str(card.get(field) or "") if card else ""

    def upper(self, name: str) -> float | None:
        card = self.get(name)
        return None if card is None or not card.get("range") else card["range"][1]


LIVE = MetricCards()
