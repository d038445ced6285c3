"""Geometry and alignment policy between a method's output and the ground truth, as pure functions.

1. Expected output size for an output rule:
   - `scale`: scale x the LQ size (the default of every VSR protocol);
   - `seedvr2-area`: SeedVR2's official inference resizes the LQ to the area of 720x1280 keeping the aspect ratio,
     `round(h * sqrt(A / (h w)))`, then centre-crops to multiples of 16
     [ByteDance-Seed/SeedVR@673b563 data/image/transforms/area_resize.py, divisible_crop.py,
     projects/inference_seedvr2_3b.py L229-245];
   - `short-side-1024`: Vivid-VR / SATB-VR `--upscale 0` scale the short side to 1024 with
     `F.interpolate(scale_factor=1024 / short)`, i.e. floor(dim * 1024 / short) [csbhr/Vivid-VR VRDiT/inference.py].
2. Mismatch policy between output and GT sizes: `error` (the default) raises; `crop` scores the common area, anchored
   at the top-left (DOVE's `eval_metrics.py` default) or the centre, and records a warning with the result; `resize`
   resizes the output to the GT size with a named OpenCV filter (for published outputs a few pixels off, e.g.
   SeedVR2's multiple-of-16 crop) and records the filter and a warning.
3. Optional integer-shift search for sets with a known pixel offset between LQ and GT (SPMCS per the Vivid-VR
   maintainer, csbhr/Vivid-VR issue #16; UDM10 via a different LR script, open-mmlab/mmagic issue #803): the shift
   (dy, dx) with the best PSNR, output pixel (y + dy, x + dx) matching GT pixel (y, x). Every shift is scored on the
   same GT window (a `margin` trimmed on each side), so results of different methods stay comparable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vrbench.errors import InputError

OUTPUT_RULES = ("scale", "seedvr2-area", "short-side-1024")
POLICIES = ("error", "crop", "resize")
RESIZE_FILTERS = ("bicubic", "bilinear", "area", "lanczos")
ANCHORS = ("top-left", "center")


# ---- expected output size --------------------------------------------------------------------------------------
def seedvr2_area_size(h: int, w: int, area: tuple[int, int] = (720, 1280), multiple: int = 16) -> tuple[int, int]:
    """SeedVR2's output size: area-preserving resize to area[0] * area[1], then crop to multiples of `multiple`."""
    resolution = (area[0] * area[1]) ** 0.5  # NaResize(resolution=(res_h * res_w) ** 0.5) squares it back
    scale = math.sqrt(resolution**2 / (h * w))
    rh, rw = round(h * scale), round(w * scale)
    return rh - rh % multiple, rw - rw % multiple


def short_side_size(h: int, w: int, short: int = 1024) -> tuple[int, int]:
    """Vivid-VR's `--upscale 0`: scale factor short / min(h, w); torch floors size * factor."""
    factor = short / min(h, w)
    return math.floor(h * factor), math.floor(w * factor)


def expected_output_size(lq_hw: tuple[int, int], *, scale: int = 4, rule: str = "scale") -> tuple[int, int]:
    """(height, width) a method produces from an LQ of `lq_hw` under an output rule (see the module docstring)."""
    h, w = lq_hw
    if rule == "scale":
        return h * scale, w * scale
    if rule == "seedvr2-area":
        return seedvr2_area_size(h, w)
    if rule == "short-side-1024":
        return short_side_size(h, w)
    raise InputError("unknown output geometry rule", expected=OUTPUT_RULES, found=rule)


# ---- mismatch policy --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Box:
    top: int
    left: int
    height: int
    width: int


@dataclass(frozen=True)
class Alignment:
    """How to cut an output frame and its GT frame so they can be compared; recorded with every result."""

    out_box: Box
    gt_box: Box
    policy: str = "error"
    anchor: str = "top-left"
    shift: tuple[int, int] = (0, 0)
    margin: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def identity(self) -> bool:
        return self.out_box == self.gt_box and self.out_box.top == 0 and self.out_box.left == 0 and not self.margin

    def apply(self, out: Any, gt: Any, channels_last: bool = True) -> tuple[Any, Any]:
        """Crop an output chunk and a GT chunk: numpy/torch (T, H, W, C) or, with channels_last=False, (T, C, H, W)."""
        return _cut(out, self.out_box, channels_last), _cut(gt, self.gt_box, channels_last)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cut(frames: Any, box: Box, channels_last: bool) -> Any:
    rows, cols = slice(box.top, box.top + box.height), slice(box.left, box.left + box.width)
    return frames[..., rows, cols, :] if channels_last else frames[..., rows, cols]


def _offset(size: int, keep: int, anchor: str) -> int:
    # centre offsets as torchvision center_crop: int(round((size - keep) / 2.0))
    return int(round((size - keep) / 2.0)) if anchor == "center" else 0


