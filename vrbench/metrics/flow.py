"""Optical flow for the temporal metrics: torchvision RAFT-large, an OpenCV DIS fallback, warping, occlusion.

Conventions used throughout:

- images are float ``(B, 3, H, W)`` RGB in [0, 1];
- a flow function ``flow_fn(img1, img2)`` returns ``(B, 2, H, W)`` float32 flow from ``img1`` to ``img2`` in pixels,
  channel 0 = x (right), channel 1 = y (down): ``img1[y, x] ~ img2[y + v, x + u]``; it accepts any H, W;
- ``backward_warp(img2, flow_1to2)`` brings ``img2`` into ``img1``'s pixel grid.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vrbench.errors import MetricUnavailable

FlowFn = Callable[[Tensor, Tensor], Tensor]

# torchvision's RAFT-large weights (torchvision/models/optical_flow/raft.py, Raft_Large_Weights); the file-name
# suffix is the first 8 hex digits of the file's SHA-256. C_T_SKHT_V2 is torchvision's DEFAULT; C_T_V1 is the port
# of the original princeton-vl "raft-things.pth" that EvalCrafter's warping error uses.
RAFT_LARGE_WEIGHTS = {
    "C_T_SKHT_V2": "https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth",
    "C_T_V1": "https://download.pytorch.org/models/raft_large_C_T_V1-22a6c225.pth",
}
RAFT_ITERATIONS = 20  # EvalCrafter/DOVE/STAR call RAFT with iters=20
RAFT_MIN_SIZE = 128  # torchvision RAFT: H and W of the input must be at least 8 * 16


def raft_weights_path(variant: str = "C_T_SKHT_V2") -> Path:
    """Where torchvision caches the weights: ``<torch.hub.get_dir()>/checkpoints/<file name of the URL>``."""
    if variant not in RAFT_LARGE_WEIGHTS:
        raise ValueError(f"unknown RAFT-large weights {variant!r}; choose from {sorted(RAFT_LARGE_WEIGHTS)}")
    return Path(torch.hub.get_dir()) / "checkpoints" / RAFT_LARGE_WEIGHTS[variant].rsplit("/", 1)[1]


def load_raft_large(path: str | Path | None = None, *, variant: str = "C_T_SKHT_V2",
                    device: str | torch.device = "cpu") -> nn.Module:
    """torchvision RAFT-large with weights from ``path`` (default: the torchvision cache file of ``variant``).

    Never downloads: a missing file raises :class:`vrbench.errors.MetricUnavailable` naming the file and URL.
    """
    from torchvision.models.optical_flow import raft_large

    path = Path(path) if path is not None else raft_weights_path(variant)
    if not path.is_file():
        url = RAFT_LARGE_WEIGHTS.get(variant, "")
        raise MetricUnavailable("raft-large", f"weights file {path} is missing (download: {url})", (str(path),))
    model = raft_large(weights=None, progress=False)
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    except (RuntimeError, pickle.UnpicklingError) as e:
        raise ValueError(f"{path} is not a torchvision RAFT-large state dict: {e}") from e
    return model.to(device).eval()  # eval: the context encoder uses BatchNorm


def pad_to_multiple(x: Tensor, multiple: int = 8, min_size: int = 0) -> tuple[Tensor, tuple[int, int, int, int]]:
    """Replicate-pad H and W up to a multiple (and at least ``min_size``), split evenly around the image.

    The even split and replicate mode are RAFT's ``InputPadder`` ('sintel' mode). Returns the padded tensor and
    ``(left, right, top, bottom)``.
    """
    h, w = x.shape[-2:]
    th = max(h + (-h) % multiple, min_size + (-min_size) % multiple)
    tw = max(w + (-w) % multiple, min_size + (-min_size) % multiple)
    ph, pw = th - h, tw - w
    pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    return (F.pad(x, pads, mode="replicate") if any(pads) else x), pads


def raft_flow(model: nn.Module, *, iterations: int = RAFT_ITERATIONS, evalcrafter_range: bool = False) -> FlowFn:
    """Flow function running a torchvision RAFT model, ``iterations`` refinement steps, last estimate returned.

    Inputs are replicate-padded to a multiple of 8 and to at least 128 px (torchvision's RAFT rejects smaller
    inputs; the original RAFT ran on them), and the flow is cropped back to the input size.

    RAFT expects images in [-1, 1]. ``evalcrafter_range=True`` instead feeds ``2 * (x / 255) - 1`` for x in
    [0, 1], reproducing EvalCrafter's call (``metrics/RAFT/optical_flow_scores.py`` passes [0, 1] frames to the
    original RAFT, whose forward assumes 0-255); STAR and DOVE report E*warp with that code.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")

    def flow(img1: Tensor, img2: Tensor) -> Tensor:
        _check_pair(img1, img2)
        h, w = img1.shape[-2:]
        scale = 2.0 / 255.0 if evalcrafter_range else 2.0
        param = next(model.parameters())
        a, pads = pad_to_multiple(img1.to(param.device, param.dtype) * scale - 1.0, 8, RAFT_MIN_SIZE)
        b, _ = pad_to_multiple(img2.to(param.device, param.dtype) * scale - 1.0, 8, RAFT_MIN_SIZE)
        with torch.inference_mode():
            out = model(a.contiguous(), b.contiguous(), num_flow_updates=iterations)[-1]
        return out[..., pads[2]:pads[2] + h, pads[0]:pads[0] + w].float().to(img1.device)

    return flow


