"""Compiled CPU kernels for the operators whose PyTorch CPU kernels cost the most: linear and area resizes, the
direct blur, USM and the float <-> uint8 conversions (`jit_kernels.py`, numba). On a CPU tensor each function here
returns what its PyTorch counterpart in `ops_torch.py` returns, to the bit (tested); elsewhere, or without numba, it
returns None and the PyTorch path runs.

Why the values are the same: each kernel computes every output with the same float32 operations in the same order
as the PyTorch CPU kernel it stands in for:
- linear resize: x[i0] w0 + x[i1] w1 along rows, then along columns (`ops_torch.resize_linear`, our own);
- area resize: PyTorch's adaptive average pooling sums the window floor(o H / O) .. ceil((o + 1) H / O) in
  (row, column) order from 0, then divides by the window's height, then by its width (except to 1 x 1, where it
  takes the mean in its own order: that size stays with PyTorch);
- correlation (the direct blur, USM's separable Gaussian): oneDNN's depthwise convolution is one fused
  multiply-add per tap in row-major tap order from 0 (measured to the bit, NCHW and channels-last, PyTorch 2.14 /
  oneDNN 3.12, AVX2 and AVX-512; with oneDNN held to AVX or SSE4.1 it multiplies, then adds, and without oneDNN
  PyTorch takes another path, so there these two stay with PyTorch). Zero taps are skipped, which changes no finite
  value from frames in [0, 1]: an accumulator that starts at +0 never becomes -0 under round-to-nearest, and
  acc + (+-0) = acc otherwise (PyTorch's 0 x inf = NaN, or a -0 input, would differ; uint8 frames have neither).
Kernels compile on first use (8 s for all on a loaded 2-core CPU, once per machine: numba caches them on disk, and
a later process loads them in under a second), all at once; where numba cannot be imported, compile or write its
cache, one warning says why and the PyTorch path runs.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import warnings
from collections.abc import Iterator
from types import ModuleType

import numpy as np
import torch

_ENABLED = [True]  # switched off only inside `torch_kernels()`


_KERNELS: list = []  # [module or None] once set up
_SETUP = threading.Lock()


def jit_kernels() -> ModuleType | None:
    """The compiled kernels, compiled (or loaded from numba's cache) on first use, or None where numba cannot be
    imported, set up or write its cache (the PyTorch path runs then, after one warning naming the cause)."""
    if not _KERNELS:
        with _SETUP:
            if not _KERNELS:
                _set_up()
    return _KERNELS[0]


def forget_kernels() -> None:
    """Set the kernels up again on next use (tests change what numba finds)."""
    with _SETUP:
        _KERNELS.clear()


def _set_up() -> None:
    try:
        from vrbench.degrade import jit_kernels as kernels
    except ImportError:
        _KERNELS.append(None)
        return
    except Exception as e:  # noqa: BLE001 - numba refuses cache=True without a writable cache folder (RuntimeError);
        # a broken llvmlite raises OSError or AttributeError: each means "no compiled kernels here"
        _KERNELS.append(None)
        _unavailable(e)
        return
    _KERNELS.append(kernels)  # the functions `warm_up` calls find it
    try:
        warm_up()  # compiles every kernel now: a cache folder that is not writable any more fails here
    except Exception as e:  # noqa: BLE001 - as above, whatever numba raises while compiling or caching
        _KERNELS[0] = None
        _unavailable(e)


def _unavailable(e: Exception) -> None:
    warnings.warn(f"compiled degradation kernels unavailable, using PyTorch on the CPU: {type(e).__name__}: {e} "
                  "(set NUMBA_CACHE_DIR to a writable folder if it is about the cache)", RuntimeWarning, stacklevel=5)


def fused_multiply_add_like_onednn() -> bool:
    """Whether PyTorch's depthwise convolution here is oneDNN's chain of fused multiply-adds, which the compiled
    correlations reproduce: oneDNN present and enabled, and a CPU with FMA (AVX2 or AVX-512) that oneDNN may use.
    With oneDNN held to AVX or SSE4.1 it multiplies, then adds, and without oneDNN PyTorch takes another path:
    there the compiled blur and USM step aside (the PyTorch path runs)."""
    return torch.backends.mkldnn.enabled and _fma_cpu()


@functools.lru_cache(maxsize=1)
def _fma_cpu() -> bool:
    import os

    isa_cap = os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA", "ALL")).upper()
    return (torch.backends.mkldnn.is_available() and isa_cap not in ("SSE41", "AVX")
            and torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"))


@contextlib.contextmanager
def torch_kernels() -> Iterator[None]:
    """Run the PyTorch path on the CPU too, inside the block (to compare the two paths)."""
    before = _ENABLED[0]
    _ENABLED[0] = False
    try:
        yield
    finally:
        _ENABLED[0] = before


def active(x: torch.Tensor) -> bool:
    """Whether the compiled kernels take this tensor: float32 (N, C, H, W) on the CPU, numba present."""
    return (_ENABLED[0] and x.device.type == "cpu" and x.dtype == torch.float32 and x.ndim == 4
            and not x.requires_grad and jit_kernels() is not None)


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel on a tiny batch in both layouts."""
    if jit_kernels() is None:
        return
    for x in (torch.rand(1, 3, 6, 5), torch.rand(1, 6, 5, 3).permute(0, 3, 1, 2)):
        resize_linear(x, 4, 7)
        resize_area(x, 3, 2)
        correlate(x, torch.rand(1, 3, 3))
        unsharp_mask(x, np.ones(3, np.float32) / 3, 0.5, 10)
        to_uint8([x[0]])
        frame = np.zeros((2, 3, 3), np.uint8)
        from_uint8([frame, frame[..., ::-1]])


def to_rows(x: torch.Tensor) -> tuple[np.ndarray, int]:
    """(A, H, W * B) C-contiguous rows of (N, C, H, W) frames and B: (N, H, W, C) memory as N frames of C
    interleaved channels (no copy), anything else as N * C planes (copied when not contiguous)."""
    n, c, height, width = x.shape
    if not x.is_contiguous() and x.permute(0, 2, 3, 1).is_contiguous():
        return x.permute(0, 2, 3, 1).numpy().reshape(n, height, width * c), c
    return np.ascontiguousarray(x.numpy()).reshape(n * c, height, width), 1


def from_rows(rows: np.ndarray, n: int, c: int, channels: int) -> torch.Tensor:
    """`to_rows` inverted: (N, C, H, W) in the rows' memory layout."""
    height, width = rows.shape[1], rows.shape[2] // channels
    t = torch.from_numpy(rows)
    return t.reshape(n, height, width, c).permute(0, 3, 1, 2) if channels > 1 else t.reshape(n, c, height, width)


def over_rows(kernel, per_row: tuple[np.ndarray, ...], *args) -> None:
    """kernel(*[a[part] for a in per_row], *args) on parts of the rows (the first axis of every `per_row` array),
    one per frame thread while frames are spread (`ops_torch.spread_frames`; every row is computed alone, so the
    split changes no value); else on all rows at once."""
    from vrbench.degrade.ops_torch import frame_map, spread_threads

    count = len(per_row[0])
    parts = min(spread_threads(), count) if per_row[0].size >= 1 << 16 else 1
    if parts <= 1:
        kernel(*per_row, *args)
        return
    bounds = np.linspace(0, count, parts + 1).round().astype(int).tolist()
    frame_map(lambda p: kernel(*(a[bounds[p] : bounds[p + 1]] for a in per_row), *args), range(parts))


def reflect(n: int, pad: int) -> np.ndarray:
    from vrbench.degrade.ops_torch import reflect_indices

    return reflect_indices(n, pad, torch.device("cpu")).numpy()


def expand(index: np.ndarray, channels: int) -> np.ndarray:
    """Per-pixel indices -> per-value indices of rows with `channels` interleaved values a pixel."""
    return (index[:, None] * channels + np.arange(channels)).ravel() if channels > 1 else index


@functools.lru_cache(maxsize=256)
def linear_weights(n_in: int, n_out: int, channels: int) -> tuple[np.ndarray, ...]:
    """i0, i1 (unsigned) and float32 w0, w1 of `ops_torch.linear_taps` per value of rows with `channels`
    interleaved values a pixel; empty arrays where the size does not change (no pass). Read-only, cached."""
    from vrbench.degrade.ops_torch import linear_taps

    if n_in == n_out:
        taps = (np.zeros(0, np.uint64),) * 2 + (np.zeros(0, np.float32),) * 2
    else:
        i0, i1, frac = linear_taps(n_in, n_out)
        taps = (expand(i0, channels).astype(np.uint64), expand(i1, channels).astype(np.uint64),
                np.repeat((1 - frac).astype(np.float32), channels), np.repeat(frac.astype(np.float32), channels))
    for a in taps:
        a.flags.writeable = False
    return taps


def resize_linear(x: torch.Tensor, height: int, width: int) -> torch.Tensor | None:
    """`ops_torch.resize_linear` along rows to `height`, then along columns to `width`."""
    if not active(x):
        return None
    n, c, h, w = x.shape
    rows, channels = to_rows(x)
    out = np.empty((len(rows), height, width * channels), np.float32)
    over_rows(jit_kernels().linear_rows, (rows, out), *linear_weights(h, height, 1),
              *linear_weights(w, width, channels))
    return from_rows(out, n, c, channels)


@functools.lru_cache(maxsize=256)
def windows(n_in: int, n_out: int, channels: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, width and float32 width of adaptive average pooling's windows floor(o n_in / n_out) ..
    ceil((o + 1) n_in / n_out) along one axis, per value of rows with `channels` interleaved values a pixel
    (starts as value indices). Read-only, cached."""
    o = np.arange(n_out)
    start, end = o * n_in // n_out, -(-(o + 1) * n_in // n_out)
    out = expand(start, channels), np.repeat(end - start, channels), np.repeat((end - start).astype(np.float32),
                                                                                channels)
    for a in out:
        a.flags.writeable = False
    return out


def resize_area(x: torch.Tensor, height: int, width: int) -> torch.Tensor | None:
    """F.adaptive_avg_pool2d(x, (height, width)); not to 1 x 1, where PyTorch takes the mean in its own order."""
    if not active(x) or (height, width) == (1, 1):
        return None
    n, c, h, w = x.shape
    rows, channels = to_rows(x)
    h0, kh_int, kh = windows(h, height)
    starts, widths, kw = windows(w, width, channels)
    out = np.empty((len(rows), height, width * channels), np.float32)
    over_rows(jit_kernels().area_rows, (rows, out), h0, h0 + kh_int, kh, starts, widths, channels, kw)
    return from_rows(out, n, c, channels)


def correlate(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor | None:
    """Direct correlation of frame i with kernels[i] (k x k, shared by its channels), reflect padding: the values
    of `ops_torch.correlate`'s depthwise convolution."""
    if (not active(x) or kernels.device.type != "cpu" or kernels.shape[0] != x.shape[0]
            or not fused_multiply_add_like_onednn()):
        return None  # a kernel count that is not the frame count: PyTorch's convolution says what is wrong
    n, c, height, width = x.shape
    k = kernels.shape[-1]
    rows, channels = to_rows(x)
    out = np.empty_like(rows)
    weights = np.ascontiguousarray(kernels.to(torch.float32).numpy())
    which = np.arange(len(rows)) // (c if channels == 1 else 1)  # the frame of each row
    over_rows(jit_kernels().correlate_rows, (rows, out, which), weights, channels, reflect(height, k // 2),
              reflect(width, k // 2))
    return from_rows(out, n, c, channels)


def unsharp_mask(x: torch.Tensor, taps: np.ndarray, weight: float, threshold: float) -> torch.Tensor | None:
    """`ops_torch.unsharp_mask` with float32 Gaussian `taps` (the same values)."""
    if not active(x) or not fused_multiply_add_like_onednn():
        return None
    n, c, height, width = x.shape
    rows, channels = to_rows(x)
    out = np.empty_like(rows)
    k = len(taps)
    over_rows(jit_kernels().usm_rows, (rows, out), channels, np.ascontiguousarray(taps, np.float32),
              np.float32(weight), np.float32(threshold), reflect(height, k // 2), reflect(width, k // 2))
    return from_rows(out, n, c, channels)


def to_uint8(frames: list[torch.Tensor]) -> np.ndarray | None:
    """(N, H, W, C) uint8 of float32 (C, H, W) frames of one size: clip(rint(x * 255), 0, 255), the values of
    `ops_torch.to_uint8_hwc`, written frame by frame (no stacked copy)."""
    if not frames or not all(active(f[None]) for f in frames):
        return None
    out = np.empty((len(frames), *frames[0].shape[1:], frames[0].shape[0]), np.uint8)
    for frame, dst in zip(frames, out, strict=True):
        rows, channels = to_rows(frame[None])
        jit_kernels().to_uint8(rows, dst[None], channels)
    return out


def from_uint8(frames: list[np.ndarray]) -> torch.Tensor | None:
    """uint8 (H, W, C) frames of one size -> float32 (N, C, H, W) = x / 255 in (N, H, W, C) memory (the values of
    `ops_torch.from_uint8`); frames that are channel-reversed views (libjpeg's BGR) are read without a copy."""
    if jit_kernels() is None or not _ENABLED[0] or any(f.dtype != np.uint8 for f in frames):
        return None
    height, width, c = frames[0].shape
    out = np.empty((len(frames), height, width, c), np.float32)
    for frame, dst in zip(frames, out, strict=True):
        reverse = c == 3 and frame.strides[2] < 0 and frame[..., ::-1].flags.c_contiguous
        src = np.ascontiguousarray(frame[..., ::-1] if reverse else frame).reshape(height, width * c)
        jit_kernels().from_uint8(src, dst.reshape(height, width * c), reverse)
    return torch.from_numpy(out).permute(0, 3, 1, 2)
