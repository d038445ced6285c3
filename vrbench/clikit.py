"""Small pieces shared by the command-line modules: the console and a card table printer."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

console = Console()


def cards_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, show_lines=False)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*r)
    console.print(table)
