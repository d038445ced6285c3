"""Batched PyTorch operators of the degradation pipeline: frames of a clip as one (N, 3, H, W) float32 batch.

Every operator takes the per-frame manifest entries of its batch, so one call degrades many frames with
different parameters. Noise fields, JPEG and the video codec are shared with the per-frame reference (see
`noise.py`, `jpeg.py`, `codec.py`); filtering, resizing, USM, noise arithmetic and quantisation are ours here.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar

import numpy as np
import torch
import torch.nn.functional as F

from vrbench.degrade import noise as noise_fields
from vrbench.degrade import ops_cpu
from vrbench.degrade.jpeg import jpeg_roundtrip
from vrbench.degrade.kernels import filter_taps, gaussian_kernel_1d, pad_kernel
from vrbench.metrics.engine import to_tensor  # the one uint8 -> float conversion

_POOL: list = [None, 0, 0]  # [ThreadPoolExecutor, its size, the process that made it]
_SPREAD: ContextVar[int] = ContextVar("vrbench_degrade_spread", default=0)  # frame threads while spreading
FFT_MIN_KERNEL = 13  # blur kernels of this size and larger are applied through the FFT


def frame_pool(threads: int) -> ThreadPoolExecutor:
    """The process's `threads` frame threads, all started, each running PyTorch on one thread."""
    if _POOL[1:] != [threads, os.getpid()]:  # a forked child inherits the pool object but not its threads
        if _POOL[0] is not None and _POOL[2] == os.getpid():
            _POOL[0].shutdown()
        own = torch.get_num_threads()
        pool = ThreadPoolExecutor(threads, thread_name_prefix="vrbench-degrade", initializer=torch.set_num_threads,
                                  initargs=(1,))
        started = threading.Barrier(threads)
        list(pool.map(lambda _: started.wait(timeout=60), range(threads)))  # each thread runs the initializer now
        torch.set_num_threads(own)  # the initializers also lowered the count threads new to PyTorch start with
        _POOL[:] = [pool, threads, os.getpid()]
    return _POOL[0]


def frame_map(fn, items) -> list:
    """[fn(item) for item in items], spread over the frame threads: as many as PyTorch threads (as many as
    `spread_frames` took over while it is on); serial inside a frame thread.

    For the per-frame work of a stage (size groups, the frames of noise and JPEG): PyTorch, NumPy's generators and
    OpenCV release the GIL, and each item's result depends only on its own input and seed, so the bytes are the same
    for any thread count.
    """
    items, threads = list(items), _SPREAD.get() or torch.get_num_threads()
    if min(threads, len(items)) <= 1:
        return [fn(item) for item in items]
    return list(frame_pool(threads).map(fn, items))


def spread_threads() -> int:
    """The frame threads while frames are spread (`spread_frames`) in this thread; 0 otherwise."""
    return _SPREAD.get()


@contextlib.contextmanager
def spread_frames(device: torch.device) -> Iterator[None]:
    """On the CPU with n > 1 PyTorch threads: run size groups (and the frames of the noise and JPEG stages) in n
    frame threads, PyTorch on one thread in each and in this one (restored on exit); elsewhere, nothing changes.

    Why: after a per-frame resize each frame is a small batch of its own, where PyTorch's intra-op threads barely
    pay, and their idle OpenMP team spin-waits while the codec, libjpeg or the frame threads run (on a loaded 2-core
    machine every preset ran several times slower than the per-frame reference that way). A lone batch stays whole
    (split by frames, its depthwise convolutions vectorise over fewer planes: dove-x4 took ~25% more CPU time at 2
    threads); its large convolutions run in bands of rows instead (`depthwise`). The bytes do not change: operators
    see the same batches, and each value is computed the same way for any thread count (tested).
    """
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads <= 1 or _SPREAD.get():
        yield
        return
    frame_pool(threads)
    token = _SPREAD.set(threads)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        _SPREAD.reset(token)


