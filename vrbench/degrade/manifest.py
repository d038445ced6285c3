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

from vrbench.degrade.ops import lookup
from vrbench.errors import InputError
from vrbench.seeds import derive_seed

FORMAT = "vrbench.degrade.manifest/1"


def frames_sha256(frames: np.ndarray) -> str:
    """sha256 of a uint8 (T, H, W, 3) clip: its shape as text, then its bytes in C order."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    digest = clip_digest(frames.shape)
    digest.update(frames.tobytes())
    return digest.hexdigest()


def clip_digest(shape: tuple[int, ...]):
    """The `frames_sha256` digest of a clip of `shape` before its bytes: feed it the frames chunk by chunk."""
    return hashlib.sha256("x".join(map(str, shape)).encode() + b":")


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


def build_manifest(card, *, seed: int, clip_id: str, scale: int, gt_shape: tuple, gt_sha256: str, lq: np.ndarray,
                   stages: list, conversions: list[str], original_shape: tuple, device: str, chunk: int) -> dict:
    """Assemble the JSON-serialisable manifest of one degraded clip (`gt_shape`: the GT as degraded, after the
    conversions; `chunk`: frames per batch of the pipeline, recorded because batching fixes the float order)."""
    import torch

    return {
        "format": FORMAT,
        "preset": card.as_dict(),
        "seed": int(seed), "clip_id": clip_id, "clip_seed": derive_seed(seed, clip_id), "scale": int(scale),
        "gt": {"frames": int(gt_shape[0]), "height": int(gt_shape[1]), "width": int(gt_shape[2]),
               "sha256": gt_sha256, "input_shape": [int(s) for s in original_shape],
               "conversions": list(conversions)},
        "lq": {"frames": int(lq.shape[0]), "height": int(lq.shape[1]), "width": int(lq.shape[2]),
               "sha256": frames_sha256(lq), "frame_sha256": [frames_sha256(f[None]) for f in lq]},
        "stages": stages,
        "environment": {"device": str(device), "torch_threads": torch.get_num_threads(), "chunk": int(chunk),
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
        op = lookup(stage.get("op") if isinstance(stage, dict) else None, f"manifest stage {i}")
        where = f"manifest stage {i} ({op.name})"
        if not op.per_frame:
            if op.check_entry is not None:
                op.check_entry(stage, where)
            continue
        frames = stage.get("frames")
        if not isinstance(frames, list) or len(frames) != manifest["gt"]["frames"]:
            raise InputError(f"{where} needs one entry per frame", expected=manifest["gt"]["frames"],
                             found=len(frames) if isinstance(frames, list) else frames)
        for j, entry in enumerate(frames):
            if entry is not None:
                op.check_entry(entry, f"{where}, frame {j}")


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
    """Write the manifest atomically: a reader finds the whole manifest or none (it is what `replay` trusts)."""
    from vrbench.fsutil import atomic_write_text

    return atomic_write_text(path, json.dumps(manifest, indent=1, sort_keys=False) + "\n")


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
