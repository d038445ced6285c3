"""`vrbench bench protocol NAME`: how long a protocol's full scoring of one method takes, measured on N synthetic
frames and extrapolated to the protocol's real test sets.

N real 720p frames (Big Buck Bunny) are the GT; the LQ is their x4 area downscale and the method's output its x4
bicubic upscale, all stored as PNG folders. Stages, each timed on its own: decoding (GT, output and LQ through the
engine's decoding pool), the protocol's colour fix, and every metric of the protocol scored by the engine on frames
already in memory. Learned metrics run on
random stand-in weights (planted in a temporary torch hub, never the user's cache): speed does not depend on the
weights' values. Each stage's seconds per frame times the protocol's frame count gives minutes per stage (DOVER's
seconds per clip times its clip count: its views have a fixed size whatever the clip length).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Test sets of the SeedVR2 protocol at 720p (SeedVR2, arXiv 2506.05301v2, Sec. 4): (clips, frames per clip)
PROTOCOL_SETS = {"seedvr2": {"SPMCS": (30, 31), "UDM10": (10, 32), "REDS30": (30, 100), "YouHQ40": (40, 32)}}
# metrics whose cost is per clip, not per frame: DOVER samples fixed-size views whatever the clip length
PER_CLIP = ("dover-tech100", "dover-aes", "dover-overall")


@dataclass
class ProtocolRun:
    protocol: str
    frames: int
    device: str
    target_frames: int
    target_clips: int
    seconds_per_frame: dict[str, float] = field(default_factory=dict)  # stage -> s/frame
    seconds_per_clip: dict[str, float] = field(default_factory=dict)  # per-clip stages (DOVER) -> s/clip
    unavailable: dict[str, str] = field(default_factory=dict)
    hardware: dict[str, Any] = field(default_factory=dict)

    def minutes(self, stage: str) -> float:
        if stage in self.seconds_per_clip:
            return self.seconds_per_clip[stage] * self.target_clips / 60.0
        return self.seconds_per_frame[stage] * self.target_frames / 60.0

    @property
    def stages(self) -> list[str]:
        return [*self.seconds_per_frame, *self.seconds_per_clip]

    @property
    def total_minutes(self) -> float:
        return sum(self.minutes(s) for s in self.stages)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["minutes"] = {s: self.minutes(s) for s in self.stages}
        d["total_minutes"] = self.total_minutes
        d["size"] = "720p"
        return d


def _stage_decode(paths: dict[str, Path], chunk: int) -> float:
    """Seconds to decode the GT, output and LQ folders with the engine's pool (per GT frame)."""
    from vrbench.metrics.engine import _Prefetch
    from vrbench.video import open_video

    videos = {k: open_video(p) for k, p in paths.items()}
    t = time.perf_counter()
    n = sum(len(item["gt"][0]) for item in _Prefetch(videos, chunk))
    return (time.perf_counter() - t) / n


def run_protocol_bench(name: str, frames: int = 8, chunk: int = 8, device: str | None = None,
                       only: list[str] | None = None) -> ProtocolRun:
    """`only` restricts the measured metrics to those of the protocol named in it (a quicker partial run)."""
    from vrbench.errors import InputError
    from vrbench.metrics.bench import random_weights_hub

    if name not in PROTOCOL_SETS:
        raise InputError("no frame counts known for this protocol", expected=" | ".join(PROTOCOL_SETS), found=name)
    from vrbench.protocols import load_protocol

    with random_weights_hub(names=[m for m in load_protocol(name).metrics if only is None or m in only]):
        return _run_protocol_bench(name, frames, chunk, device, only)


def _run_protocol_bench(name: str, frames: int, chunk: int, device: str | None, only: list[str] | None
                        ) -> ProtocolRun:
    from vrbench.colorfix import colour_fix
    from vrbench.devices import pick_device
    from vrbench.metrics.bench import bench_frames, hardware
    from vrbench.metrics.engine import build_metrics, deterministic_mode, evaluate_clip
    from vrbench.metrics.host_heap import retained_heap
    from vrbench.protocols import load_protocol
    from vrbench.video import Video, write_frames

    protocol = load_protocol(name)
    dev = pick_device(device)
    deterministic_mode(dev)
    built = build_metrics([m for m in protocol.metrics if only is None or m in only], dev)
    sets = PROTOCOL_SETS[name].values()
    run = ProtocolRun(name, frames, str(dev), sum(c * f for c, f in sets), sum(c for c, _ in sets),
                      hardware=hardware(dev))
    run.unavailable = {n: e.reason for n, e in built.unavailable.items()}
    outs, gt = bench_frames("720p", frames, 1)
    out = next(iter(outs.values()))
    lq = np.stack([f[::4, ::4] for f in gt])  # only its colours matter to the fix; its size is the LQ's
    with tempfile.TemporaryDirectory(prefix="vrbench-bench-protocol-") as tmp:
        paths = {"gt": Path(tmp) / "gt", "out": Path(tmp) / "out", "lq": Path(tmp) / "lq"}
        for key, arr in (("gt", gt), ("out", out), ("lq", lq)):
            write_frames(arr, paths[key])
        run.seconds_per_frame["decode"] = _stage_decode(paths, chunk)
        if protocol.colour_fix != "none":
            t = time.perf_counter()
            fixed = colour_fix(out, lq, protocol.colour_fix)
            run.seconds_per_frame[f"colour fix ({protocol.colour_fix})"] = (time.perf_counter() - t) / frames
        else:
            fixed = out
        gt_v, out_v = Video.from_array(gt, name="gt"), Video.from_array(fixed, name="out")
        with retained_heap():  # as a run holds it from clip to clip (see vrbench.metrics.host_heap)
            evaluate_clip({"out": out_v}, gt_v, built.ready, dev, chunk)  # warm-up
            for n, m in built.ready.items():
                t = time.perf_counter()
                evaluate_clip({"out": out_v}, gt_v, {n: m}, dev, chunk)
                if n in PER_CLIP:
                    run.seconds_per_clip[n] = time.perf_counter() - t
                else:
                    run.seconds_per_frame[n] = (time.perf_counter() - t) / frames
    return run


def save_protocol_run(run: ProtocolRun, folder: Path) -> Path:
    import json

    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    file = folder / f"protocol-{run.protocol}-{run.device.replace(':', '')}-{stamp}.json"
    file.write_text(json.dumps({"kind": "protocol", "utc": stamp, **run.to_dict()}, indent=2) + "\n")
    return file