def plan_alignment(out_hw: tuple[int, int], gt_hw: tuple[int, int], *, policy: str = "error",
                   anchor: str = "top-left", shift: tuple[int, int] = (0, 0), margin: int | None = None,
                   clip: str | None = None, dataset: str | None = None) -> Alignment:
    """Decide the comparison window of an output of size `out_hw` against a GT of size `gt_hw`.

    `error` raises when the sizes differ; `crop` keeps the common area (anchored top-left or centre) and records a
    warning. A `shift` from `best_integer_shift` moves the output window; `margin` (default max |shift|) trims the
    GT window on every side so that every shift is scored on the same GT pixels.
    """
    if policy not in POLICIES or anchor not in ANCHORS:
        raise InputError("unknown geometry policy", clip=clip, dataset=dataset,
                         expected=f"policy in {POLICIES}, anchor in {ANCHORS}", found=f"{policy}, {anchor}")
    (ho, wo), (hg, wg) = out_hw, gt_hw
    warnings: list[str] = []
    if (ho, wo) != (hg, wg) and policy == "resize":
        raise InputError("resize the output before planning its window", clip=clip, dataset=dataset,
                         expected="equal sizes after `resized_to`", found=f"{wo}x{ho} vs {wg}x{hg}")
    if (ho, wo) != (hg, wg):
        if policy == "error":
            raise InputError("output size differs from the ground truth", clip=clip, dataset=dataset,
                             expected=f"{wg}x{hg}", found=f"{wo}x{ho}",
                             hint="the opt-in 'crop' geometry policy scores the common area and records a warning")
        warnings.append(f"output {wo}x{ho} and GT {wg}x{hg} differ: scored on the common {min(wo, wg)}x"
                        f"{min(ho, hg)} area ({anchor} anchored)")
    h, w = min(ho, hg), min(wo, wg)
    out_box = Box(_offset(ho, h, anchor), _offset(wo, w, anchor), h, w)
    gt_box = Box(_offset(hg, h, anchor), _offset(wg, w, anchor), h, w)
    dy, dx = shift
    m = max(abs(dy), abs(dx)) if margin is None else margin
    if m < max(abs(dy), abs(dx)) or 2 * m >= min(h, w):
        raise InputError("shift does not fit in the frame", clip=clip, dataset=dataset,
                         expected=f"|dy|, |dx| <= margin < {min(h, w) // 2}", found=f"shift {shift}, margin {m}")
    if m:
        out_box = Box(out_box.top + m + dy, out_box.left + m + dx, h - 2 * m, w - 2 * m)
        gt_box = Box(gt_box.top + m, gt_box.left + m, h - 2 * m, w - 2 * m)
        warnings.append(f"integer shift (dy={dy}, dx={dx}) applied; scored on the GT area without a {m}-pixel border")
    return Alignment(out_box, gt_box, policy, anchor, (dy, dx), m, tuple(warnings))


# ---- integer-shift search ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShiftResult:
    dy: int
    dx: int
    psnr: float  # at the best shift, on the common GT window
    psnr_unshifted: float  # at (0, 0), on the same window


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def best_integer_shift(out: np.ndarray, gt: np.ndarray, *, max_shift: int = 4) -> ShiftResult:
    """The (dy, dx) in [-max_shift, max_shift]^2 that maximises PSNR of uint8 frames (T, H, W, 3) or (H, W, 3).

    Ties go to the smaller shift (|dy| + |dx|), so an aligned pair returns (0, 0).
    """
    out, gt = np.asarray(out), np.asarray(gt)
    if out.shape != gt.shape:
        raise InputError("shift search needs equal shapes (apply the mismatch policy first)",
                         expected=gt.shape, found=out.shape)
    h, w = gt.shape[-3], gt.shape[-2]
    m = max_shift
    if m < 0 or 2 * m >= min(h, w):
        raise InputError("max_shift does not fit in the frame", expected=f"0 <= max_shift < {min(h, w) // 2}",
                         found=max_shift)
    ref = gt[..., m : h - m, m : w - m, :]
    scores = {}
    for dy in range(-m, m + 1):
        for dx in range(-m, m + 1):
            scores[(dy, dx)] = _psnr(out[..., m + dy : h - m + dy, m + dx : w - m + dx, :], ref)
    best = max(scores, key=lambda s: (scores[s], -(abs(s[0]) + abs(s[1]))))
    return ShiftResult(best[0], best[1], scores[best], scores[(0, 0)])


def sample_frame_indices(num_frames: int, count: int = 3) -> list[int]:
    """Evenly spaced frame indices for the shift search (a few frames suffice; the offset is per clip)."""
    if num_frames <= count:
        return list(range(num_frames))
    return sorted({round(i * (num_frames - 1) / (count - 1)) for i in range(count)})


def resize_frames(frames: np.ndarray, hw: tuple[int, int], method: str) -> np.ndarray:
    """uint8 (T, H, W, 3) frames resized to `hw` = (height, width) with OpenCV's `method` filter."""
    import cv2

    flags = {"bicubic": cv2.INTER_CUBIC, "bilinear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA,
             "lanczos": cv2.INTER_LANCZOS4, "nearest": cv2.INTER_NEAREST}
    if method not in flags:
        raise InputError("unknown resize filter", expected=" | ".join(RESIZE_FILTERS), found=method)
    return np.stack([cv2.resize(f, (hw[1], hw[0]), interpolation=flags[method]) for f in frames])


def align_clip(output: Any, gt: Any, *, policy: str = "error", anchor: str = "top-left", max_shift: int = 0,
               clip: str | None = None, dataset: str | None = None) -> Alignment:
    """The `Alignment` of an output `Video` against its GT `Video`: mismatch policy, then (if `max_shift` > 0) the
    shift search on a few evenly spaced frames. Reads at most three frames of each; never the whole clip."""
    common = plan_alignment(output.size, gt.size, policy=policy, anchor=anchor, clip=clip, dataset=dataset)
    if max_shift <= 0:
        return common
    n = min(output.num_frames, gt.num_frames)
    picks = sample_frame_indices(n)
    out = np.concatenate([output.read(i, i + 1) for i in picks])
    ref = np.concatenate([gt.read(i, i + 1) for i in picks])
    found = best_integer_shift(*common.apply(out, ref), max_shift=max_shift)
    return plan_alignment(output.size, gt.size, policy=policy, anchor=anchor, shift=(found.dy, found.dx),
                          margin=max_shift, clip=clip, dataset=dataset)
