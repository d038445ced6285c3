"""Provenance attached to every result: versions, git hash, device, seeds. A result without it is not a result."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import vrbench
from vrbench.paths import CHECKOUT_DIR

PACKAGES = ("torch", "torchvision", "pyiqa", "av", "opencv-python-headless", "opencv-python", "numpy", "scipy",
            "scikit-image", "pandas", "scikit-video", "safetensors")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def git_hash() -> str:
    """Commit of the source checkout vrbench runs from ('+dirty' if modified), or '' when installed from a wheel."""
    if not (CHECKOUT_DIR / ".git").exists():
        return ""
    try:
        head = subprocess.run(["git", "-C", str(CHECKOUT_DIR), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(CHECKOUT_DIR), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + ("+dirty" if dirty else "")


def device_info(device: Any) -> dict[str, str]:
    import torch

    info = {"device": str(device), "torch_threads": str(torch.get_num_threads())}
    if getattr(device, "type", "") == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = str(torch.version.cuda)
    info["cpu"] = platform.processor() or platform.machine()
    return info


def ffmpeg_versions() -> dict[str, str]:
    try:
        import av
    except ImportError:
        return {}
    libs = getattr(av, "library_versions", {})
    return {"pyav": av.__version__, **{k: ".".join(map(str, v)) for k, v in libs.items()}}


def collect(device: Any, seeds: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "vrbench": vrbench.__version__,
        "git": git_hash(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "ffmpeg": ffmpeg_versions(),
        **device_info(device),
        "dtype": "float32 inputs, float64 PSNR/SSIM",
        "seeds": seeds or {},
    }


def provenance_id(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
