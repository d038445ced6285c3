"""`vrbench metrics ...` commands."""

from __future__ import annotations

from typing import Annotated

import typer

from vrbench.clikit import cards_table

metrics_app = typer.Typer(no_args_is_help=True, help="Metrics and their cards.")


@metrics_app.command("list")
def metrics_list(pattern: Annotated[str, typer.Argument()] = "*") -> None:
    """Show every metric card, with whether its weights are on this machine."""
    from vrbench.registry import METRICS

    def status(card) -> str:
        missing = [w.name for w in card.weights if not w.present()]
        return "ready" if not missing else "needs " + ", ".join(missing)

    rows = [[c.name, c.kind, c.arrow, _range(c.range), c.version, status(c), c.convention]
            for c in METRICS.cards(pattern)]
    cards_table("metrics", ["name", "kind", "dir", "range", "ver", "status", "convention"], rows)


def _range(r) -> str:
    lo, hi = r
    return f"[{'' if lo is None else lo}, {'' if hi is None else hi}]"
