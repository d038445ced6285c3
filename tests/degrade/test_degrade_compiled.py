"""The compiled CPU kernels (ops_cpu.py, numba) against the PyTorch path they stand in for: the same float32 values to
the bit for every operator, the same LQ bytes for whole clips at any thread count, and the PyTorch path where numba
cannot be imported."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from vrbench.degrade import list_presets, ops_cpu
from vrbench.degrade import ops_torch as ops
from vrbench.degrade.ops import sample_stages
from vrbench.degrade.pipeline import run_stages
from vrbench.degrade.presets import load_preset


def bits(x: torch.Tensor) -> np.ndarray:
    """The bit patterns of float32 values (so -0 differs from +0); other dtypes as they are."""
    a = x.contiguous().numpy()
    return a.view(np.int32) if a.dtype == np.float32 else a


def both_paths(fn) -> tuple[torch.Tensor, torch.Tensor]:
    compiled = fn()
    with ops_cpu.torch_kernels():
        return compiled, fn()


def frames(rng: np.random.Generator, n: int, height: int, width: int, layout: str) -> torch.Tensor:
    """Values a little outside [0, 1] (as after USM), in the layout frames from the codec have or in NCHW."""
    x = torch.from_numpy(rng.random((n, height, width, 3), dtype=np.float32) * 1.2 - 0.1).permute(0, 3, 1, 2)
    return x.contiguous() if layout == "nchw" else x


def operators(x: torch.Tensor, size: tuple[int, int], kernels: torch.Tensor, usm: dict) -> dict:
    return {"area": lambda: ops.resize(x, *size, "area"), "bilinear": lambda: ops.resize(x, *size, "bilinear"),
            "blur": lambda: ops.correlate(x, kernels), "usm": lambda: ops.unsharp_mask(x, usm),
            "uint8": lambda: torch.from_numpy(ops.to_uint8_hwc(x))}


@pytest.mark.parametrize("layout", ["nchw", "channels-last"])
def test_every_compiled_operator_gives_the_pytorch_values_to_the_bit(layout):
    """Odd sizes, frames smaller than the kernels, up- and down-scales, kernels with zero taps."""
    rng = np.random.default_rng(17)
    for trial in range(24):
        n, height, width = int(rng.integers(1, 4)), int(rng.integers(1, 48)), int(rng.integers(1, 48))
        x = frames(rng, n, height, width, layout)
        size = (int(rng.integers(1, 64)), width if trial % 4 == 0 else int(rng.integers(1, 64)))
        k = int(rng.choice([3, 7, 11]))
        kernels = torch.from_numpy(rng.random((n, k, k), dtype=np.float32) * (rng.random((n, k, k)) > 0.3))
        usm = {"size": int(rng.choice([5, 21, 51])), "sigma": float(rng.uniform(1, 9)), "weight": 0.5,
               "threshold": 10}
        for name, fn in operators(x, size, kernels, usm).items():
            compiled, reference = both_paths(fn)
            assert compiled.shape == reference.shape, (name, trial)
            assert np.array_equal(bits(compiled), bits(reference)), (name, trial, n, height, width, size, k)


def test_on_real_frames_too(bbb_frames):
    x = torch.from_numpy(bbb_frames[:3]).permute(0, 3, 1, 2).float().div_(255)
    narrow = torch.from_numpy(np.stack([np.outer(np.hanning(11), np.hanning(13)[1:-1])] * 3)).float()
    for fn in (lambda: ops.unsharp_mask(x, {"size": 51, "sigma": 8.0, "weight": 0.5, "threshold": 10}),
               lambda: ops.correlate(x, narrow / narrow.sum()), lambda: ops.resize(x, 47, 61, "area"),
               lambda: ops.resize(x, 47, 61, "bilinear"), lambda: ops.resize(x, 150, 190, "bilinear")):
        compiled, reference = both_paths(fn)
        assert np.array_equal(bits(compiled), bits(reference))


def test_uint8_conversions_keep_their_values():
    from vrbench.metrics.engine import to_tensor

    levels = np.random.default_rng(2).permutation(np.arange(768) % 256).astype(np.uint8).reshape(16, 16, 3)
    views = [levels, levels[::-1], levels[..., ::-1]]  # libjpeg's frames come back as channel-reversed views
    ours = ops.from_uint8(views, torch.device("cpu"))
    expected = to_tensor(np.stack([np.ascontiguousarray(v) for v in views]), torch.device("cpu"))
    assert np.array_equal(bits(ours), bits(expected)) and set(levels.ravel()) == set(range(256))
    ties = torch.tensor([0.5, 1.5, 2.5, 254.5, -3.0, 300.0], dtype=torch.float32).div(255).reshape(1, 3, 1, 2)
    for x in (ties, ties.contiguous(memory_format=torch.channels_last)):
        compiled, reference = both_paths(lambda x=x: torch.from_numpy(ops.to_uint8_hwc(x)))
        assert torch.equal(compiled, reference) and torch.equal(reference, torch.from_numpy(ops.to_uint8_hwc_torch(x)))


def test_rows_split_over_the_frame_threads_give_the_same_values():
    rng = np.random.default_rng(5)
    x = frames(rng, 3, 90, 110, "channels-last")  # large enough to be split
    kernels = torch.from_numpy(rng.random((3, 9, 9), dtype=np.float32))
    usm = {"size": 51, "sigma": 8.0, "weight": 0.5, "threshold": 10}
    run = lambda: (ops.unsharp_mask(x, usm), ops.correlate(x, kernels), ops.resize(x, 61, 47, "area"),  # noqa: E731
                   ops.resize(x.contiguous(), 131, 47, "bilinear"))
    alone, before = run(), torch.get_num_threads()
    try:
        for threads in (2, 3):
            torch.set_num_threads(threads)
            with ops.spread_frames(torch.device("cpu")):
                split = run()
            assert all(torch.equal(a, b) for a, b in zip(alone, split, strict=True)), threads
    finally:
        torch.set_num_threads(before)


def test_whole_clips_have_the_same_bytes_on_both_paths_and_at_any_thread_count(bbb_frames):
    gt = np.ascontiguousarray(bbb_frames[:6])
    before = torch.get_num_threads()
    assert len(list_presets()) >= 5
    try:
        for name in list_presets():
            for seed in (0, 1):
                stages = sample_stages(load_preset(name), seed, "bunny", len(gt), gt.shape[1:3], 4)
                with ops_cpu.torch_kernels():
                    expected = run_stages(gt, stages, "cpu")
                for threads in (1, 2):
                    torch.set_num_threads(threads)
                    assert np.array_equal(run_stages(gt, stages, "cpu"), expected), (name, seed, threads)
                torch.set_num_threads(before)
    finally:
        torch.set_num_threads(before)


def test_without_numba_the_pytorch_path_runs(monkeypatch, bunny):
    stages = sample_stages(load_preset("realbasicvsr-x4"), 2, "bunny", len(bunny), bunny.shape[1:3], 4)
    expected = run_stages(bunny, stages, "cpu")
    import vrbench.degrade

    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` raises ImportError
    monkeypatch.delitem(sys.modules, "vrbench.degrade.jit_kernels")
    monkeypatch.delattr(vrbench.degrade, "jit_kernels")  # else `from vrbench.degrade import ...` finds it there
    ops_cpu.forget_kernels()
    try:
        assert ops_cpu.jit_kernels() is None
        x = torch.rand(1, 3, 8, 8)
        assert ops_cpu.unsharp_mask(x, np.ones(3, np.float32) / 3, 0.5, 10) is None
        ops_cpu.warm_up()  # nothing to compile: no error
        assert np.array_equal(run_stages(bunny, stages, "cpu"), expected)
    finally:
        ops_cpu.forget_kernels()


def test_without_a_writable_cache_folder_the_pytorch_path_runs_with_a_warning(monkeypatch):
    """numba refuses cache=True when it finds no folder to write its cache to: a warning, not a crash."""
    from numba.core import caching

    import vrbench.degrade

    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # (its older name)
    monkeypatch.setattr(impl, "_locator_classes", [])  # as when no candidate folder is writable
    monkeypatch.delitem(sys.modules, "vrbench.degrade.jit_kernels")
    monkeypatch.delattr(vrbench.degrade, "jit_kernels")
    ops_cpu.forget_kernels()
    try:
        with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR"):
            assert ops_cpu.jit_kernels() is None
        x = torch.rand(2, 3, 9, 7)
        with ops_cpu.torch_kernels():
            expected = ops.resize(x, 4, 5, "area")
        assert torch.equal(ops.resize(x, 4, 5, "area"), expected)
    finally:
        ops_cpu.forget_kernels()


def test_area_to_one_pixel_and_a_wrong_kernel_count_stay_with_pytorch():
    """PyTorch's pooling to 1 x 1 is a mean in its own summation order; a kernel count that is not the frame count
    is PyTorch's error to raise, not an out-of-bounds read."""
    x = torch.rand(2, 3, 300, 7)
    with ops_cpu.torch_kernels():
        expected = ops.resize(x, 1, 1, "area")
    assert torch.equal(ops.resize(x, 1, 1, "area"), expected)
    assert ops_cpu.resize_area(x, 1, 1) is None and ops_cpu.resize_area(x, 2, 1) is not None
    gt = np.random.default_rng(5).integers(0, 256, (2, 4, 4, 3), dtype=np.uint8)  # dove-x4 seed 17 ends at 1 x 1
    stages = sample_stages(load_preset("dove-x4"), 17, "tiny", 2, (4, 4), 4)
    with ops_cpu.torch_kernels():
        expected_lq = run_stages(gt, stages, "cpu")
    assert expected_lq.shape[1:3] == (1, 1) and np.array_equal(run_stages(gt, stages, "cpu"), expected_lq)
    assert ops_cpu.correlate(torch.rand(3, 3, 16, 16), torch.rand(1, 3, 3)) is None
    with pytest.raises(RuntimeError):
        ops.correlate(torch.rand(3, 3, 16, 16), torch.rand(1, 3, 3))


