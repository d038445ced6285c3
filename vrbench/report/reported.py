"""The opt-in block of reported rows in a report (`vrbench report RUN --reported NAME`): HTML context, Markdown and
LaTeX. Every reported table says "reported, not measured here" with its citation, is ranked only among its own rows
unless the protocol matches the run's exactly, and lists where other papers print different numbers for the same
method, dataset and metric.
"""

from __future__ import annotations

from typing import Any

from vrbench.report.cards import MetricCards
from vrbench.report.export import latex_escape, markdown_escape
from vrbench.report.tables import Board
from vrbench.reported.compare import REPORTED_BADGE, ReportedTable, reported_tables


def measured_summary(boards: list[Board], info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """dataset -> {protocol, lq_manifest_sha256, means: {label: {metric: mean}}} of a run's complete rows."""
    from vrbench.report.submission import lq_manifest_sha256

    out = {}
    for b in boards:
        record = (info.get("datasets") or {}).get(b.dataset) or {}
        means = {m: {k: b.mean(m, k) for k in b.metrics if b.complete(m, k)} for m in b.methods}
        out[b.dataset] = {"protocol": b.protocol, "lq_manifest_sha256": lq_manifest_sha256(record, b.clips),
                          "means": means}
    return out


def reported_block(names: list[str], boards: list[Board], info: dict[str, Any], cards: MetricCards
                   ) -> dict[str, Any]:
    """{"tables": [ReportedTable], "html": [template dicts]} for the named cards beside a run's boards (empty lists
    without any)."""
    return reported_view(names, measured_summary(boards, info) if names else {})


def reported_view(names: list[str], measured: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The block for the named cards beside measured rows summarised as `measured_summary` does."""
    if not names:
        return {"tables": [], "html": []}
    from vrbench.reported.cards import load_cards, load_catalog

    found = reported_tables(load_cards(names), list(load_catalog()[0].values()), measured)
    return {"tables": found, "html": [_html_table(t, i) for i, t in enumerate(found)]}


def _arrow(higher: bool | None) -> str:
    return "" if higher is None else ("↑" if higher else "↓")


def _html_table(t: ReportedTable, index: int) -> dict[str, Any]:
    columns = [{"metric": t.header(m), "arrow": _arrow(t.direction(m)), "note": t.card.metrics[m].note,
                "exact": t.card.metrics[m].exact, "higher": t.direction(m)} for m in t.metrics]
    rows = []
    for r in t.rows:
        cells = []
        for m in t.metrics:
            text, value = r["cells"].get(m, ("–", None))
            cells.append({"text": text, "value": "" if value is None else value,
                          "mark": t.marks.get(m, {}).get(r["label"], "")})
        method = t.card.methods.get(r["printed"])
        rows.append({"label": r["label"], "measured": r["measured"], "card": r["card"] or "",
                     "note": method.note if method and not r["measured"] else "", "cells": cells})
    return {"id": f"reported-{index}", "name": t.card.name, "title": t.card.title, "citation": t.card.citation,
            "dataset": t.dataset, "printed_dataset": t.card.printed_dataset(t.dataset), "columns": columns,
            "rows": rows, "ranked_with_run": t.ranked_with_run, "apart": t.apart_because,
            "lq": t.card.protocol.get("lq", ""), "notes": t.card.notes,
            "disagreements": [d.text() for d in t.disagreements], "badge": REPORTED_BADGE}


def _mark_md(text: str, mark: str) -> str:
    return {"best": f"**{text}**", "second": f"<u>{text}</u>"}.get(mark, text)


def to_markdown(t: ReportedTable) -> str:
    """One reported table as GitHub Markdown, under a line that says it is reported, with its citation."""
    head = ["Method"] + [markdown_escape(t.header(m)) + (" " + _arrow(t.direction(m)) if t.direction(m) is not None
                                                         else "") for m in t.metrics]
    lines = [f"**{markdown_escape(t.card.printed_dataset(t.dataset))}** — *{REPORTED_BADGE}*: "
             f"{markdown_escape(t.card.citation)}", "", "| " + " | ".join(head) + " |",
             "|---|" + "---:|" * len(t.metrics)]
    for r in t.rows:
        cells = [markdown_escape(r["label"])]
        for m in t.metrics:
            text = r["cells"].get(m, ("–", None))[0]
            cells.append(_mark_md(text, t.marks.get(m, {}).get(r["label"], "")))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", _ranking_sentence(t, markdown_escape)]
    if t.disagreements:
        lines += ["", "Papers disagree:", ""] + [f"- {markdown_escape(d.text())}" for d in t.disagreements]
    return "\n".join(lines) + "\n"


def _ranking_sentence(t: ReportedTable, escape) -> str:
    if t.ranked_with_run:
        return "Same protocol, LQ and metric conventions as the measured rows: ranked together with the measured rows."
    return ("Values as printed; best and second marked among these rows only, never ranked with measured rows ("
            + escape("; ".join(t.apart_because)) + ").")


def to_latex(t: ReportedTable) -> str:
    """One reported table, booktabs, best bold / second underlined among its own rows; the caption cites it."""
    wrap = {"best": r"\textbf{%s}", "second": r"\underline{%s}"}
    arrows = {True: r" $\uparrow$", False: r" $\downarrow$", None: ""}
    lines = [r"\begin{table}[t]", r"\centering",
             r"\caption{" + latex_escape(f"{t.card.printed_dataset(t.dataset)}: {REPORTED_BADGE}. "
                                         f"{t.card.citation}. ") + latex_escape(_ranking_sentence(t, str))
             + (" " + latex_escape("Papers disagree: " + "; ".join(d.text() for d in t.disagreements) + ".")
                if t.disagreements else "") + "}",
             r"\label{tab:reported-" + "".join(ch if ch.isalnum() else "-" for ch in f"{t.card.name}-{t.dataset}")
             + "}", r"\begin{tabular}{l" + "c" * len(t.metrics) + "}", r"\toprule",
             " & ".join(["Method"] + [latex_escape(t.header(m)) + arrows[t.direction(m)] for m in t.metrics])
             + r" \\", r"\midrule"]
    for r in t.rows:
        cells = [latex_escape(r["label"])]
        for m in t.metrics:
            text = r["cells"].get(m, ("--", None))[0]
            text = "--" if text == "–" else latex_escape(text)
            mark = t.marks.get(m, {}).get(r["label"])
            cells.append(wrap[mark] % text if mark else text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
