"""The per-clip degradation manifest: what was done, with which parameters, in which environment, and hashes.

A manifest holds the preset card (name, version, sha256 and content), the benchmark seed, clip id and derived clip
seed, every sampled parameter of every stage per frame (noise as per-frame seeds), the library versions that can
change the bytes (PyTorch, NumPy, OpenCV and its libjpeg, FFmpeg/PyAV and x264), and the sha256 of the GT and LQ
frames. `replay_manifest` needs nothing else.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from pathlib import Path

import numpy as np

from vrbench.degrade.ops import check_stage, lookup
from vrbench.errors import InputError
from vrbench.seeds import derive_seed
from vrbench.video import check_frame_size

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
    check_replay_ranges(manifest)


def card_stages(stages: list[dict]) -> list[dict]:
    """Card stages with those inside shuffle groups listed too."""
    return [s for stage in stages for s in (stage, *(x for g in stage.get("groups", []) for x in g))]


def _replay_card(preset: object) -> object:
    """The installed preset the manifest names when its sha256 matches the manifest's (the card as shipped, whatever
    the manifest's copy says), else the manifest's own copy (a card file, or an older version of a preset)."""
    from vrbench.degrade.presets import list_presets, load_preset

    if isinstance(preset, dict) and preset.get("name") in list_presets():
        installed = load_preset(preset["name"])
        if installed.sha256 == preset.get("sha256"):
            return installed.as_dict()
    return preset


def check_replay_ranges(manifest: dict) -> None:
    """Refuse sizes and parameters outside the ranges of the manifest's preset card or the pixel budget.

    A manifest comes from outside: a resize entry asking for 20000x20000 or a 10001-tap kernel would take gigabytes
    before the LQ hash could show anything wrong. Frame sizes may grow at most by the product of the card's largest
    up-scaling factors; kernel sizes must be ones the card lists; the scale one the card allows."""
    preset, gt, clip = _replay_card(manifest.get("preset")), manifest["gt"], manifest.get("clip_id")
    if not isinstance(preset, dict) or not isinstance(preset.get("stages"), list):
        raise InputError("manifest lacks its preset card", clip=clip, expected="preset.stages",
                         found=sorted(preset) if isinstance(preset, dict) else preset)
    card = card_stages([check_stage(s, f"manifest preset stage {i}") for i, s in enumerate(preset["stages"])])
    if manifest["scale"] not in preset.get("scales", [preset.get("scale")]):
        raise InputError("manifest scale is not one its preset allows", clip=clip, expected=preset.get("scales"),
                         found=manifest["scale"])
    height, width = gt.get("height"), gt.get("width")
    if not all(isinstance(v, int) and v >= 1 for v in (height, width)):
        raise InputError("manifest GT size is not two positive integers", clip=clip, found=(width, height))
    check_frame_size(width, height, clip=clip)
    growth = math.prod(max(float(s["up"][1]), 1.0) for s in card if s["op"] == "resize" and s["target"] == "scale")
    limit = (math.ceil(height * growth) + 1, math.ceil(width * growth) + 1)
    kernels = {k for s in card if s["op"] == "blur" for k in s["sizes"]} | {s["size"] for s in card if s["op"] == "usm"}
    for i, stage in enumerate(manifest["stages"]):
        where = f"manifest stage {i} ({stage['op']})"
        entries = [e for e in stage.get("frames") or [] if e is not None]
        for e in entries if stage["op"] == "resize" else ():
            if e["height"] > limit[0] or e["width"] > limit[1]:
                raise InputError(f"{where} resizes beyond the preset's range", clip=clip,
                                 expected=f"at most {limit[1]}x{limit[0]} (GT {width}x{height} x {growth:g})",
                                 found=f"{e['width']}x{e['height']}")
            check_frame_size(e["width"], e["height"], clip=clip, file=where)
        for size in [e.get("size") for e in entries if stage["op"] == "blur"] + (
                [stage.get("size")] if stage["op"] == "usm" else []):
            if size not in kernels:
                raise InputError(f"{where} uses a kernel size its preset does not list", clip=clip,
                                 expected=sorted(kernels), found=size)
        if stage["op"] == "subsample" and stage.get("step") != manifest["scale"]:
            raise InputError(f"{where} step differs from the scale", clip=clip, expected=manifest["scale"],
                             found=stage.get("step"))


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
