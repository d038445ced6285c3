"""The per-clip degradation manifest: what was done, with which parameters, in which environment, and hashes.

A manifest holds the preset card (name, version, sha256 and content), the benchmark seed, clip id and derived clip
seed, every sampled parameter of every stage per frame (noise as per-frame seeds), the library versions that can
change the bytes (PyTorch, NumPy, OpenCV and its libjpeg, FFmpeg/PyAV and x264), and the sha256 of the GT and LQ
frames. `replay_manifest` needs nothing else.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

import numpy as np

from vrbench.errors import InputError

FORMAT = "vrbench.degrade.manifest/1"
STAGE_OPS = ("usm", "blur", "resize", "noise", "jpeg", "video", "shuffle", "subsample", "quantize")


def frames_sha256(frames: np.ndarray) -> str:
    """sha256 of a uint8 (T, H, W, 3) clip: its shape as text, then its bytes in C order."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    digest = hashlib.sha256("x".join(map(str, frames.shape)).encode() + b":")
    digest.update(frames.tobytes())
    return digest.hexdigest()


def library_versions() -> dict:
    """Versions of everything that can change the LQ bytes."""
    import cv2
    import scipy
    import torch

    import vrbench
    from vrbench.degrade.codec import codec_versions
    from vrbench.degrade.jpeg import jpeg_library

    return {"vrbench": vrbench.__version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "torch": torch.__version__, "opencv": cv2.__version__,
            "libjpeg": jpeg_library(), **codec_versions()}


def build_manifest(card, *, seed: int, clip_id: str, scale: int, gt: np.ndarray, lq: np.ndarray, stages: list,
                   conversions: list[str], original_shape: tuple, device: str) -> dict:
    """Assemble the JSON-serialisable manifest of one degraded clip."""
    import torch

    from vrbench.degrade.pipeline import CHUNK
    from vrbench.degrade.sampling import clip_seed

    return {
        "format": FORMAT,
        "preset": card.as_dict(),
        "seed": int(seed), "clip_id": clip_id, "clip_seed": clip_seed(seed, clip_id), "scale": int(scale),
        "gt": {"frames": int(gt.shape[0]), "height": int(gt.shape[1]), "width": int(gt.shape[2]),
               "sha256": frames_sha256(gt), "input_shape": [int(s) for s in original_shape],
               "conversions": list(conversions)},
        "lq": {"frames": int(lq.shape[0]), "height": int(lq.shape[1]), "width": int(lq.shape[2]),
               "sha256": frames_sha256(lq), "frame_sha256": [frames_sha256(f[None]) for f in lq]},
        "stages": stages,
        "environment": {"device": str(device), "torch_threads": torch.get_num_threads(), "chunk": CHUNK,
                        "platform": platform.platform(), "versions": library_versions()},
    }


def check_manifest(manifest: dict) -> None:
    """Raise InputError if a manifest cannot be replayed (wrong format, missing fields, unknown stages)."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise InputError("not a vrbench degradation manifest", expected=FORMAT, found=found)
    missing = [k for k in ("scale", "clip_id", "gt", "lq", "stages") if k not in manifest]
    if missing:
        raise InputError("manifest lacks required fields", expected=missing, found=sorted(manifest))
    for i, stage in enumerate(manifest["stages"]):
        op = stage.get("op") if isinstance(stage, dict) else None
        if op not in STAGE_OPS:
            raise InputError(f"manifest stage {i} has an unknown op", expected=STAGE_OPS, found=op)
        frames = stage.get("frames")
        if op in ENTRY_CHECKS and (not isinstance(frames, list) or len(frames) != manifest["gt"]["frames"]):
            raise InputError(f"manifest stage {i} ({op}) needs one entry per frame", expected=manifest["gt"]["frames"],
                             found=len(frames) if isinstance(frames, list) else frames)
        if op in ENTRY_CHECKS:
            for j, entry in enumerate(frames):
                if entry is not None:
                    ENTRY_CHECKS[op](entry, f"manifest stage {i} ({op}), frame {j}")
        elif op == "video":
            check_video_stage(stage, f"manifest stage {i} (video)")


def is_number(value: object, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def check_blur_entry(entry: dict, where: str) -> None:
    from vrbench.degrade.kernels import kernel_from_params

    try:
        kernel_from_params(entry)
    except KeyError as e:
        raise InputError("blur entry lacks a parameter", file=where, expected=str(e), found=sorted(entry)) from e


def check_resize_entry(entry: dict, where: str) -> None:
    from vrbench.degrade.presets import INTERPOLATIONS

    ok = entry.get("mode") in INTERPOLATIONS and all(isinstance(entry.get(k), int) and entry[k] >= 1
                                                     for k in ("height", "width"))
    if not ok:
        raise InputError("bad resize entry", file=where, expected=f"mode in {INTERPOLATIONS}, height/width >= 1",
                         found=entry)


def check_noise_entry(entry: dict, where: str) -> None:
    level = "sigma" if entry.get("kind") == "gaussian" else "scale"
    ok = (entry.get("kind") in ("gaussian", "poisson") and is_number(entry.get(level), 0, 1e4)
          and isinstance(entry.get("seed"), int) and entry["seed"] >= 0 and isinstance(entry.get("gray"), bool))
    if not ok:
        raise InputError("bad noise entry", file=where, expected="kind, sigma/scale >= 0, integer seed, gray flag",
                         found=entry)


def check_jpeg_entry(entry: dict, where: str) -> None:
    if not (isinstance(entry.get("quality"), int) and 1 <= entry["quality"] <= 100):
        raise InputError("bad JPEG quality", file=where, expected="an integer in [1, 100]", found=entry.get("quality"))


def check_video_stage(stage: dict, where: str) -> None:
    if not (isinstance(stage.get("codec"), str) and is_number(stage.get("bitrate"), 1000, 1e9)):
        raise InputError("bad video stage", file=where, expected="codec name and bitrate in [1e3, 1e9]",
                         found={k: stage.get(k) for k in ("codec", "bitrate")})


ENTRY_CHECKS = {"blur": check_blur_entry, "resize": check_resize_entry, "noise": check_noise_entry,
                "jpeg": check_jpeg_entry}


def environment_differences(manifest: dict, device: str) -> str:
    """Human-readable list of version/device differences between the manifest and this environment."""
    recorded = manifest.get("environment", {})
    now = library_versions()
    changed = [f"{k}: {v} -> {now.get(k)}" for k, v in recorded.get("versions", {}).items() if now.get(k) != v]
    if str(recorded.get("device", device)).split(":")[0] != str(device).split(":")[0]:
        changed.append(f"device: {recorded.get('device')} -> {device}")
    if not changed:
        return "the environment matches the manifest; the GT or the manifest may have been edited"
    return "environment differs from the one that wrote the manifest: " + "; ".join(changed)


def write_manifest(manifest: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n")
    return path


def read_manifest(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError("manifest file not found", file=path)
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputError("manifest is not valid JSON", file=path, found=str(e)) from e
    check_manifest(manifest)
    return manifest
