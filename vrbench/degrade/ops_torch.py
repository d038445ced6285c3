"""Batched PyTorch operators of the degradation pipeline: frames of a clip as one (N, 3, H, W) float32 batch.

Every operator takes the per-frame manifest entries of its batch, so one call degrades many frames with
different parameters. Noise fields, JPEG and the video codec are shared with the per-frame reference (see
`noise.py`, `jpeg.py`, `codec.py`); filtering, resizing, USM, noise arithmetic and quantisation are ours here.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vrbench.degrade import noise as noise_fields
from vrbench.degrade.jpeg import jpeg_roundtrip
from vrbench.degrade.kernels import gaussian_kernel_1d, kernel_from_params, pad_kernel

FFT_MIN_KERNEL = 13  # blur kernels of this size and larger are applied through the FFT


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
    padded = pad_reflect(x, k // 2, k // 2)
    kernels = kernels.to(x.dtype)
    if k >= FFT_MIN_KERNEL:
        size = (fft_size(height + k - 1), fft_size(width + k - 1))
        spectrum = torch.fft.rfft2(padded, s=size) * torch.fft.rfft2(kernels.flip(-2, -1), s=size)[:, None]
        # circular convolution with the flipped kernel; outputs from k - 1 on never wrap around
        return torch.fft.irfft2(spectrum, s=size)[..., k - 1 : k - 1 + height, k - 1 : k - 1 + width].contiguous()
    batch = padded.reshape(1, n * c, height + k - 1, width + k - 1).contiguous(memory_format=torch.channels_last)
    weight = kernels.repeat_interleave(c, dim=0).unsqueeze(1)
    return F.conv2d(batch, weight, groups=n * c).reshape(n, c, height, width)


def correlate_separable(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Correlate every channel with the outer product taps x taps (rows then columns), reflect padding.

    Channels-last layout: oneDNN's depthwise kernels are several times faster on it than on NCHW.
    """
    n, c, height, width = x.shape
    k = taps.numel()
    padded = pad_reflect(x, k // 2, k // 2).reshape(1, n * c, height + k - 1, width + k - 1)
    padded = padded.contiguous(memory_format=torch.channels_last)
    row = taps.to(x.dtype).reshape(1, 1, 1, k).expand(n * c, 1, 1, k)
    out = F.conv2d(F.conv2d(padded, row, groups=n * c), row.transpose(-1, -2), groups=n * c)
    return out.contiguous().reshape(n, c, height, width)


def blur(x: torch.Tensor, entries: list[dict]) -> torch.Tensor:
    """Blur each frame with the kernel its entry describes (kernels zero-padded to the largest size, as BSR pads
    to 21; zero taps leave the result unchanged)."""
    size = max(e["size"] for e in entries)
    kernels = np.stack([pad_kernel(kernel_from_params(e), size) for e in entries])
    return correlate(x, torch.from_numpy(kernels).to(device=x.device, dtype=torch.float32))


def unsharp_mask(x: torch.Tensor, stage: dict) -> torch.Tensor:
    """USM of the GT [BSR USMSharp]: sharp where |x - blur| * 255 > threshold, feathered by the same blur."""
    taps = torch.from_numpy(gaussian_kernel_1d(stage["size"], stage["sigma"])).to(x.device, torch.float32)
    residual = x - correlate_separable(x, taps)
    mask = (residual.abs() * 255 > stage["threshold"]).to(x.dtype)
    soft_mask = correlate_separable(mask, taps)
    sharp = (x + stage["weight"] * residual).clamp(0, 1)
    return soft_mask * sharp + (1 - soft_mask) * x


def resize(x: torch.Tensor, height: int, width: int, mode: str) -> torch.Tensor:
    """'area' is adaptive average pooling (PyTorch's area mode); bilinear/bicubic use half-pixel centres without
    antialiasing [RE: F.interpolate]; 'bicubic_aa' is the antialiased a = -0.5 cubic of MATLAB/PIL."""
    if mode == "area":
        return F.adaptive_avg_pool2d(x, (height, width))
    if mode in ("bilinear", "bicubic"):
        return F.interpolate(x, size=(height, width), mode=mode, align_corners=False)
    if mode == "bicubic_aa":
        return F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=True)
    raise ValueError(f"unknown resize mode '{mode}'")


def gaussian_noise(x: torch.Tensor, entries: list[dict]) -> torch.Tensor:
    """x + N(0, 1) sigma / 255, clipped to [0, 1]; gray noise is one field shared by the three channels."""
    fields = [noise_fields.gaussian_field(e["seed"], (1 if e["gray"] else 3, *x.shape[-2:])) for e in entries]
    sigma = torch.tensor([e["sigma"] / 255.0 for e in entries], dtype=x.dtype, device=x.device).view(-1, 1, 1, 1)
    noise = torch.from_numpy(np.stack([np.broadcast_to(f, (3, *f.shape[1:])) for f in fields])).to(x.device)
    return (x + noise * sigma).clamp(0, 1)


def poisson_noise(x: torch.Tensor, entries: list[dict]) -> torch.Tensor:
    """BSR's Poisson noise in [0, 1] units, counts drawn by CDF inversion (see noise.py)."""
    r, g, b = noise_fields.LUMA
    luma = x[:, 0:1] * r + x[:, 1:2] * g + x[:, 2:3] * b  # written out so the float order matches the reference
    gray = torch.tensor([e["gray"] for e in entries], device=x.device).view(-1, 1, 1, 1)
    source = torch.where(gray, luma.expand_as(x), x)
    levels = (source * 255).round().clamp(0, 255).to(torch.int64)
    out = []
    for i, e in enumerate(entries):
        level = levels[i, :1] if e["gray"] else levels[i]
        distinct = int(torch.count_nonzero(torch.bincount(level.flatten(), minlength=256)))
        vals = noise_fields.poisson_vals(distinct)
        level_np = level.cpu().numpy()
        counts = noise_fields.poisson_counts(level_np, noise_fields.uniform_field(e["seed"], level_np.shape), vals)
        noise = (torch.from_numpy(counts).to(x.device, x.dtype) / vals - level.to(x.dtype) / 255) * e["scale"]
        out.append(x[i] + noise)
    return torch.stack(out).clamp(0, 1)


def add_noise(x: torch.Tensor, entries: list[dict]) -> torch.Tensor:
    """Gaussian or Poisson noise per frame (a stage's frames share the kind in drift/constant mode)."""
    kinds = [e["kind"] for e in entries]
    out = x.clone()
    for kind, fn in (("gaussian", gaussian_noise), ("poisson", poisson_noise)):
        index = [i for i, k in enumerate(kinds) if k == kind]
        if index:
            out[index] = fn(x[index], [entries[i] for i in index])
    return out


def to_uint8_hwc(x: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) float -> (N, H, W, 3) uint8, clipped then rounded."""
    return (x * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def from_uint8_hwc(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).to(torch.float32) / 255


def jpeg(x: torch.Tensor, entries: list[dict]) -> torch.Tensor:
    frames = to_uint8_hwc(x)
    decoded = [jpeg_roundtrip(f, e["quality"]) for f, e in zip(frames, entries, strict=True)]
    return from_uint8_hwc(np.stack(decoded), x.device)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """clamp(round(x * 255), 0, 255) / 255 [RE model; mmedit Quantize]."""
    return (x * 255).round().clamp(0, 255) / 255
