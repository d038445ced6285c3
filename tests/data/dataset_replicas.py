"""Miniature replicas of the real dataset layouts, written from real frames (Big Buck Bunny crops).

Each builder writes a few tiny frames with the folder and file naming of the real release, so the loaders meet
the same names, nesting and numbering they meet in the wild.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vrbench.video import write_video_lossless

FRAMES = 3
GT_HW = (32, 48)


def clip_frames(bbb: np.ndarray, index: int, frames: int = FRAMES, hw: tuple[int, int] = GT_HW) -> np.ndarray:
    """A distinct real GT clip per index: a different crop window of the bunny frames."""
    top, left = (index * 7) % (bbb.shape[1] - hw[0]), (index * 11) % (bbb.shape[2] - hw[1])
    reps = -(-frames // len(bbb))
    source = np.concatenate([bbb] * reps)[:frames]
    return np.ascontiguousarray(source[:, top : top + hw[0], left : left + hw[1]])


def downscale(frames: np.ndarray, scale: int) -> np.ndarray:
    if scale == 1:
        return np.stack([cv2.GaussianBlur(f, (3, 3), 0) for f in frames])
    h, w = frames.shape[1] // scale, frames.shape[2] // scale
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])


def write_pngs(folder: Path, frames: np.ndarray, names: list[str] | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    names = names or [f"{i:08d}.png" for i in range(len(frames))]
    out = []
    for name, frame in zip(names, frames, strict=True):
        path = folder / name
        if not cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
            raise OSError(f"cannot write {path}")
        out.append(path)
    return out


def spmcs_names(n: int) -> list[str]:
    return [f"Frame {i + 1:03d}.png" for i in range(n)]


def vimeo_names(n: int) -> list[str]:
    return [f"im{i + 1}.png" for i in range(n)]


def sides(root: Path, bbb: np.ndarray, clips: list[str], gt_name: str | None, lq_name: str | None,
          *, scale: int = 4, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """`<gt_name>/<clip>/` and `<lq_name>/<clip>/` (either may be None: a GT-only or LQ-only set)."""
    truth = {c: clip_frames(bbb, i) for i, c in enumerate(clips)}
    for c in clips:
        if gt_name:
            write_pngs(root / gt_name / c, truth[c], names)
        if lq_name:
            write_pngs(root / lq_name / c, downscale(truth[c], scale), names)
    return truth


def build(layout: str, root: Path, bbb: np.ndarray, clips: list[str], *, scale: int = 4, gt: bool = True,
          lq: bool = True, reds_split: str = "val") -> dict[str, np.ndarray]:
    """Write `clips` in `layout` under `root`; returns clip -> GT frames. Flat layouts hold GT or LQ, not both."""
    truth = {c: clip_frames(bbb, i) for i, c in enumerate(clips)}
    small = {c: downscale(f, scale) for c, f in truth.items()}
    for c in clips:
        if layout == "canonical":
            _pair(root / "GT" / c, root / "LQ" / c, truth[c], small[c], gt, lq)
        elif layout == "dove":
            _pair(root / "GT" / c, root / "LQ" / c, truth[c], small[c], gt, lq)
            if gt:
                write_video_lossless(truth[c], root / "GT-Video" / f"{c}.mkv")
            if lq:
                write_video_lossless(small[c], root / "LQ-Video" / f"{c}.mkv")
        elif layout == "mmagic":
            names = [f"{i:04d}.png" for i in range(FRAMES)]  # mmagic udm10 template '{:04d}.png'
            if gt:
                write_pngs(root / "GT" / c, truth[c], names)
            if lq:
                write_pngs(root / f"BIx{scale}" / c, small[c], names)
                write_pngs(root / f"BDx{scale}" / c, downscale(cv2_blur(truth[c]), scale), names)
        elif layout == "spmc":
            names = spmcs_names(FRAMES)
            if gt:
                write_pngs(root / c / "truth", truth[c], names)
            if lq:
                write_pngs(root / c / f"input{scale}", small[c], names)
        elif layout == "reds":
            if gt:
                write_pngs(root / reds_split / f"{reds_split}_sharp" / c, truth[c])
            if lq:
                write_pngs(root / reds_split / f"{reds_split}_sharp_bicubic" / f"X{scale}" / c, small[c])
        elif layout == "vimeo":
            group, part = c.split("_")  # Vimeo-90K: sequences/00001/0266/im1.png ... im7.png
            names = vimeo_names(len(truth[c]))
            if gt:
                write_pngs(root / "vimeo_septuplet" / "sequences" / group / part, truth[c], names)
            if lq:
                write_pngs(root / f"vimeo_septuplet_matlabLRx{scale}" / "sequences" / group / part, small[c], names)
        elif layout == "flat":
            write_pngs(root / c, truth[c] if gt else small[c])
        else:
            raise ValueError(layout)
    return truth


def cv2_blur(frames: np.ndarray) -> np.ndarray:
    return np.stack([cv2.GaussianBlur(f, (7, 7), 1.6) for f in frames])


def _pair(gt_dir: Path, lq_dir: Path, gt: np.ndarray, lq: np.ndarray, want_gt: bool, want_lq: bool) -> None:
    if want_gt:
        write_pngs(gt_dir, gt)
    if want_lq:
        write_pngs(lq_dir, lq)
