"""`vrbench datasets ...` commands."""

from __future__ import annotations

from typing import Annotated

import typer

from vrbench.clikit import cards_table

datasets_app = typer.Typer(no_args_is_help=True, help="Benchmark datasets and their cards.")


@datasets_app.command("list")
def datasets_list(pattern: Annotated[str, typer.Argument()] = "*") -> None:
    """Show every dataset card."""
    from vrbench.paths import data_root
    from vrbench.registry import DATASETS

    rows = [[c.name, c.kind, str(c.clips or "?"), f"x{c.scale}", c.lq_source,
             "prepared" if (data_root() / c.name).is_dir() else "missing", c.summary] for c in DATASETS.cards(pattern)]
    cards_table("datasets", ["name", "kind", "clips", "scale", "LQ", "status", "summary"], rows)
