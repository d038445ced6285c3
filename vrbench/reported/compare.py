"""Reported tables as report blocks: one table per (card, dataset) with best / second marked among its own rows,
the reasons it is not ranked with a run's measured rows, and where papers disagree on the same method, dataset and
metric.

Reported rows are ranked together with measured ones only when the protocol matches exactly: the card names our
protocol card for the table, the hash of the LQ it was measured on equals the run's, and every metric mapping is
exact. None of the published cards can (their LQ is unpublished), so their rows always stand apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from vrbench.reported.cards import ReportedCard

REPORTED_BADGE = "reported, not measured here"


@dataclass(frozen=True)
class Disagreement:
    """One method, dataset and metric printed with different values by different tables."""

    method: str  # as printed (our method card in brackets where there is one)
    dataset: str
    metric: str  # our metric id, else the printed name
    values: tuple[tuple[str, str, str], ...]  # (card name, citation, value as printed)

    def text(self) -> str:
        said = "; ".join(f"{v} in {name}" for name, _, v in self.values)
        return f"{self.method} on {self.dataset}, {self.metric}: {said}"


@dataclass
class ReportedTable:
    """The rows of one card on one dataset, ready for HTML, Markdown and LaTeX."""

    card: ReportedCard
    dataset: str
    metrics: list[str]  # printed names, in the card's order
    rows: list[dict[str, Any]]  # {method, printed, card, measured: bool, cells: {metric: (text, value)}}
    marks: dict[str, dict[str, str]] = field(default_factory=dict)  # metric -> row label -> best | second
    ranked_with_run: bool = False
    apart_because: list[str] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)

    def direction(self, metric: str) -> bool | None:
        return self.card.metrics[metric].higher_is_better

    def header(self, metric: str) -> str:
        m = self.card.metrics[metric]
        return metric if m.id is None or m.id == metric else f"{metric} ({m.id})"


def disagreements(selected: list[ReportedCard], catalog: list[ReportedCard]) -> list[Disagreement]:
    """Values of the selected cards that another card (selected or in the catalog) prints differently."""
    cards = {c.name: c for c in [*selected, *catalog]}
    seen: dict[tuple[str, str, str], dict[str, tuple[str, str, float]]] = {}
    printed: dict[str, str] = {}
    for card in cards.values():
        for v in card.values:
            mm = card.methods[v.method]
            key = (mm.key, v.dataset, card.metrics[v.metric].key)
            seen.setdefault(key, {})[card.name] = (card.citation, v.text, v.value)
            printed.setdefault(mm.key, v.method if mm.card in (None, v.method) else f"{v.method} ({mm.card})")
    wanted = {c.name for c in selected}
    out = []
    for (method, dataset, metric), by_card in sorted(seen.items()):
        if len(by_card) < 2 or not wanted & set(by_card) or len({v for _, _, v in by_card.values()}) < 2:
            continue
        out.append(Disagreement(printed[method], dataset, metric,
                                tuple((name, cit, text) for name, (cit, text, _) in sorted(by_card.items()))))
    return out


def _marks(rows: list[dict[str, Any]], metric: str, higher: bool | None) -> dict[str, str]:
    import pandas as pd

    from vrbench.report.tables import rank_marks

    if higher is None:
        return {}
    values = pd.Series({r["label"]: r["cells"][metric][1] for r in rows if metric in r["cells"]}, dtype=float)
    return rank_marks(values, higher)


def _apart_reasons(card: ReportedCard, dataset: str, measured: dict[str, Any] | None) -> list[str]:
    """Why this card's rows on `dataset` cannot be ranked with the measured rows (empty: they can)."""
    if measured is None:
        return ["no measured results on this dataset"]
    reasons = []
    ours = card.protocol.get("vrbench_protocol")
    if ours != measured["protocol"]:
        reasons.append(f"protocol: the paper's conventions are not a vrbench protocol card (measured here: "
                       f"{measured['protocol']})" if ours is None else
                       f"protocol {ours} differs from the measured rows' {measured['protocol']}")
    lq, here = (card.protocol.get("lq_manifest_sha256") or {}).get(dataset), measured["lq_manifest_sha256"][:12]
    if lq is None:
        reasons.append(f"LQ: {card.protocol.get('lq')} (measured here: LQ manifest {here})")
    elif lq != measured["lq_manifest_sha256"] or not lq:
        reasons.append(f"LQ manifest {lq[:12]} differs from the measured rows' {here}")
    inexact = [m for m, mm in card.metrics.items() if not mm.exact]
    if inexact:
        reasons.append(f"metric conventions not known to match: {', '.join(inexact)}")
    return reasons


def reported_tables(selected: list[ReportedCard], catalog: list[ReportedCard],
                    measured: dict[str, dict[str, Any]] | None = None) -> list[ReportedTable]:
    """One table per (selected card, dataset). `measured`: dataset -> {protocol, lq_manifest_sha256, means:
    {label: {metric id: mean}}} of the run beside which the block is shown; its rows join a table only when the
    protocol matches exactly."""
    found = disagreements(selected, catalog)
    out = []
    for card in selected:
        for dataset in card.dataset_names():
            values = [v for v in card.values if v.dataset == dataset]
            metrics = list(dict.fromkeys(v.metric for v in values))
            rows: dict[str, dict[str, Any]] = {}
            for v in values:
                row = rows.setdefault(v.method, {"label": v.method, "printed": v.method, "measured": False,
                                                 "card": card.methods[v.method].card, "cells": {}})
                row["cells"][v.metric] = (v.text, v.value)
            ordered = [rows[m] for m in card.columns if m in rows]
            run = (measured or {}).get(dataset)
            apart = _apart_reasons(card, dataset, run)
            if not apart and run is not None:
                ordered += _measured_rows(card, metrics, run)
            table = ReportedTable(card, dataset, metrics, ordered, ranked_with_run=not apart, apart_because=apart,
                                  disagreements=[d for d in found if d.dataset == dataset and any(
                                      name == card.name for name, _, _ in d.values)])
            table.marks = {m: _marks(ordered, m, table.direction(m)) for m in metrics}
            out.append(table)
    return out


def _measured_rows(card: ReportedCard, metrics: list[str], run: dict[str, Any]) -> list[dict[str, Any]]:
    from vrbench.report.tables import format_value

    rows = []
    for label, means in run["means"].items():
        cells = {}
        for printed in metrics:
            mid = card.metrics[printed].id
            value = means.get(mid) if mid else None
            if value is not None and math.isfinite(value):
                cells[printed] = (format_value(value, mid), value)
        if cells:
            rows.append({"label": f"{label} (measured here)", "printed": label, "measured": True, "card": None,
                         "cells": cells})
    return rows
