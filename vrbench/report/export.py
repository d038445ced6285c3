"""Paste-ready exports of a run: tidy CSV/JSON (one row per value, with provenance), Markdown and LaTeX tables.

LaTeX follows the layout of restoration papers: booktabs rules, one column per metric with its direction arrow,
best in bold and second underlined (or the red / orange convention), a caption that names the protocol and the
averaging. Every user-supplied name is escaped for the target format.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from vrbench.fsutil import atomic_write_text, write_csv
from vrbench.report.tables import Board, format_value
from vrbench.store import Store

LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                 "<": r"\textless{}", ">": r"\textgreater{}"}
MARKDOWN_SPECIAL = "\\`*_{}[]()#+!|"


LEADERBOARD_COLUMNS = ["dataset", "protocol", "method", "metric", "mean", "low", "high", "clips", "of_clips",
                       "complete", "rank", "mark"]


def json_number(v: Any) -> Any:
    """NaN -> null, ±inf -> "inf" / "-inf" (JSON has no infinity), anything else a float."""
    if v is None:
        return None
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def export_tables(store: Store, run: str, out_dir: Path, boards: list[Board] | None = None) -> None:
    """results.csv (tidy, one row per value) and results.json (values, per-frame arrays, provenance)."""
    df = store.results_frame(run)
    df["warnings"] = _unit_warnings(store, run, df)
    flat = df.drop(columns=["per_frame"])
    # the CSV stands alone: the versions that computed each value (its row's provenance record) ride along
    records = {pid: store.provenance(pid) for pid in flat["provenance"].unique()} if not flat.empty else {}
    for key in ("vrbench", "git", "device"):
        flat[f"prov_{key}"] = [records[pid].get(key, "") for pid in flat["provenance"]]
    write_csv(flat, out_dir / "results.csv")
    records = []
    for row in df.to_dict(orient="records"):
        pf = row.pop("per_frame")
        row["value"] = json_number(row["value"])
        row["per_frame"] = None if pf is None else [json_number(x) for x in pf]
        records.append(row)
    payload = {"run": run, **store.run_info(run), "unavailable": store.unavailable(run),
               "failures": store.failures(run), "results": records, "leaderboards": leaderboard_rows(boards or [])}
    atomic_write_text(out_dir / "results.json", json.dumps(payload, indent=1, default=str))


def _unit_warnings(store: Store, run: str, df: Any) -> list[str]:
    """Per value: the warnings of the output it was computed from (lossy output, crop, resize, colour fix)."""
    from vrbench.report.sources import UNIT, method_runs

    if df.empty:
        return []
    runs = method_runs(store, run, df)
    by_unit = {tuple(r[k] for k in UNIT): "; ".join(json.loads(r["warnings"]))
               for r in runs.to_dict(orient="records") if isinstance(r.get("warnings"), str) and r["warnings"]}
    aligned = {(a["dataset"], a["clip"], a["method"], a["steps"]): "; ".join(a.get("warnings", []))
               for a in store.alignments(run)}
    out = []
    for r in df[UNIT].to_dict(orient="records"):
        parts = [by_unit.get(tuple(r[k] for k in UNIT), ""), aligned.get((r["dataset"], r["clip"], r["method"],
                                                                          r["steps"]), "")]
        out.append("; ".join(p for p in parts if p))
    return out


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def markdown_escape(text: str) -> str:
    """Backslash-escape Markdown syntax and turn angle brackets into entities (no raw HTML from names)."""
    out = "".join("\\" + ch if ch in MARKDOWN_SPECIAL else ch for ch in str(text))
    return out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell_text(board: Board, method: str, metric: str, ci: bool, fmt) -> str:
    row = board.stats[metric].loc[method]
    text = fmt(format_value(row["mean"], metric, board.cards))
    if ci and row["n"] > 1 and math.isfinite(row["low"]) and math.isfinite(row["high"]):
        half = (row["high"] - row["low"]) / 2.0
        text += fmt("±") + fmt(format_value(half, metric, board.cards))
    n, m = board.coverage[metric][method]
    return text + (fmt(f" ({n}/{m})") if n < m else "")


def _method_text(board: Board, method: str, escape) -> str:
    n, m = board.clip_coverage(method)
    return escape(method) + (f" ({n}/{m} clips)" if n < m else "")


def _coverage_note(board: Board) -> str:
    """What a reader must know to trust the table: partial methods and metrics that do not apply."""
    notes = []
    if board.partial:
        notes.append("methods marked n/m have values on n of m clips; they are shown, not ranked or marked: "
                     + ", ".join(board.partial))
    if board.not_applicable:
        notes.append("n/a: " + ", ".join(f"{k} ({why})" for k, why in board.not_applicable.items()))
    return "; ".join(notes)


def leaderboard_rows(boards: list[Board]) -> list[dict[str, Any]]:
    """One row per (board, method, metric) with its coverage: what leaderboard.csv and results.json carry."""
    rows = []
    for b in boards:
        for metric in b.metrics:
            for method in b.methods:
                s = b.stats[metric].loc[method]
                n, m = b.coverage[metric][method]
                rows.append({"dataset": b.dataset, "protocol": b.protocol, "method": method, "metric": metric,
                             "mean": json_number(s["mean"]), "low": json_number(s["low"]),
                             "high": json_number(s["high"]), "clips": n, "of_clips": m, "complete": n == m,
                             "rank": json_number(s["rank"]), "mark": b.marks.get(metric, {}).get(method, "")})
        for metric, why in b.not_applicable.items():
            rows.extend({"dataset": b.dataset, "protocol": b.protocol, "method": method, "metric": metric,
                         "mean": None, "low": None, "high": None, "clips": 0, "of_clips": 0, "complete": False,
                         "rank": None, "mark": f"n/a ({why})"} for method in b.methods)
    return rows


def _latex_value(text: str) -> str:
    return {"∞": r"$\infty$", "−∞": r"$-\infty$", "–": "--", "±": r"\,$\pm$\,"}.get(text, text)


def to_latex(board: Board, *, style: str = "bold", ci: bool = False, caption: str | None = None,
             label: str | None = None) -> str:
    """A booktabs table: best bold / second underlined (`style="bold"`) or red / orange (`style="color"`).

    `ci=True` adds ± half the bootstrap interval. Needs \\usepackage{booktabs} (and xcolor for `color`).
    """
    if style not in ("bold", "color"):
        raise ValueError(f"LaTeX style must be 'bold' or 'color', found {style!r}")
    wrap = {"bold": {"best": r"\textbf{%s}", "second": r"\underline{%s}"},
            "color": {"best": r"\textcolor{red}{%s}", "second": r"\textcolor{orange}{%s}"}}[style]
    head = (["Method"] + [latex_escape(m) + _latex_arrow(board.directions[m]) for m in board.metrics]
            + [latex_escape(m) for m in board.not_applicable])
    lines = [r"\begin{table}[t]", r"\centering", r"\caption{" + (caption or _latex_caption(board, style, ci)) + "}",
             r"\label{" + (label or f"tab:{_label_slug(board)}") + "}",
             r"\begin{tabular}{l" + "c" * (len(board.metrics) + len(board.not_applicable)) + "}", r"\toprule",
             " & ".join(head) + r" \\",
             r"\midrule"]
    for method in board.methods:
        cells = [_method_text(board, method, latex_escape)]
        for metric in board.metrics:
            text = _cell_text(board, method, metric, ci, lambda t: _latex_value(t))
            mark = board.marks.get(metric, {}).get(method)
            cells.append(wrap[mark] % text if mark else text)
        cells += ["n/a"] * len(board.not_applicable)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def _latex_arrow(higher: bool | None) -> str:
    return "" if higher is None else (r" $\uparrow$" if higher else r" $\downarrow$")


def _label_slug(board: Board) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in f"vrbench-{board.dataset}-{board.protocol}")


def _latex_caption(board: Board, style: str, ci: bool) -> str:
    marks = (r"\textbf{bold}: best, \underline{underlined}: second best" if style == "bold"
             else r"\textcolor{red}{red}: best, \textcolor{orange}{orange}: second best")
    spread = r" $\pm$ half the 95\% bootstrap interval over clips." if ci else ""
    note = _coverage_note(board)
    return (f"Results on {latex_escape(board.dataset)} ({len(board.clips)} clips), protocol "
            f"\\texttt{{{latex_escape(board.protocol)}}}: per-frame values, clip mean, unweighted mean over clips."
            f"{spread} {marks}. $\\uparrow$: higher is better, $\\downarrow$: lower is better."
            + (f" Coverage: {latex_escape(note)}." if note else ""))


def to_markdown(board: Board, *, ci: bool = False) -> str:
    """A GitHub Markdown table: best **bold**, second <u>underlined</u>, arrows in the header."""
    head = (["Method"] + [markdown_escape(m) + (" " + _arrow_text(board.directions[m]) if board.directions[m]
                                                is not None else "") for m in board.metrics]
            + [markdown_escape(m) for m in board.not_applicable])
    lines = [f"**{markdown_escape(board.dataset)}** ({len(board.clips)} clips, protocol "
             f"`{board.protocol.replace('`', '')}`)", "", "| " + " | ".join(head) + " |",
             "|" + "---|" + "---:|" * (len(board.metrics) + len(board.not_applicable))]
    for method in board.methods:
        cells = [_method_text(board, method, markdown_escape)]
        for metric in board.metrics:
            text = _cell_text(board, method, metric, ci, lambda t: t)
            mark = board.marks.get(metric, {}).get(method)
            cells.append({"best": f"**{text}**", "second": f"<u>{text}</u>"}.get(mark or "", text))
        cells += [f"n/a ({why})" for why in board.not_applicable.values()]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Dataset means over clips; **bold** best, <u>underlined</u> second best; ↑ higher is better, "
              "↓ lower is better."]
    if note := _coverage_note(board):
        lines += ["", f"Coverage: {markdown_escape(note)}."]
    return "\n".join(lines) + "\n"


def _markdown_warnings(warned: dict[str, list[str]]) -> str:
    lines = [f"- {markdown_escape(m)}: {markdown_escape(w)}" for m, ws in warned.items() for w in ws]
    return ("\nWarnings:\n\n" + "\n".join(lines) + "\n") if lines else ""


def _latex_warnings(warned: dict[str, list[str]]) -> str:
    text = "; ".join(f"{m}: {w}" for m, ws in warned.items() for w in ws)
    return f" Warnings: {latex_escape(text)}." if text else ""


def _arrow_text(higher: bool) -> str:
    return "↑" if higher else "↓"


def write_tables(boards: list[Board], out_dir: Path, *, latex_style: str = "bold",
                 warnings: dict[str, list[str]] | None = None, reported: list[Any] | None = None) -> list[Path]:
    """leaderboard.csv (with coverage), leaderboard.md and leaderboard.tex with every board of the run; `warnings`
    (method -> its outputs' warnings) are printed under the tables they concern; `reported` tables (reported, not
    measured here) follow the measured ones in Markdown and LaTeX, each marked and cited."""
    from vrbench.report import reported as reported_tables

    warned = {b.dataset: {m: (warnings or {}).get(m, []) for m in b.methods if (warnings or {}).get(m)}
              for b in boards}
    import pandas as pd

    write_csv(pd.DataFrame(leaderboard_rows(boards), columns=LEADERBOARD_COLUMNS), out_dir / "leaderboard.csv")
    md = out_dir / "leaderboard.md"
    extra_md = ["\n## Reported results (not measured here)\n\n" + "\n".join(
        reported_tables.to_markdown(t) for t in reported)] if reported else []
    atomic_write_text(md, "\n".join([*(to_markdown(b) + _markdown_warnings(warned[b.dataset]) for b in boards),
                                     *extra_md]) or "No results.\n")
    tex = out_dir / "leaderboard.tex"
    atomic_write_text(tex, "% needs \\usepackage{booktabs}" + (" and xcolor" if latex_style == "color" else "")
                      + "\n" + "\n".join([*(to_latex(b, style=latex_style,
                                                        caption=_latex_caption(b, latex_style, False)
                                                        + _latex_warnings(warned[b.dataset])) for b in boards),
                                           *(reported_tables.to_latex(t) for t in reported or [])]))
    return [md, tex]
