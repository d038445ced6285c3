"""`vrbench reported ...` commands: the reported-result cards (published tables kept as data)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from vrbench.clikit import JsonOpt, cards_table, console

reported_app = typer.Typer(no_args_is_help=True, help="Published results kept as data (reported, not measured here).")


@reported_app.command("list")
def reported_list(as_json: JsonOpt = False) -> None:
    """Every reported-result card: source, datasets, metrics and how many values it holds; invalid cards are listed
    with one line per bad entry."""
    from vrbench.reported.cards import load_catalog

    cards, broken = load_catalog()
    rows = [[c.name, c.citation, ", ".join(c.dataset_names()), ", ".join(m.key for m in c.metrics.values()),
             str(len(c.values))] for c in cards.values()]
    cards_table("reported results (not measured here)", ["name", "source", "datasets", "metrics", "values"], rows,
                as_json=as_json)
    for error in broken.values():
        for line in error.problems:
            console.print(f"[red]invalid[/] {escape(str(error.file))}: {escape(line)}", soft_wrap=True)
    if broken:
        raise typer.Exit(2)


@reported_app.command("show")
def reported_show(
    name: Annotated[str, typer.Argument(help="card name (see `vrbench reported list`) or a YAML file")],
    as_json: JsonOpt = False,
) -> None:
    """One card: its source, protocol, mappings, values as printed and where other papers disagree."""
    from vrbench.reported.cards import load_cards, load_catalog
    from vrbench.reported.compare import REPORTED_BADGE, reported_tables

    card = load_cards([name])[0]
    catalog = list(load_catalog()[0].values())
    tables = reported_tables([card], catalog)
    if as_json:
        cards_table("", ["dataset", "metric", "metric_id", "method", "method_card", "value"],
                    [[v.dataset, v.metric, card.metrics[v.metric].id or "", v.method,
                      card.methods[v.method].card or "", v.text] for v in card.values], as_json=True)
        return
    console.print(f"[bold]{escape(card.title)}[/] ({REPORTED_BADGE})", soft_wrap=True)
    console.print(f"source: {escape(card.citation)}", soft_wrap=True)
    for key, value in card.protocol.items():
        if value not in (None, {}, ""):
            console.print(f"protocol {key}: {escape(str(value))}", soft_wrap=True)
    for m in card.metrics.values():
        arrow = "" if m.higher_is_better is None else ("↑" if m.higher_is_better else "↓")
        mapped = m.id or "no vrbench metric"
        console.print(f"metric {escape(m.printed)} {arrow} -> {escape(mapped)}"
                      f"{'' if m.exact else ' (mapping not exact)'}{': ' + escape(m.note) if m.note else ''}",
                      soft_wrap=True)
    for m in card.methods.values():
        console.print(f"method {escape(m.printed)} -> {escape(m.card or 'no vrbench card')}"
                      f"{': ' + escape(m.note) if m.note else ''}", soft_wrap=True)
    for t in tables:
        cards_table(f"{card.printed_dataset(t.dataset)} ({t.dataset})", ["method", *t.metrics],
                    [[r["label"], *(r["cells"].get(m, ("–", None))[0] for m in t.metrics)] for r in t.rows])
        for d in t.disagreements:
            console.print(f"  [yellow]papers disagree[/] {escape(d.text())}", soft_wrap=True)
    for note in card.notes:
        console.print(f"note: {escape(note)}", soft_wrap=True)
