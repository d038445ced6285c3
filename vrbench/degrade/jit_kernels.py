"""numba kernels behind `ops_cpu.py`: the linear and area resizes, the direct correlation and USM, on float32 rows.

Frames arrive as rows (A, H, L) with L = W * B: NCHW frames as A = N * C planes (B = 1), frames in (N, H, W, C)
memory as A = N frames of B = C interleaved channels. Every loop over a row's L values is a plain elementwise loop
that LLVM vectorises; no fast-math flags are set, so each product, sum and fused multiply-add rounds once, exactly
as written. Inner loops index slices from 0 (an index like `offset + j` makes numba check for negative indices,
which stops the vectorisation: 4x slower). Importing this module needs numba; kernels compile on first use and are
cached on disk.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

JIT = {"cache": True, "nogil": True}  # compiled once per machine; released GIL: frame threads run kernels at once


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once to float32 (llvm.fma; a libm call where the CPU has no FMA unit)."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        f32 = ir.FloatType()
        fn = builder.module.declare_intrinsic("llvm.fma", [f32], ir.FunctionType(f32, [f32, f32, f32]))
        return builder.call(fn, args)

    return sig, codegen


@njit(**JIT)
def linear_rows(x, out, ri0, ri1, rw0, rw1, ci0, ci1, cw0, cw1):
    """out (A, Ho, Lo) = x[i0] w0 + x[i1] w1 along rows, then along the row values; an empty index array skips its
    pass (the size is unchanged). Column indices and weights are given per output value (expanded over B); unsigned
    indices spare the checks for negative ones."""
    row = np.empty(x.shape[2], np.float32)
    for a in range(x.shape[0]):
        for o in range(out.shape[1]):
            if ri0.size:
                p, q, u, v = x[a, ri0[o]], x[a, ri1[o]], rw0[o], rw1[o]
                for j in range(row.size):
                    row[j] = p[j] * u + q[j] * v
                src = row
            else:
                src = x[a, o]
            dst = out[a, o]
            if ci0.size:
                for j in range(dst.size):
                    dst[j] = src[ci0[j]] * cw0[j] + src[ci1[j]] * cw1[j]
            else:
                dst[:] = src


@njit(**JIT)
def area_rows(x, out, h0, h1, kh, starts, widths, step, kw):
    """Adaptive average pooling: output (o, j) sums rows h0[o]:h1[o] of the values starts[j] + k * step, k <
    widths[j], in (row, column) order from 0, then is divided by kh[o] and then by kw[j] (float32). Summed for
    all j at once, one window column k at a time: the same order for each output, and loops that vectorise."""
    acc = np.empty(out.shape[2], np.float32)
    columns = widths.max()
    for a in range(x.shape[0]):
        for o in range(out.shape[1]):
            acc[:] = 0
            for ih in range(h0[o], h1[o]):
                src = x[a, ih]
                for k in range(columns):
                    for j in range(acc.size):
                        if k < widths[j]:
                            acc[j] += src[starts[j] + k * step]
            dst = out[a, o]
            for j in range(dst.size):
                dst[j] = acc[j] / kh[o] / kw[j]


@njit(**JIT)
def pad_row(src, cols, channels, padded):
    """padded[t * B + b] = src[cols[t] * B + b]: one row reflect-padded through its column indices."""
    for t in range(cols.size):
        for b in range(channels):
            padded[t * channels + b] = src[cols[t] * channels + b]


@njit(**JIT)
def accumulate(acc, src, rows, base, tap_rows, offsets, weights):
    """acc[j] = fma(src[rows[base + tap_rows[t]], offsets[t] + j], weights[t], acc[j]) for t = 0, 1, ... in
    order: the same fused multiply-adds per value in the same order, done four taps a pass over the row (one load
    and store of acc per four taps instead of per tap: 1.6x faster)."""
    length, n, t = acc.size, weights.size, 0
    while t + 4 <= n:
        s0 = src[rows[base + tap_rows[t]], offsets[t] : offsets[t] + length]
        s1 = src[rows[base + tap_rows[t + 1]], offsets[t + 1] : offsets[t + 1] + length]
        s2 = src[rows[base + tap_rows[t + 2]], offsets[t + 2] : offsets[t + 2] + length]
        s3 = src[rows[base + tap_rows[t + 3]], offsets[t + 3] : offsets[t + 3] + length]
        w0, w1, w2, w3 = weights[t], weights[t + 1], weights[t + 2], weights[t + 3]
        for j in range(length):
            acc[j] = fma(s3[j], w3, fma(s2[j], w2, fma(s1[j], w1, fma(s0[j], w0, acc[j]))))
        t += 4
    while t < n:
        s0, w0 = src[rows[base + tap_rows[t]], offsets[t] : offsets[t] + length], weights[t]
        for j in range(length):
            acc[j] = fma(s0[j], w0, acc[j])
        t += 1


@njit(**JIT)
def nonzero_taps(kernel, channels):
    """Row, value offset (column * channels) and weight of each non-zero tap of a 2-D kernel, row-major."""
    count = 0
    for w in kernel.ravel():
        count += w != 0
    tap_rows, offsets = np.empty(count, np.int64), np.empty(count, np.int64)
    weights = np.empty(count, np.float32)
    t = 0
    for ti in range(kernel.shape[0]):
        for tj in range(kernel.shape[1]):
            if kernel[ti, tj] != 0:
                tap_rows[t], offsets[t], weights[t] = ti, tj * channels, kernel[ti, tj]
                t += 1
    return tap_rows, offsets, weights


@njit(**JIT)
def correlate_rows(x, out, which, kernels, channels, rows, cols):
    """Row a of x correlated with kernels[which[a]] (k x k), reflect padding through the index arrays `rows` (H +
    k - 1) and `cols` (W + k - 1): per output, a fused multiply-add per non-zero tap in row-major tap order from 0."""
    k = kernels.shape[1]
    height = x.shape[1]
    padded = np.empty((height + k - 1, cols.size * channels), np.float32)
    identity = np.arange(height + k - 1)
    for a in range(x.shape[0]):
        tap_rows, offsets, weights = nonzero_taps(kernels[which[a]], channels)
        for i in range(height + k - 1):
            pad_row(x[a, rows[i]], cols, channels, padded[i])
        for i in range(height):
            acc = out[a, i]
            acc[:] = 0
            accumulate(acc, padded, identity, i, tap_rows, offsets, weights)


@njit(**JIT)
def separable(plane, taps, channels, rows, cols, padded, tmp, out):
    """Correlate one (H, L) plane with taps x taps: along rows into tmp, then along columns into out, a fused
    multiply-add per non-zero tap in tap order from 0 (reflect padding through `rows` and `cols`; `padded` holds
    one padded row, shape (1, (W + k - 1) * B))."""
    along_rows = nonzero_taps(taps.reshape(1, taps.size), channels)  # rows 0, offsets t * B
    tap_rows, _, weights = nonzero_taps(taps.reshape(taps.size, 1), channels)  # rows t, offsets 0
    zeros = np.zeros(weights.size, np.int64)
    for i in range(plane.shape[0]):
        pad_row(plane[i], cols, channels, padded[0])
        acc = tmp[i]
        acc[:] = 0
        accumulate(acc, padded, zeros, 0, *along_rows)
    for i in range(plane.shape[0]):
        acc = out[i]
        acc[:] = 0
        accumulate(acc, tmp, rows, i, tap_rows, zeros, weights)


@njit(**JIT)
def usm_rows(x, out, channels, taps, weight, threshold, rows, cols):
    """USM of every row a of x (see ops_torch.unsharp_mask for the arithmetic, done here operation for operation)."""
    height, length = x.shape[1], x.shape[2]
    padded = np.empty((1, cols.size * channels), np.float32)
    tmp = np.empty((height, length), np.float32)
    blurred = np.empty((height, length), np.float32)
    residual = np.empty((height, length), np.float32)
    mask = np.empty((height, length), np.float32)
    for a in range(x.shape[0]):
        z = x[a]
        separable(z, taps, channels, rows, cols, padded, tmp, blurred)
        for i in range(height):
            for j in range(length):
                r = z[i, j] - blurred[i, j]
                residual[i, j] = r
                mask[i, j] = np.float32(1) if abs(r) * np.float32(255) > threshold else np.float32(0)
        separable(mask, taps, channels, rows, cols, padded, tmp, blurred)  # blurred: the soft mask now
        dst = out[a]
        for i in range(height):
            for j in range(length):
                zz, soft = z[i, j], blurred[i, j]
                sharp = min(max(residual[i, j] * weight + zz, np.float32(0)), np.float32(1))
                dst[i, j] = sharp * soft + (np.float32(1) - soft) * zz


@njit(**JIT)
def to_uint8(x, out, channels):
    """out (N, H, W, C) uint8 = clip(rint(x * 255), 0, 255) of rows x: N frames of C interleaved channels
    (channels = C) or N * C planes (channels = 1)."""
    c = out.shape[3]
    if channels > 1:
        flat = out.reshape(x.shape)
        for a in range(x.shape[0]):
            for i in range(x.shape[1]):
                src, dst = x[a, i], flat[a, i]
                for j in range(src.size):
                    dst[j] = np.uint8(min(max(np.rint(src[j] * np.float32(255)), np.float32(0)), np.float32(255)))
        return
    for a in range(x.shape[0]):
        for i in range(x.shape[1]):
            src = x[a, i]
            for j in range(src.size):
                out[a // c, i, j, a % c] = np.uint8(min(max(np.rint(src[j] * np.float32(255)), np.float32(0)),
                                                        np.float32(255)))


@njit(**JIT)
def from_uint8(src, dst, reverse):
    """dst = src / 255 in float32 for rows (H, W * C) of uint8 pixels; `reverse`: src holds each pixel's 3 channels
    in reverse order (BGR from libjpeg) and dst gets them in order."""
    for i in range(src.shape[0]):
        s, d = src[i], dst[i]
        if reverse:
            for p in range(s.size // 3):  # (a stepped range vectorises badly: 4x slower)
                d[3 * p] = np.float32(s[3 * p + 2]) / np.float32(255)
                d[3 * p + 1] = np.float32(s[3 * p + 1]) / np.float32(255)
                d[3 * p + 2] = np.float32(s[3 * p]) / np.float32(255)
        else:
            for j in range(s.size):
                d[j] = np.float32(s[j]) / np.float32(255)
