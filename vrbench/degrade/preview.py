"""Contact sheet of degraded clips: GT, LQ (nearest-upscaled to GT size), a zoomed crop of each, and parameters.

`preview_figure` builds the figure (no files, no pyplot global state); `make_preview` writes it as a PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vrbench.degrade.ops import OPS

PreviewItem = tuple[np.ndarray, np.ndarray, dict]  # (GT uint8 (T, H, W, 3), LQ uint8 (T, h, w, 3), manifest)


def describe_stages(manifest: dict, frame: int = 0) -> list[str]:
    """The manifest's stages with frame `frame`'s parameters, one line each."""
    return [OPS[stage["op"]].describe(stage, frame) for stage in manifest["stages"]]


def centre_crop(frame: np.ndarray, size: int) -> np.ndarray:
    top, left = max((frame.shape[0] - size) // 2, 0), max((frame.shape[1] - size) // 2, 0)
    return frame[top : top + size, left : left + size]


def preview_figure(items: Sequence[PreviewItem], frame: int = 0, crop: int = 128):
    """Figure with one row per clip: GT, LQ, GT crop, LQ crop (both crops of the same region), parameters."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(18, 3.6 * len(items)), dpi=100)
    axes = fig.subplots(len(items), 5, squeeze=False, gridspec_kw={"width_ratios": [3, 3, 2, 2, 3.2]})
    for row, (gt, lq, manifest) in zip(axes, items, strict=True):
        scale = manifest["scale"]
        gt_frame, lq_frame = gt[frame][: lq.shape[1] * scale, : lq.shape[2] * scale], lq[frame]
        lq_up = lq_frame.repeat(scale, axis=0).repeat(scale, axis=1)
        preset = manifest["preset"]
        titles = [f"GT  {manifest['clip_id']}", f"LQ  {preset['name']} v{preset['version']}  seed {manifest['seed']}",
                  f"GT crop {crop}px", f"LQ crop (nearest x{scale})"]
        for ax, image, title in zip(row[:4], [gt_frame, lq_up, centre_crop(gt_frame, crop), centre_crop(lq_up, crop)],
                                    titles, strict=True):
            ax.imshow(image, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        row[4].axis("off")
        text = "\n".join([f"frame {frame}, LQ {lq.shape[2]}x{lq.shape[1]}", *describe_stages(manifest, frame)])
        row[4].text(0, 1, text, va="top", ha="left", family="monospace", fontsize=7.5, transform=row[4].transAxes)
    fig.tight_layout()
    return fig


def make_preview(items: Sequence[PreviewItem], path: str | Path, frame: int = 0, crop: int = 128) -> Path:
    """Write the contact sheet of (GT, LQ, manifest) items to a PNG file and return its path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = preview_figure(items, frame=frame, crop=crop)
    FigureCanvasAgg(fig).print_png(str(path))
    return path
