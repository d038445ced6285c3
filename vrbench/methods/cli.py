"""`vrbench methods ...` commands: every card, whether it can run on this machine, and why not."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from vrbench.clikit import JsonOpt, cards_table, console

methods_app = typer.Typer(no_args_is_help=True, help="Method adapters and their cards.")

READY_KINDS = ("baseline", "sanity", "precomputed")


def runnable(entry: Any) -> tuple[bool | None, str]:
    """(can it run here, why): the factory's own `runnable()` check, else what the card kind implies."""
    check = getattr(entry.factory, "runnable", None)
    if callable(check):
        return check()
    if entry.card.kind in READY_KINDS:
        return True, "" if entry.origin == "builtin" else entry.origin  # needs nothing beyond vrbench itself
    return None, f"not checked: {entry.origin} adapter without a runnable() check (weights, packages, device)"


def runnable_text(ok: bool | None, why: str) -> str:
    """`yes`, `yes (what was checked)`, `no: why not`, `?: what was not checked`."""
    if ok:
        return f"yes ({why})" if why else "yes"
    return f"{'no' if ok is False else '?'}: {why}"


def method_rows(registry: Any, pattern: str = "*") -> list[list[str]]:
    rows = []
    for name in registry.names(pattern):
        entry = registry.entry(name)
        card = entry.card
        ok, why = runnable(entry)
        steps = (f"{card.default_steps}" if card.default_steps is not None else "–") + ("*" if card.supports_steps
                                                                                       else "")
        seed = "seed" if getattr(card, "seeded", False) else ("fixed" if card.deterministic else "UNSEEDED")
        rows.append([card.name, card.kind, steps, f"x{card.scale}" if card.scale else "any", seed,
                     runnable_text(ok, why), card.summary])
    return rows


@methods_app.command("list")
def methods_list(pattern: Annotated[str, typer.Argument()] = "*", as_json: JsonOpt = False) -> None:
    """Show every method card and whether it can run here (and why not)."""
    from vrbench.registry import METHODS

    cards_table("methods", ["name", "kind", "steps", "scale", "seed", "runnable here", "summary"],
                method_rows(METHODS, pattern), as_json=as_json)
    if as_json:
        return
    console.print("steps: default count, * = sweepable; seed: seed = takes our seed, fixed = deterministic")
    for source, error in sorted(METHODS.load_errors.items()):
        console.print(f"[red]not loaded[/] {source}: {error}")


@methods_app.command("show")
def methods_show(name: Annotated[str, typer.Argument(help="method name")]) -> None:
    """Print one card in full: paper, licence, command, setup notes and what was verified."""
    import yaml

    from vrbench.registry import METHODS

    entry = METHODS.entry(name)
    ok, why = runnable(entry)
    data = {k: v for k, v in entry.card.to_dict().items() if v not in ("", None, (), [])}
    data["scale"] = f"x{entry.card.scale}" if entry.card.scale else "any"
    data["weights"] = [{k: v for k, v in w.items() if v} for w in data.get("weights", [])]
    spec = getattr(entry.factory, "command_card", None)
    if spec is not None:
        data["setup"] = spec.setup or None
        data["command"] = spec.command.model_dump()
    data["origin"] = entry.origin
    data["runnable here"] = runnable_text(ok, why)
    console.print(yaml.dump(data, Dumper=_block_dumper(), sort_keys=False, allow_unicode=True, width=110),
                  markup=False)


def _block_strings(dumper, text: str):
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text.strip() if style else text, style=style)


def _block_dumper():
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(str, _block_strings)
    return Dumper
