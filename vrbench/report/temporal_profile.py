"""Temporal profiles: one pixel row (or column) of every frame stacked over time, as restoration papers draw them.

SeedVR2 (Fig. 6) follows Upscale-A-Video: "examine a row and track changes over time"; the x-t image of a
temporally stable result shows smooth streaks like the GT's, flicker shows as horizontal tears and noise. No
paper gives a rule for the row, so `auto_line` takes the line with the most temporal detail in the GT (mean
absolute frame-to-frame change along the line), away from the borders.
"""

from __future__ import annotations

import numpy as np

from vrbench.errors import InputError
from vrbench.report.plots import pyplot
from vrbench.video import Video

AXES = ("row", "column")


def temporal_profile(video: Video, index: int, axis: str = "row", chunk: int = 16) -> np.ndarray:
    """(T, W, 3) for a row, (T, H, 3) for a column: that line of every frame, in time order, read in chunks."""
    _check_axis(axis)
    size = video.height if axis == "row" else video.width
    if not 0 <= index < size:
        raise InputError(f"{axis} out of range", clip=video.name, expected=f"0 <= {axis} < {size}", found=index)
    lines = [c[:, index] if axis == "row" else c[:, :, index] for c in video.iter_chunks(chunk)]
    return np.ascontiguousarray(np.concatenate(lines))


def _check_axis(axis: str) -> None:
    if axis not in AXES:
        raise InputError("unknown profile axis", expected=" or ".join(AXES), found=axis)


def lq_profile(lq: Video, index: int, axis: str, scale: int, length: int) -> np.ndarray:
    """The LQ line under output line `index` (half-pixel centres), widened by pixel repetition to `length`."""
    size = lq.height if axis == "row" else lq.width
    lq_index = min(max(int((index + 0.5) / scale), 0), size - 1)
    profile = temporal_profile(lq, lq_index, axis)
    return np.repeat(profile, scale, axis=1)[:, :length]


def temporal_detail(video: Video, axis: str = "row", chunk: int = 16) -> np.ndarray:
    """Per line: mean |Y_t - Y_{t-1}| along it, over all frame pairs (one chunked pass over the clip)."""
    _check_axis(axis)
    total, prev, pairs = None, None, 0
    for frames in video.iter_chunks(chunk):
        y = frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        seq = y if prev is None else np.concatenate([prev[None], y])
        diff = np.abs(np.diff(seq, axis=0)).sum(axis=0)  # (H, W)
        pairs += len(seq) - 1
        per_line = diff.mean(axis=1) if axis == "row" else diff.mean(axis=0)
        total = per_line if total is None else total + per_line
        prev = y[-1]
    return total / max(pairs, 1)


def auto_line(gt: Video, axis: str = "row", margin: float = 0.1) -> int:
    """The line with the most temporal detail, smoothed over 5 lines, at least `margin` away from the borders."""
    score = temporal_detail(gt, axis)
    smooth = np.convolve(score, np.ones(5) / 5.0, mode="same")
    lo, hi = int(len(score) * margin), int(np.ceil(len(score) * (1.0 - margin)))
    if hi <= lo:
        lo, hi = 0, len(score)
    return int(lo + np.argmax(smooth[lo:hi]))


def resolve_line(spec: str | float | int | None, size: int, gt: Video | None = None, axis: str = "row") -> int:
    """A line from a pixel index ("120"), a fraction of the frame ("0.5"), or automatic (None / "auto")."""
    if spec is None or str(spec).strip().lower() == "auto":
        if gt is None:
            raise InputError("automatic line choice needs a GT clip", expected=f"--{axis} N or a fraction",
                             found="a clip without GT")
        return auto_line(gt, axis)
    text = str(spec).strip()
    try:
        value = float(text)
    except ValueError as e:
        raise InputError(f"bad {axis}", expected="a pixel index, a fraction in [0, 1] or 'auto'", found=text) from e
    index = int(round(value * (size - 1))) if "." in text and 0.0 <= value <= 1.0 else int(value)
    if not 0 <= index < size:
        raise InputError(f"{axis} out of range", expected=f"0..{size - 1} (or a fraction)", found=text)
    return index


