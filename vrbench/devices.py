"""The one device picker: the device a name asks for, or the best one on this machine (CUDA if present)."""

from __future__ import annotations

from typing import Any


def pick_device(name: str | None = None) -> Any:
    """`torch.device(name)`, or `cuda` when CUDA is available and no name is given, else `cpu`."""
    import torch

    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
