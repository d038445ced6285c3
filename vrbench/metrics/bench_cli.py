"""`vrbench bench protocol NAME`: minutes per stage of a protocol's full scoring, extrapolated from N frames."""

from __future__ import annotations

from typing import Annotated

import typer


def bench_protocol_command(
    name: Annotated[str, typer.Argument(help="protocol name (seedvr2)")],
    frames: Annotated[int, typer.Option(help="synthetic 720p frames to measure on")] = 8,
    metrics: Annotated[str, typer.Option(help="measure only these of the protocol's metrics (comma-separated)")] = "",
    chunk: Annotated[int, typer.Option(help="engine chunk size")] = 8,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 ... (default: cuda if present)")] = None,
    save: Annotated[str, typer.Option(help="folder to write the run's JSON into, e.g. docs/bench")] = "",
) -> None:
    """Score N synthetic 720p frames through the protocol's colour fix and full metric set (random stand-in
    weights in a temporary torch hub) and extrapolate to the protocol's test sets for one method."""
    from pathlib import Path

    from vrbench.clikit import cards_table, console
    from vrbench.errors import InputError
    from vrbench.metrics.bench_protocol import PROTOCOL_SETS, run_protocol_bench, save_protocol_run

    if frames < 1:
        raise InputError("--frames must be at least 1", found=frames)
    only = [m.strip() for m in metrics.split(",") if m.strip()] or None
    r = run_protocol_bench(name, frames, chunk, device, only)
    sets = ", ".join(f"{k} {c}x{f}" for k, (c, f) in PROTOCOL_SETS.get(name, {}).items())
    rows = [[stage, f"{1000 * s:.0f} ms/frame", f"{r.minutes(stage):.1f}"] for stage, s in r.seconds_per_frame.items()]
    rows += [[stage, f"{s:.1f} s/clip", f"{r.minutes(stage):.1f}"] for stage, s in r.seconds_per_clip.items()]
    cards_table(f"{name}: {r.frames} frames at 1280x720 on {r.device}, extrapolated to {r.target_frames} frames in "
                f"{r.target_clips} clips ({sets})", ["stage", "measured", "minutes"], rows)
    console.print(f"whole protocol for one method: {r.total_minutes:.1f} minutes (sum of the stages)")
    for metric, why in r.unavailable.items():
        console.print(f"not measured: {metric} ({why})")
    if save:
        console.print(f"saved {save_protocol_run(r, Path(save))}")