def auto_zoom(profile: np.ndarray, width: int | None = None) -> tuple[int, int]:
    """(start, stop) of the segment of a GT profile with the most temporal change; a quarter of it by default."""
    length = profile.shape[1]
    width = min(width or max(length // 4, 8), length)
    y = profile.astype(np.float32).mean(axis=2)
    change = np.abs(np.diff(y, axis=0)).sum(axis=0) if len(y) > 1 else np.zeros(length)
    window = np.convolve(change, np.ones(width), mode="valid")
    start = int(np.argmax(window))
    return start, start + width


def parse_zoom(spec: str | None, length: int) -> tuple[int, int] | str | None:
    """None, "auto", or "start:stop" in pixels (or fractions with a dot), checked against the profile length."""
    if spec is None or spec.strip().lower() in ("", "none"):
        return None
    if spec.strip().lower() == "auto":
        return "auto"
    parts = spec.split(":")
    try:
        a, b = (float(p) for p in parts)
    except ValueError as e:
        raise InputError("bad zoom", expected="'auto' or START:STOP", found=spec) from e
    if "." in spec and max(a, b) <= 1.0:
        a, b = a * length, b * length
    start, stop = int(round(a)), int(round(b))
    if not 0 <= start < stop <= length:
        raise InputError("zoom out of range", expected=f"0 <= START < STOP <= {length}", found=spec)
    return start, stop


def profile_panels(gt: Video | None, lq: Video | None, outputs: dict[str, Video], index: int, axis: str,
                   scale: int) -> dict[str, np.ndarray]:
    """Name -> x-t image for GT, the input (pixel-repeated to the output size) and each method, in that order."""
    panels: dict[str, np.ndarray] = {}
    if gt is not None:
        panels["GT"] = temporal_profile(gt, index, axis)
    length = next(iter(panels.values())).shape[1] if panels else None
    if lq is not None:
        if length is None:
            first = next(iter(outputs.values()), None)
            length = (first.width if axis == "row" else first.height) if first else lq.width * scale
        panels["Input"] = lq_profile(lq, index, axis, scale, length)
    for name, video in outputs.items():
        panels[name] = temporal_profile(video, index, axis)
    return panels


def plot_profiles(panels: dict[str, np.ndarray], *, axis: str, index: int, frame: np.ndarray | None = None,
                  zoom: tuple[int, int] | None = None, curves=None, colors: dict[str, str] | None = None,
                  title: str = ""):
    """The paper figure: a locator frame, then one x-t image per panel; a zoomed row; per-frame curves below.

    `curves` is a callable `ax -> None` drawing the per-frame metric curves (see `plots.per_frame_curves`).
    Returns `(fig, axes)` with axes a dict of name -> Axes.
    """
    plt = pyplot()
    names = list(panels)
    # a narrow spacer column keeps the first profile's time label off the locator frame
    offset = 2 if frame is not None else 0
    cols = len(names) + offset
    widths = ([1.0, 0.12] if frame is not None else []) + [1.0] * len(names)
    rows = 1 + (zoom is not None) + (curves is not None)
    heights = [1.0] + ([1.0] if zoom is not None else []) + ([1.25] if curves is not None else [])
    height = 1.75 * sum(heights) + 0.5
    fig = plt.figure(figsize=(max(1.75 * sum(widths), 6.0), height), dpi=120)
    grid = fig.add_gridspec(rows, cols, height_ratios=heights, width_ratios=widths, hspace=0.45, wspace=0.06,
                            top=1.0 - 0.5 / height, bottom=0.4 / height, left=0.05, right=0.99)
    axes = {}
    if frame is not None:
        axes["frame"] = _draw_locator(fig.add_subplot(grid[0, 0]), frame, axis, index, zoom)
    for i, name in enumerate(names):
        ax = fig.add_subplot(grid[0, i + offset])
        _draw_profile(ax, panels[name], name, colors, first=i == 0, axis=axis)
        axes[name] = ax
        if zoom is not None:
            zax = fig.add_subplot(grid[1, i + offset])
            _draw_profile(zax, panels[name][:, zoom[0] : zoom[1]], None, colors, first=i == 0, axis=axis,
                          start=zoom[0])
            axes[f"{name} zoom"] = zax
    if curves is not None:
        cax = fig.add_subplot(grid[rows - 1, :])
        curves(cax)
        axes["curves"] = cax
    other = "x" if axis == "row" else "y"
    fig.suptitle(title or f"temporal profile of {axis} {index} ({other}–t image)", fontsize=10, y=1.0 - 0.12 / height,
                 va="top")
    return fig, axes


def _draw_locator(ax, frame: np.ndarray, axis: str, index: int, zoom: tuple[int, int] | None):
    ax.imshow(frame, interpolation="nearest")
    line = ax.axhline if axis == "row" else ax.axvline
    line(index, color="#ff2d2d", linewidth=1.0)
    if zoom is not None:
        if axis == "row":
            ax.plot(zoom, [index, index], color="#ffd400", linewidth=3.0, solid_capstyle="butt")
        else:
            ax.plot([index, index], zoom, color="#ffd400", linewidth=3.0, solid_capstyle="butt")
    ax.set_title(f"GT, {axis} {index}", fontsize=8.5)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _draw_profile(ax, image: np.ndarray, name: str | None, colors: dict[str, str] | None, *, first: bool,
                  axis: str, start: int = 0) -> None:
    t, length = image.shape[:2]
    ax.imshow(image, interpolation="nearest", aspect="auto", extent=(start - 0.5, start + length - 0.5, t - 0.5, -0.5))
    if name is not None:
        ax.set_title(name, fontsize=8.5, color=(colors or {}).get(name, "#111"))
    ax.tick_params(labelsize=6.5, length=2)
    ax.set_xlabel("x" if axis == "row" else "y", fontsize=7, labelpad=1)
    if first:
        ax.set_ylabel("t (frame)", fontsize=7, labelpad=1)
    else:
        ax.set_yticklabels([])
