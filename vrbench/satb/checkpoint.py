"""Checkpoints of the built-in restorer: safetensors files whose metadata carries the architecture, the training
recipe, the exact command, hardware, wall time and the data manifest. Never pickle.

Shipped checkpoints live in `vrbench/satb/checkpoints/<name>.safetensors` and are found by name (`satb`, `naive`,
`no-ddc`, ...); any other path works too. Loading checks the format, the architecture and every tensor shape and
raises `InputError` naming the file, what was expected and what was found.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vrbench.errors import InputError

FORMAT = "vrbench-satb"
FORMAT_VERSION = "1"
SHIPPED_DIR = Path(__file__).resolve().parent / "checkpoints"


def shipped_checkpoints() -> list[str]:
    """Names of the checkpoints shipped in the package."""
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.safetensors"))


def checkpoint_path(name_or_path: str | Path) -> Path:
    """A shipped checkpoint's file by name, or an existing path; InputError listing the shipped names otherwise."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = SHIPPED_DIR / f"{name_or_path}.safetensors"
    if shipped.is_file():
        return shipped
    raise InputError("no such SATB checkpoint", file=name_or_path,
                     expected=f"a .safetensors file or one of {shipped_checkpoints()}", found="nothing there")


def save_checkpoint(file: Path, predictor, denoiser, net: dict[str, Any], meta: dict[str, Any],
                    half: bool = True) -> None:
    """Write P and D (fp16 by default: the shipped files stay small) with `net` and `meta` as JSON metadata."""
    import torch
    from safetensors.torch import save_file

    dtype = torch.float16 if half else torch.float32
    tensors = {f"predictor.{k}": v.detach().to(dtype).contiguous() for k, v in predictor.state_dict().items()}
    tensors.update({f"denoiser.{k}": v.detach().to(dtype).contiguous() for k, v in denoiser.state_dict().items()})
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "net": json.dumps(net, sort_keys=True),
                **{k: json.dumps(v, sort_keys=True, default=str) for k, v in meta.items()}}
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(file)


def read_metadata(file: Path) -> dict[str, Any]:
    """The metadata of a checkpoint, JSON values decoded; InputError if the file is not one of ours."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(file), framework="pt") as f:
            raw = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise InputError("cannot read SATB checkpoint", file=file, expected="a safetensors file",
                         found=f"{type(e).__name__}: {e}") from e
    if raw.get("format") != FORMAT:
        raise InputError("not a SATB checkpoint", file=file, expected=f"metadata format '{FORMAT}'",
                         found=repr(raw.get("format")))
    if raw.get("format_version") != FORMAT_VERSION:
        raise InputError("unsupported SATB checkpoint version", file=file, expected=FORMAT_VERSION,
                         found=raw.get("format_version"))
    return {k: v if k in ("format", "format_version") else json.loads(v) for k, v in raw.items()}


def load_checkpoint(name_or_path: str | Path, scale: int | None = None):
    """(predictor, denoiser, NetConfig, metadata) in float32 eval mode, checked against `scale` if given."""
    from safetensors.torch import load_file

    from vrbench.satb.nets import Denoiser, NetConfig, Predictor

    file = checkpoint_path(name_or_path)
    meta = read_metadata(file)
    try:
        net = NetConfig(**{"space": "unshuffle", **meta["net"]})  # checkpoints before the Haar space name none
    except TypeError as e:
        raise InputError("SATB checkpoint has an unknown architecture", file=file,
                         expected=f"fields of {sorted(NetConfig().to_dict())}", found=sorted(meta["net"])) from e
    if scale is not None and net.scale != scale:
        raise InputError("SATB checkpoint is for another scale", file=file, expected=f"x{scale}",
                         found=f"x{net.scale}")
    tensors = load_file(str(file))
    predictor, denoiser = Predictor(net), Denoiser(net)
    for prefix, module in (("predictor.", predictor), ("denoiser.", denoiser)):
        state = {k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)}
        _check_state(file, module.state_dict(), state)
        module.load_state_dict(state)
        module.eval().requires_grad_(False)
    return predictor, denoiser, net, meta


def _check_state(file: Path, want: dict, found: dict) -> None:
    missing, unexpected = sorted(set(want) - set(found)), sorted(set(found) - set(want))
    wrong = [f"{k}: {tuple(found[k].shape)} vs {tuple(v.shape)}" for k, v in want.items()
             if k in found and found[k].shape != v.shape]
    if missing or unexpected or wrong:
        raise InputError("SATB checkpoint does not match its architecture", file=file,
                         expected="the tensors its 'net' metadata describes",
                         found=f"missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shapes {wrong[:3]}")
