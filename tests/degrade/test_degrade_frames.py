"""Frame threads (ops_torch.spread_frames) and layouts: every operator computes a frame the same alone as in a batch
and whatever the memory layout it arrives in, so running noise and JPEG frame by frame, size groups in threads, or
frames straight from the codec cannot change the LQ bytes."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from vrbench.degrade import ops_torch as ops
from vrbench.degrade.kernels import kernel_from_params


def operators(rng: np.random.Generator, n: int, height: int, width: int) -> dict:
    """name -> fn(batch, per-frame entries or None) for every batched operator, with drawn parameters."""
    usm = {"size": 51, "sigma": 8.0, "weight": 0.5, "threshold": 10}
    table = {"usm": lambda x, _: ops.unsharp_mask(x, usm), "quantize": lambda x, _: ops.quantize(x)}
    for size in (7, 13):  # a depthwise convolution and an FFT
        entries = [{"kind": "aniso", "size": size, "sigma_x": float(rng.uniform(0.3, 3)),
                    "sigma_y": float(rng.uniform(0.3, 3)), "theta": float(rng.uniform(-3, 3))} for _ in range(n)]
        kernels = torch.from_numpy(np.stack([kernel_from_params(e) for e in entries])).float()
        table[f"blur{size}"] = (ops.correlate, kernels)
    for mode in ("area", "bilinear", "bicubic", "bicubic_aa"):
        for size in ((height // 2 + 1, width // 3 + 2), (height * 2 - 2, width + 6)):
            table[f"{mode}{size}"] = lambda x, _, size=size, mode=mode: ops.resize(x, *size, mode)
    for kind in ("gaussian", "poisson"):
        entries = [{"kind": kind, "seed": int(rng.integers(1 << 30)), "gray": bool(i % 2), "sigma": 7.5, "scale": 1.3}
                   for i in range(n)]
        table[kind] = (ops.add_noise, entries)
    table["jpeg"] = (ops.jpeg, [{"quality": int(rng.integers(30, 95))} for _ in range(n)])
    return table


@pytest.mark.parametrize("layout", ["contiguous", "channels-last"])
def test_every_operator_gives_a_frame_the_same_values_alone_as_in_a_batch(layout):
    """Channels-last is how frames come back from the video codec (an (N, H, W, 3) array seen as (N, 3, H, W))."""
    rng = np.random.default_rng(7)
    n, height, width = 4, 38, 52
    batch = torch.from_numpy(rng.random((n, height, width, 3), dtype=np.float32)).permute(0, 3, 1, 2)
    batch = batch.contiguous() if layout == "contiguous" else batch
    for name, op in operators(rng, n, height, width).items():
        fn, per_frame = (op, None) if callable(op) else op
        together = fn(batch, per_frame)
        for i in range(n):
            alone = fn(batch[i : i + 1], None if per_frame is None else per_frame[i : i + 1])
            assert torch.equal(together[i], alone[0]), (name, i)


def test_spread_frames_uses_frame_threads_and_restores_the_thread_count():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with ops.spread_frames(torch.device("cpu")):
            assert torch.get_num_threads() == 1  # PyTorch in this thread: the frames are the parallelism
            names = ops.frame_map(lambda _: threading.current_thread().name, range(4))
            assert all(name.startswith("vrbench-degrade") for name in names)
            assert ops.frame_map(lambda _: torch.get_num_threads(), range(4)) == [1] * 4
        assert torch.get_num_threads() == 2
        with ops.spread_frames(torch.device("meta")):  # not the CPU: nothing changes
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("layout", ["contiguous", "channels-last", "strided"])
def test_planes_round_trip_is_the_layout_copy(layout):
    """planes/unplanes move frames to and from the convolutions' layout through OpenCV's transpose on the CPU: the
    same tensor PyTorch's own layout copy gives, for any input strides."""
    frames = torch.from_numpy(np.random.default_rng(3).random((5, 3, 14, 22), dtype=np.float32))
    frames = {"contiguous": frames, "channels-last": frames.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2),
              "strided": frames[:, :, ::2]}[layout]
    z = ops.planes(frames)
    expected = frames.reshape(1, 15, *frames.shape[-2:]).contiguous(memory_format=torch.channels_last)
    assert torch.equal(z, expected) and z.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(ops.unplanes(z, 5), frames)


def test_convolutions_in_row_bands_over_the_frame_threads_give_the_same_values():
    """While frames are spread, a large depthwise convolution runs in bands of output rows, one per frame thread."""
    rng = np.random.default_rng(11)
    frames = torch.from_numpy(rng.random((8, 3, 100, 120), dtype=np.float32))  # large enough to be banded
    kernels = torch.from_numpy(rng.random((8, 11, 11), dtype=np.float32))
    usm = {"size": 51, "sigma": 8.0, "weight": 0.5, "threshold": 10}
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        alone = ops.correlate(frames, kernels), ops.unsharp_mask(frames, usm)
        for threads in (2, 3):
            torch.set_num_threads(threads)
            with ops.spread_frames(torch.device("cpu")):
                banded = ops.correlate(frames, kernels), ops.unsharp_mask(frames, usm)
            assert all(torch.equal(a, b) for a, b in zip(alone, banded, strict=True)), threads
    finally:
        torch.set_num_threads(before)