def dis_flow(img1: Tensor, img2: Tensor) -> Tensor:
    """Classical fallback: OpenCV DIS flow (``DISOPTICAL_FLOW_PRESET_MEDIUM``) on BT.601 grey uint8 frames.

    Kroeger et al., "Fast Optical Flow using Dense Inverse Search", ECCV 2016. CPU only, deterministic, no weights.
    """
    _check_pair(img1, img2)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flows = [dis.calc(_grey_u8(a), _grey_u8(b), None) for a, b in zip(img1, img2, strict=True)]
    return torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2).to(img1.device)


def _grey_u8(img: Tensor) -> np.ndarray:
    rgb = (img.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def _check_pair(img1: Tensor, img2: Tensor) -> None:
    if img1.ndim != 4 or img1.shape[1] != 3 or img1.shape != img2.shape:
        raise ValueError(f"flow needs two (B, 3, H, W) batches of equal shape, got {tuple(img1.shape)} "
                         f"and {tuple(img2.shape)}")


def backward_warp(img: Tensor, flow: Tensor) -> Tensor:
    """``out[y, x] = img[y + v, x + u]`` by bilinear sampling, borders replicated.

    Pixel centres sit at integer coordinates 0..W-1 (``grid_sample`` with ``align_corners=True``) and samples
    outside the image take the nearest border pixel (``padding_mode="border"``): the behaviour of FlowNet2's
    ``Resample2d`` CUDA kernel (bilinear weights on clamped neighbour indices) used by Lai et al. and EvalCrafter.
    """
    if img.ndim != 4 or flow.ndim != 4 or flow.shape[1] != 2 or img.shape[-2:] != flow.shape[-2:] \
            or img.shape[0] != flow.shape[0]:
        raise ValueError(f"backward_warp needs img (B, C, H, W) and flow (B, 2, H, W) of the same B, H, W; "
                         f"got {tuple(img.shape)} and {tuple(flow.shape)}")
    b, _, h, w = flow.shape
    if h < 2 or w < 2:
        raise ValueError(f"backward_warp needs H, W >= 2, got {h}x{w}")
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
    gx = (xs + flow[:, 0]) * (2.0 / (w - 1)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / (h - 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1).to(img.dtype)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)


def occlusion_mask(fw_flow: Tensor, bw_flow: Tensor) -> Tensor:
    """Occluded pixels of frame t, bool ``(B, 1, H, W)``, as in EvalCrafter's / Lai et al.'s ``detect_occlusion``.

    ``fw_flow`` is t -> t+1 and ``bw_flow`` is t+1 -> t. With ``bw_w = backward_warp(bw_flow, fw_flow)`` (the
    backward flow fetched at each pixel's forward target), a pixel is occluded when
    ``|fw + bw_w|^2 > 0.01 (|fw|^2 + |bw_w|^2) + 0.5`` (forward-backward inconsistency) or when it lies on a motion
    boundary of the FORWARD flow, ``|grad fw|^2 > 0.01 |fw|^2 + 0.002``, with forward differences
    ``f[x] - f[x+1]`` (zero in the last row/column). The source function names its arguments the other way round
    and is called as ``detect_occlusion(bw_flow, fw_flow)``; the tested flows above are the ones it really uses.
    """
    if fw_flow.shape != bw_flow.shape or fw_flow.ndim != 4 or fw_flow.shape[1] != 2:
        raise ValueError(f"occlusion_mask needs two (B, 2, H, W) flows of equal shape, got {tuple(fw_flow.shape)} "
                         f"and {tuple(bw_flow.shape)}")
    bw_w = backward_warp(bw_flow, fw_flow)
    inconsistent = (fw_flow + bw_w).pow(2).sum(1) > 0.01 * (fw_flow.pow(2).sum(1) + bw_w.pow(2).sum(1)) + 0.5
    du = torch.zeros_like(fw_flow)
    dv = torch.zeros_like(fw_flow)
    du[..., :, :-1] = fw_flow[..., :, :-1] - fw_flow[..., :, 1:]
    dv[..., :-1, :] = fw_flow[..., :-1, :] - fw_flow[..., 1:, :]
    boundary = (du.pow(2) + dv.pow(2)).sum(1) > 0.01 * fw_flow.pow(2).sum(1) + 0.002
    return (inconsistent | boundary)[:, None]
