"""Small pieces shared by the command-line modules: the console and the one table printer of every listing.

On a terminal a table fits the window (long cells fold, the first column never does). Piped or redirected, it is
printed at its natural width, so one entry is one line and `vrbench metrics list | grep NAME` finds it. `--json`
prints the same rows as a list of objects keyed by the column names.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()

JsonOpt = Annotated[bool, typer.Option("--json", help="print a JSON list, one object per row")]

# wider than any row we print; a piped table then takes exactly the width its cells need
_UNBOUNDED = 100_000


def json_key(column: str) -> str:
    """`runnable here` -> `runnable_here`, `LQ` -> `lq`."""
    return re.sub(r"[^a-z0-9]+", "_", column.lower()).strip("_")


def table_records(columns: list[str], rows: list[list[str]]) -> list[dict[str, str]]:
    """The rows as objects keyed by the columns' JSON names, with rich markup removed from the values."""
    keys = [json_key(c) for c in columns]
    return [{k: Text.from_markup(v).plain for k, v in zip(keys, row, strict=True)} for row in rows]


def cards_table(title: str, columns: list[str], rows: list[list[str]], *, as_json: bool = False) -> None:
    """Print a listing: a table (never folding a name), or with `as_json` a JSON list on stdout."""
    if as_json:
        print(json.dumps(table_records(columns, rows), indent=1, ensure_ascii=False))
        return
    table = Table(title=title, show_lines=False)
    for i, c in enumerate(columns):
        table.add_column(c, overflow="fold", no_wrap=i == 0)
    for r in rows:
        table.add_row(*r)
    if console.is_terminal:
        console.print(table)
        return
    wide = Console(file=sys.stdout, width=_UNBOUNDED, color_system=None, highlight=False)
    width = wide.measure(table).maximum
    Console(file=sys.stdout, width=width, color_system=None, highlight=False).print(table)
