"""`vrbench methods ...` commands."""

from __future__ import annotations

from typing import Annotated

import typer

from vrbench.clikit import cards_table

methods_app = typer.Typer(no_args_is_help=True, help="Method adapters and their cards.")


@methods_app.command("list")
def methods_list(pattern: Annotated[str, typer.Argument()] = "*") -> None:
    """Show every method card."""
    from vrbench.registry import METHODS

    rows = [[c.name, c.kind, "yes" if c.supports_steps else "no", str(c.default_steps or "–"),
             f"x{c.scale}" if c.scale else "any", c.summary] for c in METHODS.cards(pattern)]
    cards_table("methods", ["name", "kind", "steps", "default steps", "scale", "summary"], rows)
