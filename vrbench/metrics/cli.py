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


weights_app = typer.Typer(no_args_is_help=True, help="Weight files of learned metrics: status, fetch, import.")


def known_weights() -> dict[str, list]:
    """Every weights file any registered metric or method declares -> the names of what uses it."""
    from vrbench.registry import METHODS, METRICS
    from vrbench.weights import WeightFile

    found: dict[str, tuple[WeightFile, list[str]]] = {}
    for card in [*METRICS.cards(), *METHODS.cards()]:
        for w in getattr(card, "weights", ()):
            if isinstance(w, WeightFile):
                found.setdefault(w.path.as_posix(), (w, []))[1].append(card.name)
    return {k: [w, users] for k, (w, users) in found.items()}


@weights_app.command("status")
def weights_status() -> None:
    """Which weight files are present, verified against their checksum, and where each one goes."""
    from vrbench.errors import InputError
    from vrbench.weights import digest

    rows = []
    for w, users in known_weights().values():
        if not w.present():
            state = "missing"
        else:
            try:
                digest(w)
                state = "ok" if (w.sha256 or w.sha256_prefix) else "present (no published checksum)"
            except InputError:
                state = "WRONG CHECKSUM"
        rows.append([w.name, ", ".join(users), state, str(w.path), w.url])
    cards_table("weights", ["file", "used by", "status", "path", "url"], rows)


@weights_app.command("fetch")
def weights_fetch(names: Annotated[list[str] | None, typer.Argument(help="file or metric names [default: all]")] = None
                  ) -> None:
    """Download weight files (checksum-verified, atomic). Refuses when VRBENCH_OFFLINE=1."""
    from vrbench.clikit import console
    from vrbench.weights import fetch

    for w, users in known_weights().values():
        if names and w.name not in names and not set(users) & set(names):
            continue
        console.print(f"{w.name}: {fetch(w)}")


@weights_app.command("import")
def weights_import(file: Annotated[str, typer.Argument(help="a weights file you downloaded yourself")]) -> None:
    """Copy a downloaded file into its cache place (matched by name, checksum verified)."""
    from pathlib import Path

    from vrbench.clikit import console
    from vrbench.weights import import_file

    target = import_file(Path(file), [w for w, _ in known_weights().values()])
    console.print(f"imported {file} -> {target}")
