"""`vrbench export --submission FILE` and `vrbench leaderboard build`: results that travel between labs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from vrbench.clikit import console

leaderboard_app = typer.Typer(no_args_is_help=True, help="Static leaderboards merged from submission files.")


def export_command(
    run_name: Annotated[str, typer.Argument(metavar="RUN", help="run name")],
    submission: Annotated[Path, typer.Option("--submission", help="the submission JSON file to write")],
    store: Annotated[Path | None, typer.Option("--store", help="results database (default: "
                                               ".vrbench/results.sqlite)")] = None,
) -> None:
    """Write a run as a versioned, self-describing submission (values, per-clip values, coverage, metric cards,
    protocol, dataset and LQ manifest hashes, method cards and cost, environment)."""
    from vrbench.paths import work_dir
    from vrbench.report.submission import write_submission
    from vrbench.store import Store

    with Store(store or work_dir() / "results.sqlite", read_only=True) as s:
        path = write_submission(s, run_name, submission)
    console.print(f"submission: {escape(str(path))}", soft_wrap=True)


@leaderboard_app.command("build")
def leaderboard_build(
    files: Annotated[list[Path], typer.Argument(metavar="SUBMISSION...", help="submission files (vrbench export "
                                                "--submission)")],
    out: Annotated[Path, typer.Option("--out", help="folder of the static leaderboard (index.html and exports)")],
    reported: Annotated[list[str] | None, typer.Option(
        "--reported", help="a reported-result card to show in a block of its own (repeatable)")] = None,
) -> None:
    """Merge submissions into one static page; results whose protocol, LQ manifest or metric versions differ are
    kept in separate tables, with a line naming the hash that differs."""
    from vrbench.report.leaderboard import build_site

    page, notes = build_site(list(files), out, reported=reported)
    for note in notes:
        console.print(f"[yellow]{escape(note)}[/]", soft_wrap=True)
    console.print(f"leaderboard: {escape(str(page))}", soft_wrap=True)