def test_blur_and_usm_step_aside_where_pytorch_does_not_fuse_multiply_adds(monkeypatch):
    """The compiled correlations reproduce oneDNN's fused multiply-adds: with oneDNN off, or held to an ISA without
    FMA, PyTorch rounds otherwise, so the PyTorch path runs there."""
    x = torch.rand(2, 3, 12, 10)
    kernels = torch.rand(2, 5, 5)
    assert ops_cpu.correlate(x, kernels) is not None
    with torch.backends.mkldnn.flags(enabled=False):
        assert ops_cpu.correlate(x, kernels) is None
        assert ops_cpu.unsharp_mask(x, np.ones(3, np.float32) / 3, 0.5, 10) is None
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX")
    ops_cpu._fma_cpu.cache_clear()
    try:
        assert not ops_cpu.fused_multiply_add_like_onednn() and ops_cpu.correlate(x, kernels) is None
    finally:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
        ops_cpu._fma_cpu.cache_clear()
    assert ops_cpu.correlate(x, kernels) is not None


@pytest.mark.parametrize("failure", ["import", "compile"])
def test_a_broken_numba_or_a_cache_that_fails_later_gives_a_warning_and_pytorch(monkeypatch, failure):
    """A shared library llvmlite cannot load (OSError at import), or a cache folder that stopped being writable
    (OSError while compiling): one warning naming the cause, then the PyTorch path, never a traceback."""
    import vrbench.degrade

    def broken(*_a, **_k):
        raise OSError("cannot write the cache" if failure == "compile" else "libllvmlite.so: cannot open")

    if failure == "import":
        monkeypatch.delitem(sys.modules, "vrbench.degrade.jit_kernels")
        monkeypatch.delattr(vrbench.degrade, "jit_kernels")
        monkeypatch.setattr("builtins.__import__", _raising_import(broken))
    else:
        monkeypatch.setattr(ops_cpu, "warm_up", broken)
    ops_cpu.forget_kernels()
    try:
        with pytest.warns(RuntimeWarning, match="OSError"):
            assert ops_cpu.jit_kernels() is None
        x = torch.rand(2, 3, 9, 7)
        assert ops_cpu.resize_area(x, 4, 5) is None
    finally:
        monkeypatch.undo()
        ops_cpu.forget_kernels()


def _raising_import(raise_):
    import builtins

    real = builtins.__import__

    def fake(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "numba" or name.startswith("numba."):
            raise_()
        return real(name, globals, locals, fromlist, level)

    return fake
