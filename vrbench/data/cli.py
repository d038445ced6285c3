"""`vrbench datasets ...` commands: list (with status here), info, prepare, verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from vrbench.clikit import JsonOpt, cards_table, console

datasets_app = typer.Typer(no_args_is_help=True, help="Benchmark datasets: cards, status, preparation, checksums.")

NameArg = Annotated[str, typer.Argument(help="dataset name (see `vrbench datasets list`)")]
RootOpt = Annotated[Path | None, typer.Option("--root", help="dataset folder [default: the prepared copy]")]


def _card(name: str) -> Any:
    from vrbench.registry import DATASETS

    return DATASETS.card(name)


@datasets_app.command("list")
def datasets_list(pattern: Annotated[str, typer.Argument()] = "*", as_json: JsonOpt = False) -> None:
    """Show every dataset card with its status on this machine (prepared / partial / missing)."""
    from vrbench.data.integrity import dataset_status
    from vrbench.registry import DATASETS

    rows = []
    for c in DATASETS.cards(pattern):
        status = dataset_status(c)
        frames = str(c.frames_per_clip or "?")
        rows.append([c.name, c.kind, str(c.clips or "?"), frames, f"x{c.scale}", c.lq_source,
                     status.state + (f" ({status.detail})" if status.detail else ""), c.summary])
    cards_table("datasets", ["name", "kind", "clips", "frames", "scale", "LQ", "status here", "summary"], rows,
                as_json=as_json)


def _side(video: Any) -> str:
    return f"{video.num_frames} × {video.width}x{video.height}" if video is not None else "–"


def _info_rows(report: Any) -> list[list[str]]:
    rows = []
    for c in report.clips:
        video = c.lq or c.gt
        fps = f"{video.fps:g}" if video is not None else "–"
        state = "ok" if c.ok else "[red]left out[/]: " + "; ".join(str(e) for e in c.problems)
        rows.append([c.name, _side(c.gt), _side(c.lq), fps, state + "".join(f"\n  {n}" for n in c.notes)])
    return rows


def _info_json(report: Any) -> dict[str, Any]:
    def side(v: Any, path: Path | None) -> dict[str, Any] | None:
        if v is None:
            return None if path is None else {"path": str(path)}
        return {"path": str(v.path), "frames": v.num_frames, "width": v.width, "height": v.height, "fps": v.fps}

    return {"dataset": report.card.name, "layout": report.found.layout, "root": str(report.found.root),
            "lq_variant": report.found.lq_variant, "notes": report.notes,
            "clips": [{"name": c.name, "gt": side(c.gt, c.gt_path), "lq": side(c.lq, c.lq_path), "ok": c.ok,
                       "problems": [str(e) for e in c.problems], "notes": c.notes} for c in report.clips]}


@datasets_app.command("info")
def datasets_info(name: NameArg, root: RootOpt = None,
                  as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """What is in a dataset folder: layout, clips, frames, sizes, fps, GT/LQ, problems and notes."""
    from vrbench.registry import DATASETS

    dataset = DATASETS.create(name, root=root)
    report = dataset.scan()
    if as_json:
        print(json.dumps(_info_json(report), indent=1))
        return
    found = report.found
    cards_table(f"{name}: layout '{found.layout}' at {found.root}", ["clip", "GT", "LQ", "fps", "status"],
                _info_rows(report))
    good = len(report.good)
    console.print(f"{good} of {len(report.clips)} clips load; {len(report.clips) - good} left out"
                  + (f"; LQ variant {found.lq_variant}" if found.lq_variant else ""))
    for note in report.notes:
        console.print(f"  note: {note}")


@datasets_app.command("prepare")
def datasets_prepare(
    name: NameArg,
    sources: Annotated[list[Path] | None, typer.Option(
        "--from", help="an archive (.zip/.tar*) or a folder you downloaded; repeat for several archives")] = None,
    lq: Annotated[str | None, typer.Option(
        "--lq", help="LQ source instead of the card's: released, released:BDx4, degrade:<preset>:<seed>")] = None,
    dest: Annotated[Path | None, typer.Option(help="where to write [default: <data root>/<name>]")] = None,
    force: Annotated[bool, typer.Option(
        help="replace a copy of this dataset that vrbench prepared (any other folder is refused)")] = False,
) -> None:
    """Download (online) or take --from, unpack safely, normalise to GT/ LQ/ PNG frames, write the manifest."""
    from vrbench.data.prepare import prepare_dataset
    from vrbench.registry import DATASETS

    card = _card(name)
    dataset = DATASETS.create(name, root=dest)
    if dataset.makes_itself:
        _make_itself(dataset, sources, lq, force)
        return
    manifest = prepare_dataset(card, sources or (), dest=dest, lq_source=lq, force=force,
                               log=lambda msg: console.print(msg, highlight=False))
    console.print(f"[bold]{name}[/]: {len(manifest['clips'])} clips, layout '{manifest.get('layout', '?')}', "
                  f"LQ {manifest.get('lq_source', '?')}, {len(manifest.get('files', {}))} files checksummed")
    for problem in manifest.get("problems", []):
        console.print(f"  [red]left out[/] {problem}")


def _make_itself(dataset: Any, sources: list[Path] | None, lq: str | None, force: bool) -> None:
    """`prepare` of a set made from what is installed (the demo): no sources to take, no LQ source to choose."""
    from vrbench.errors import InputError

    name = dataset.card.name
    if sources or lq:
        raise InputError(f"'{name}' is made from the installed packages; --from and --lq do not apply",
                         dataset=name, expected=f"`vrbench datasets prepare {name}` alone",
                         found=" ".join([*(f"--from {p}" for p in sources or ()), *([f"--lq {lq}"] if lq else [])]))
    dataset.prepare(force=force)
    manifest = dataset.manifest()
    console.print(f"[bold]{name}[/]: {len(manifest.get('clips', {}))} clips at {dataset.root}, "
                  f"{len(manifest.get('files', {}))} files checksummed", highlight=False)


@datasets_app.command("verify")
def datasets_verify(
    name: NameArg, root: RootOpt = None,
    decode: Annotated[bool, typer.Option(help="also decode every frame (slow; finds damage inside files)")] = False,
) -> None:
    """Check every file against the sha256 manifest (write the manifest if there is none); exit 1 on a mismatch."""
    from vrbench.data.integrity import verify_dataset

    result = verify_dataset(_card(name), root, decode=decode)
    if result.wrote_manifest:
        console.print(f"{name}: no checksums yet; wrote sha256 of {result.checked} files to "
                      f"{result.root / 'manifest.json'}")
        return
    for label, items in (("missing", result.missing), ("changed", result.changed), ("extra", result.extra),
                         ("decode error", result.decode_errors)):
        for item in items[:20]:
            console.print(f"  [red]{label}[/] {item}", highlight=False)
        if len(items) > 20:
            console.print(f"  ... and {len(items) - 20} more {label}")
    verdict = "ok" if result.ok else "FAILED"
    console.print(f"{name}: {verdict}: {result.checked} files checked, {len(result.missing)} missing, "
                  f"{len(result.changed)} changed, {len(result.extra)} extra")
    if not result.ok:
        raise typer.Exit(1)
