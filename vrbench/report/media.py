"""Pictures embedded in reports: frames as JPEG data URIs (the report stays one file), crops and frame picks.

Frames go in as JPEG at quality 92 without chroma subsampling (4:4:4): small enough that a report of a few
clips stays a few MB, close enough that artefacts of the methods, not of the JPEG, are what one sees. The exact
PNG outputs stay on disk, and the report names their folder.
"""

from __future__ import annotations

import base64

import numpy as np

JPEG_QUALITY = 92


def jpeg_data_uri(frame: np.ndarray, quality: int = JPEG_QUALITY) -> str:
    """uint8 RGB (H, W, 3) -> data:image/jpeg;base64,... (4:4:4, no chroma subsampling)."""
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
              cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]), params)
    if not ok:
        raise ValueError(f"JPEG encoding failed for a frame of shape {frame.shape}")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode()


def png_data_uri(image: np.ndarray) -> str:
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ValueError(f"PNG encoding failed for an image of shape {image.shape}")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode()


def detail_crop(frame: np.ndarray, size: int, multiple: int = 4) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the `size` x `size` window with the most gradient energy.

    Used when a frame is too large to embed whole: the window where restorers differ most is where there is
    texture. Corners are multiples of `multiple` (the scale), so the matching LQ crop is exact.
    """
    h, w = frame.shape[:2]
    ch, cw = min(size, h), min(size, w)
    if (ch, cw) == (h, w):
        return 0, 0, h, w
    gray = frame.astype(np.float32).mean(axis=2)
    energy = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1, :]
    integral = np.pad(energy, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    step = max(multiple, min(ch, cw) // 8 // multiple * multiple)
    best, where = -1.0, (0, 0)
    for top in range(0, h - ch + 1, step):
        for left in range(0, w - cw + 1, step):
            b, r = min(top + ch - 1, energy.shape[0]), min(left + cw - 1, energy.shape[1])
            total = integral[b, r] - integral[top, r] - integral[b, left] + integral[top, left]
            if total > best:
                best, where = float(total), (top, left)
    return where[0], where[1], ch, cw


def crop(frames: np.ndarray, box: tuple[int, int, int, int], scale: int = 1) -> np.ndarray:
    """Crop (T, H, W, 3) frames to `box` given in output pixels; `scale` maps it onto an LQ clip."""
    top, left, h, w = (v // scale for v in box)
    return frames[:, top : top + max(h, 1), left : left + max(w, 1)]