def depthwise(z: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """F.conv2d(z, weight, groups=planes) on (1, P, H, W) channels-last planes; while frames are spread
    (`spread_frames`), bands of output rows over the frame threads, concatenated: each output is the same sum of the
    same products wherever its band starts, and every band keeps all P planes to vectorise over."""
    threads, rows = _SPREAD.get(), z.shape[-2] - weight.shape[-2] + 1
    if threads <= 1 or rows * z.shape[-1] * z.shape[1] < 1 << 18:  # small: not worth a hand-off
        return F.conv2d(z, weight, groups=z.shape[1])
    bounds = np.linspace(0, rows, threads + 1).round().astype(int).tolist()
    bands = frame_map(lambda b: F.conv2d(z[..., bounds[b] : bounds[b + 1] + weight.shape[-2] - 1, :], weight,
                                         groups=z.shape[1]), range(threads))
    return torch.cat(bands, dim=-2)


def reflect_indices(n: int, pad: int, device: torch.device) -> torch.Tensor:
    """Indices of a reflect (mirror without repeating the edge, OpenCV REFLECT_101) padding of any width.

    Unlike F.pad(mode='reflect') this works when the pad exceeds the side (frames smaller than the kernel): the
    mirror repeats with period 2 (n - 1).
    """
    index = torch.arange(-pad, n + pad, device=device)
    if n == 1:
        return torch.zeros_like(index)
    period = 2 * (n - 1)
    index = torch.remainder(index, period)
    return torch.where(index >= n, period - index, index)


def pad_reflect(x: torch.Tensor, pad_h: int, pad_w: int) -> torch.Tensor:
    height, width = x.shape[-2:]
    if pad_h < height and pad_w < width:
        return F.pad(x, (pad_w, pad_w, pad_h, pad_h), mode="reflect")
    rows = reflect_indices(height, pad_h, x.device)
    cols = reflect_indices(width, pad_w, x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def fft_size(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (sizes the FFT handles fastest)."""
    size = n
    while True:
        m = size
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return size
        size += 1


def correlate(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Correlate frame i of x (N, C, H, W) with kernels[i] (N, k, k), shared across channels, reflect padding.

    Kernels of FFT_MIN_KERNEL and up go through the FFT (cost independent of k; float error ~1e-6, as OpenCV's
    filter2D, which switches to a DFT for large kernels too); smaller ones through a depthwise convolution.
    """
    n, c, height, width = x.shape
    k = kernels.shape[-1]
    if k < FFT_MIN_KERNEL and (direct := ops_cpu.correlate(x, kernels)) is not None:
        return direct  # compiled on the CPU: the same values
    # contiguous first: padding a channels-last batch (frames from the codec) is several times slower, and a lone
    # channels-last frame would reach the FFT strided and round differently than it does inside a batch
    padded = pad_reflect(x.contiguous(), k // 2, k // 2)  # padding a channels-last batch is several times slower
    kernels = kernels.to(x.dtype)
    if k >= FFT_MIN_KERNEL:
        return correlate_fft(padded, kernels)
    batch = planes(padded)
    weight = kernels.repeat_interleave(c, dim=0).unsqueeze(1)
    return depthwise(batch, weight).reshape(n, c, height, width)


def correlate_fft(padded: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """`correlate` through the FFT on frames already reflect-padded by k // 2."""
    k = kernels.shape[-1]
    height, width = padded.shape[-2] - k + 1, padded.shape[-1] - k + 1
    size = (fft_size(height + k - 1), fft_size(width + k - 1))
    spectrum = torch.fft.rfft2(padded, s=size) * torch.fft.rfft2(kernels.flip(-2, -1), s=size)[:, None]
    # circular convolution with the flipped kernel; outputs from k - 1 on never wrap around
    return torch.fft.irfft2(spectrum, s=size)[..., k - 1 : k - 1 + height, k - 1 : k - 1 + width].contiguous()


def planes(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (1, N * C, H, W) in channels-last memory (pixel-major, the N * C planes innermost).

    oneDNN's depthwise convolutions are several times faster on this layout than on NCHW, and elementwise work on
    it needs no further copies; `unplanes` converts back once at the end.
    """
    n, c, height, width = x.shape
    if x.device.type == "cpu" and (x.is_contiguous() or x.permute(0, 2, 3, 1).is_contiguous()):
        # frames as rows of a matrix, transposed so the pixels become rows: OpenCV's tiled transpose is ~10x faster
        # than PyTorch's copy here; an element is a pixel's 3 channels when the frames are (N, H, W, 3) in memory
        rows = x.reshape(n * c, height * width) if x.is_contiguous() else x.permute(0, 2, 3, 1).reshape(
            n, height * width, c)
        return torch.from_numpy(transpose_matrix(rows.numpy())).reshape(1, height, width, n * c).permute(0, 3, 1, 2)
    return x.reshape(1, n * c, height, width).contiguous(memory_format=torch.channels_last)


def unplanes(z: torch.Tensor, n: int) -> torch.Tensor:
    _, nc, height, width = z.shape
    if z.device.type == "cpu" and z.is_contiguous(memory_format=torch.channels_last):
        pixels = z.permute(0, 2, 3, 1).reshape(height * width, nc).numpy()
        return torch.from_numpy(transpose_matrix(pixels)).reshape(n, nc // n, height, width)
    return z.contiguous().reshape(n, nc // n, height, width)


def transpose_matrix(matrix: np.ndarray) -> np.ndarray:
    """A new (B, A[, 3]) array holding the transpose of a C-contiguous (A, B[, 3]) float32 one (a pure copy)."""
    import cv2

    return cv2.transpose(matrix)


def correlate_separable(z: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Correlate every plane of z (1, P, H, W, channels-last, see `planes`) with the outer product taps x taps
    (rows then columns), reflect padding."""
    k, count = taps.numel(), z.shape[1]
    padded = pad_reflect_planes(z, k // 2)
    row = taps.to(z.dtype).reshape(1, 1, 1, k).expand(count, 1, 1, k)
    rows = transpose_planes(depthwise(padded, row))
    # the column pass as a row pass on the transposed planes: oneDNN's (1, k) depthwise kernel is about twice as
    # fast as its (k, 1) one on this layout, the transposing copy included (same products, same sums)
    return depthwise(rows, row).transpose(-1, -2)


def pixels(z: torch.Tensor) -> np.ndarray | None:
    """The (H, W, P) NumPy view of CPU planes (1, P, H, W) in channels-last memory; None for any other tensor."""
    if z.device.type != "cpu" or z.shape[0] != 1 or not z.is_contiguous(memory_format=torch.channels_last):
        return None
    return z.permute(0, 2, 3, 1).numpy()[0]


def from_pixels(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a)[None].permute(0, 3, 1, 2)


def pad_reflect_planes(z: torch.Tensor, pad: int) -> torch.Tensor:
    """`pad_reflect` by `pad` on all sides, returned channels-last; on the CPU written straight into one
    channels-last array (PyTorch pads this layout through slow copies): the same values."""
    a = pixels(z)
    height, width = z.shape[-2:]
    if a is None or pad >= min(height, width) - 1:  # at pad = side - 1 the mirrored slice below would end at -1
        return pad_reflect(z, pad, pad).contiguous(memory_format=torch.channels_last)
    out = np.empty((height + 2 * pad, width + 2 * pad, a.shape[2]), a.dtype)
    out[pad : pad + height, pad : pad + width] = a
    out[pad : pad + height, :pad] = a[:, pad:0:-1]  # column pad - j holds column j (mirror without the edge)
    out[pad : pad + height, pad + width :] = a[:, width - 2 : width - 2 - pad : -1]
    out[:pad] = out[2 * pad : pad : -1]  # then whole rows, corners included
    out[pad + height :] = out[pad + height - 2 : height - 2 : -1]
    return from_pixels(out)


def transpose_planes(z: torch.Tensor) -> torch.Tensor:
    """z.transpose(-1, -2) in channels-last memory (NumPy's copy is about twice as fast as PyTorch's here)."""
    a = pixels(z)
    if a is None:
        return z.transpose(-1, -2).contiguous(memory_format=torch.channels_last)
    return from_pixels(np.ascontiguousarray(a.transpose(1, 0, 2)))


def blur(x: torch.Tensor, entries: list[dict]) -> torch.Tensor:
    """Blur each frame with the float32 kernel its entry describes (`filter_taps`; kernels zero-padded to the
    largest size, as BSR pads to 21; zero taps leave the result unchanged)."""
    size = max(e["size"] for e in entries)
    kernels = np.stack([pad_kernel(filter_taps(e), size) for e in entries])
    return correlate(x, torch.from_numpy(kernels).to(device=x.device))


def unsharp_mask(x: torch.Tensor, stage: dict) -> torch.Tensor:
    """USM of the GT [BSR USMSharp]: sharp where |x - blur| * 255 > threshold, feathered by the same blur.

    The arithmetic is the reference's, operation for operation (so the floats match), done in place on the planes
    layout: every fresh full-size tensor costs page faults on the CPU.
    """
    taps32 = gaussian_kernel_1d(stage["size"], stage["sigma"]).astype(np.float32)
    if (sharpened := ops_cpu.unsharp_mask(x, taps32, stage["weight"], stage["threshold"])) is not None:
        return sharpened  # compiled on the CPU: the same values
    taps = torch.from_numpy(taps32).to(x.device)
    z = planes(x)
    residual = torch.sub(z, correlate_separable(z, taps))
    mask = residual.abs().mul_(255).gt_(stage["threshold"])  # 1.0 / 0.0 in the float dtype
    soft_mask = correlate_separable(mask, taps)
    sharp = residual.mul_(stage["weight"]).add_(z).clamp_(0, 1)  # z + weight * residual, as the reference
    keep = torch.rsub(soft_mask, 1).mul_(z)  # (1 - soft_mask) * z
    return unplanes(sharp.mul_(soft_mask).add_(keep), x.shape[0])


def linear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices i0, i1 and weight of i1 for half-pixel linear interpolation from n_in to n_out samples
    (source x = (i + 0.5) n_in / n_out - 0.5, clamped at 0 [RE: F.interpolate, align_corners=False])."""
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    return i0, np.minimum(i0 + 1, n_in - 1), src - i0


def resize_linear(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """Linear interpolation along one axis as gathers and elementwise products: every output value is computed
    by the same two operations whatever the thread count (PyTorch's bilinear kernel is not: its results moved by
    up to 7e-6 between 1 and 2 threads, enough to flip an 8-bit rounding and change the LQ bytes)."""
    if x.shape[dim] == size:
        return x
    i0, i1, frac = linear_taps(x.shape[dim], size)
    if x.device.type == "cpu" and x.ndim == 4:  # NumPy's gathers are faster; the same IEEE products and sums
        return resize_linear_cpu(x, i0, i1, (1 - frac).astype(np.float32), frac.astype(np.float32), dim % 4)
    return resize_linear_torch(x, i0, i1, frac, dim)


def resize_linear_torch(x: torch.Tensor, i0: np.ndarray, i1: np.ndarray, frac: np.ndarray, dim: int
                        ) -> torch.Tensor:
    """`resize_linear` in PyTorch operations, for any device."""
    shape = [1] * x.ndim
    shape[dim] = len(i0)
    w1 = torch.from_numpy(frac).to(x.device, x.dtype).view(shape)
    w0 = torch.from_numpy(1 - frac).to(x.device, x.dtype).view(shape)
    a = x.index_select(dim, torch.from_numpy(i0).to(x.device))
    b = x.index_select(dim, torch.from_numpy(i1).to(x.device))
    return a.mul_(w0).add_(b.mul_(w1))


def resize_linear_cpu(x: torch.Tensor, i0: np.ndarray, i1: np.ndarray, w0: np.ndarray, w1: np.ndarray, dim: int
                      ) -> torch.Tensor:
    """x[i0] w0 + x[i1] w1 along `dim` (2: rows, 3: columns) of an (N, C, H, W) CPU tensor, in its own memory
    layout: frames from the codec or libjpeg are (N, H, W, 3) in memory, and there whole pixels are gathered, the
    columns as rows of the transposed frames (OpenCV's transpose); other tensors as (N, C, H, W)."""
    pixels_last = not x.is_contiguous() and x.permute(0, 2, 3, 1).is_contiguous()
    if not pixels_last:
        shape = [1, 1, 1, 1]
        shape[dim] = len(i0)
        a, b = np.take(x.numpy(), i0, axis=dim), np.take(x.numpy(), i1, axis=dim)
        w0, w1 = w0.reshape(shape), w1.reshape(shape)
        return torch.from_numpy(np.add(np.multiply(a, w0, out=a), np.multiply(b, w1, out=b), out=a))
    frames = x.permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
    if dim == 2:
        a, b = np.take(frames, i0, axis=1), np.take(frames, i1, axis=1)
        w0, w1 = w0.reshape(1, -1, 1, 1), w1.reshape(1, -1, 1, 1)
        return torch.from_numpy(np.add(np.multiply(a, w0, out=a), np.multiply(b, w1, out=b), out=a)).permute(
            0, 3, 1, 2)
    w0, w1 = w0.reshape(-1, 1, 1), w1.reshape(-1, 1, 1)
    out = []
    for frame in frames:
        columns = transpose_matrix(frame)  # (W, H, C): the columns to interpolate between are rows now
        a, b = columns[i0], columns[i1]
        out.append(transpose_matrix(np.add(np.multiply(a, w0, out=a), np.multiply(b, w1, out=b), out=a)))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)


def resize(x: torch.Tensor, height: int, width: int, mode: str) -> torch.Tensor:
    """'area' is adaptive average pooling (PyTorch's area mode); bilinear/bicubic use half-pixel centres without
    antialiasing [RE: F.interpolate]; 'bicubic_aa' is the antialiased a = -0.5 cubic of MATLAB/PIL."""
    if (height, width) == tuple(x.shape[-2:]):
        return x  # every mode is the identity at the same size (half-pixel centres, cubic(0) = 1)
    if mode in ("area", "bilinear"):  # compiled on the CPU: the same values
        compiled = (ops_cpu.resize_area if mode == "area" else ops_cpu.resize_linear)(x, height, width)
        if compiled is not None:
            return compiled
    if mode == "area":
        return F.adaptive_avg_pool2d(x, (height, width))
    if mode == "bilinear":
        return resize_linear(resize_linear(x, height, -2), width, -1)  # rows first: gathering rows is cheap
    if mode == "bicubic":
        return F.interpolate(x, size=(height, width), mode=mode, align_corners=False)
    if mode == "bicubic_aa":
        return F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=True)
    raise ValueError(f"unknown resize mode '{mode}'")


def gaussian_noise(image: torch.Tensor, entry: dict) -> torch.Tensor:
    """One (3, H, W) frame + N(0, 1) sigma / 255, clipped to [0, 1]; gray noise is one field shared by the three
    channels (computed once and broadcast: the same values as on three copies)."""
    field = noise_fields.gaussian_field(entry["seed"], (1 if entry["gray"] else 3, *image.shape[-2:]))
    sigma = torch.tensor(entry["sigma"] / 255.0, dtype=image.dtype, device=image.device)
    return torch.add(image, torch.from_numpy(field).to(image.device).mul_(sigma)).clamp_(0, 1)  # x + noise * sigma


def poisson_noise(image: torch.Tensor, entry: dict) -> torch.Tensor:
    """BSR's Poisson noise in [0, 1] units on one (3, H, W) frame, counts drawn by CDF inversion (see noise.py); gray
    noise is drawn on the luma plane and broadcast over the channels."""
    r, g, b = noise_fields.LUMA
    source = image[0:1] * r + image[1:2] * g + image[2:3] * b if entry["gray"] else image  # the reference's order
    levels = source.mul(255).round_().clamp_(0, 255)
    level = levels.to(torch.uint8).cpu().numpy()
    vals = noise_fields.poisson_vals(int(np.count_nonzero(np.bincount(level.ravel(), minlength=256))))
    counts = noise_fields.poisson_counts(level, noise_fields.uniform_field(entry["seed"], level.shape), vals)
    vals_t, scale = (torch.tensor(v, dtype=image.dtype, device=image.device) for v in (vals, entry["scale"]))
    noise = torch.from_numpy(counts).to(image.device, image.dtype).div_(vals_t).sub_(levels.div_(255)).mul_(scale)
    return torch.add(image, noise).clamp_(0, 1)  # (counts / vals - levels / 255) * scale, then x + noise


def add_noise(x: torch.Tensor, entries: list[dict]) -> torch.Tensor:
    """Gaussian or Poisson noise, frame by frame (over the frame threads)."""
    noise = {"gaussian": gaussian_noise, "poisson": poisson_noise}
    return torch.stack(frame_map(lambda i: noise[entries[i]["kind"]](x[i], entries[i]), range(len(entries))))


def to_uint8_hwc(x: torch.Tensor | list[torch.Tensor]) -> np.ndarray:
    """(N, 3, H, W) float (a batch or a list of (3, H, W) frames) -> (N, H, W, 3) uint8, rounded (half to even)
    then clipped."""
    if isinstance(x, list):
        compiled = ops_cpu.to_uint8(x)
        return compiled if compiled is not None else to_uint8_hwc(torch.stack(x))
    if (compiled := ops_cpu.to_uint8(list(x))) is not None:
        return compiled
    if x.device.type == "cpu":  # the same operations in NumPy, written straight into (N, H, W, 3) memory
        scaled = np.empty((x.shape[0], *x.shape[2:], x.shape[1]), np.float32)
        np.multiply(x.permute(0, 2, 3, 1).numpy(), np.float32(255), out=scaled)
        return np.clip(np.rint(scaled, out=scaled), 0, 255, out=scaled).astype(np.uint8)
    return to_uint8_hwc_torch(x)


def to_uint8_hwc_torch(x: torch.Tensor) -> np.ndarray:
    """`to_uint8_hwc` in PyTorch operations, for any device."""
    return (x * 255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def from_uint8(frames: list[np.ndarray] | np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (H, W, 3) frames of one size (a list or an (N, H, W, 3) array) -> float32 (N, 3, H, W) in [0, 1]:
    `to_tensor`'s values (x / 255 in float32), on the CPU written frame by frame into one (N, H, W, 3) array
    instead of through a stacked copy."""
    if device.type != "cpu":
        return to_tensor(frames if isinstance(frames, np.ndarray) else np.stack(frames), device)
    if (compiled := ops_cpu.from_uint8(frames)) is not None:
        return compiled
    out = np.empty((len(frames), *frames[0].shape), np.float32)
    for frame, dst in zip(frames, out, strict=True):
        np.divide(frame, np.float32(255), out=dst)
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def jpeg(x: torch.Tensor, entries: list[dict]) -> torch.Tensor:
    """libjpeg round trip frame by frame (over the frame threads), see jpeg.py."""
    decoded = frame_map(lambda i: jpeg_roundtrip(to_uint8_hwc(x[i : i + 1])[0], entries[i]["quality"]),
                        range(len(entries)))
    return from_uint8(decoded, x.device)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """clamp(round(x * 255), 0, 255) / 255 [RE model; mmedit Quantize]."""
    return (x * 255).round().clamp(0, 255) / 255
