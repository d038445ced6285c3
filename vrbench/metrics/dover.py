"""DOVER video quality model, re-implemented so the released ``DOVER.pth`` loads strictly.

DOVER (Wu et al., ICCV 2023, "Exploring Video Quality Assessment on User Generated Contents from Aesthetic and
Technical Perspectives") scores a clip with two branches:

- technical: Swin-T 3D with the FAST-VQA "gated relative position bias" (GRPB) over 7x7 fragments of 32x32 px;
- aesthetic: ConvNeXt-T inflated to 3D ('131' temporal kernels) over a 224x224 resize.

Each branch ends in a 1x1x1-conv head that scores every spatio-temporal position; the clip score of a branch is the
mean over all positions (and over the 3 technical clips). Architecture facts follow the released ``dover.yml``
(``swin_tiny_grpb`` = the backbone defaults, ``conv_tiny``, ``divide_head``, ``vqa_head`` 768 -> 64 -> 1) of
VQAssessment/DOVER @f1ddc96; module and parameter names match its checkpoint keys. The views and the seeded frame
sampling live in :mod:`vrbench.metrics.dover_views`.
"""

from __future__ import annotations

import functools
import math
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vrbench.metrics.dover_views import dover_views

# Swin-T 3D defaults of the released technical branch (DOVER swin_backbone.py, SwinTransformer3D()).
WINDOW = (8, 7, 7)
PATCH = (2, 4, 4)
# Score rescaling of evaluate_a_set_of_videos.py since commit 01bb306 (2023-08-11): t = (T - 0.1107) / 0.07355,
# a = (A + 0.08285) / 0.03774, overall = sigmoid(0.6104 t + 0.3896 a). SeedVR2/FlashVSR report 100 * sigmoid(t).
TECH_MEAN, TECH_STD = 0.1107, 0.07355
AES_MEAN, AES_STD = -0.08285, 0.03774
TECH_WEIGHT, AES_WEIGHT = 0.6104, 0.3896


def _effective_window(size: tuple[int, ...], shift: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shrink a window dim to the feature size (and drop its shift) where the feature is not larger than it."""
    win = tuple(min(s, w) for s, w in zip(size, WINDOW, strict=True))
    shf = tuple(0 if s <= w else sh for s, w, sh in zip(size, WINDOW, shift, strict=True))
    return win, shf


def _partition(x: Tensor, win: tuple[int, ...]) -> Tensor:
    """(B, D, H, W, C) -> (B * windows, Wd * Wh * Ww, C), windows in (d, h, w) raster order."""
    b, d, h, w, c = x.shape
    x = x.view(b, d // win[0], win[0], h // win[1], win[1], w // win[2], win[2], c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, win[0] * win[1] * win[2], c)


def _unpartition(windows: Tensor, win: tuple[int, ...], b: int, d: int, h: int, w: int) -> Tensor:
    x = windows.view(b, d // win[0], h // win[1], w // win[2], win[0], win[1], win[2], -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, d, h, w, -1)


def relative_position_index(win: tuple[int, int, int] = WINDOW) -> Tensor:
    """Index into the (2Wd-1)(2Wh-1)(2Ww-1) bias table for every token pair of a window (Swin, Liu et al. 2021)."""
    grid = torch.stack(torch.meshgrid(*(torch.arange(w) for w in win), indexing="ij")).flatten(1)  # 3, N
    rel = (grid[:, :, None] - grid[:, None, :]).permute(1, 2, 0)  # N, N, 3
    rel = rel + torch.tensor([w - 1 for w in win])
    strides = torch.tensor([(2 * win[1] - 1) * (2 * win[2] - 1), 2 * win[2] - 1, 1])
    return (rel * strides).sum(-1)


def fragment_gate(padded: tuple[int, int, int], win: tuple[int, ...], shift: tuple[int, ...],
                  device: torch.device | str = "cpu") -> Tensor:
    """GRPB gate per window and token pair: L1 distance between the two tokens' fragment coordinates.

    The fragment grid is (1, Wh, Ww) nearest-interpolated onto the padded token grid, rolled like the features and
    window-partitioned (DOVER swin_backbone.py ``global_position_index``). 0 means "same fragment".
    """
    axes = (torch.arange(1, device=device), torch.arange(win[1], device=device), torch.arange(win[2], device=device))
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"))
    coords = F.interpolate(grid[None].float(), size=padded, mode="nearest").permute(0, 2, 3, 4, 1)
    coords = torch.roll(coords, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
    windows = _partition(coords, win)  # nW, N, 3
    return sum((windows[:, None, :, i] - windows[:, :, None, i]).abs() for i in range(3))  # nW, N, N


def shift_mask(padded: tuple[int, int, int], win: tuple[int, ...], shift: tuple[int, ...],
               device: torch.device | str = "cpu") -> Tensor:
    """Attention mask (nW, N, N) of a cyclically shifted window: -100 between tokens of different regions."""
    label = torch.zeros(padded, device=device)
    count = 0
    regions = [(slice(-w), slice(-w, -s), slice(-s, None)) for w, s in zip(win, shift, strict=True)]
    for d in regions[0]:
        for h in regions[1]:
            for w in regions[2]:
                label[d, h, w] = count
                count += 1
    windows = _partition(label[None, ..., None], win).squeeze(-1)  # nW, N
    diff = windows[:, None, :] - windows[:, :, None]
    return torch.where(diff != 0, -100.0, 0.0)


@functools.lru_cache(maxsize=8)
def _window_tables(padded: tuple[int, ...], win: tuple[int, ...], shift: tuple[int, ...],
                   device: torch.device) -> tuple[Tensor, Tensor | None]:
    """A stage's GRPB gate (uint8: small integer distances) and shift mask, kept across clips on the fused path
    (DOVER's views have fixed sizes, so a handful of entries); the literal path builds them on every call, as the
    authors' code does."""
    mask = shift_mask(padded, win, shift, device) if any(shift) else None
    return fragment_gate(padded, win, shift, device).to(torch.uint8), mask


class WindowAttention3D(nn.Module):
    """Window self-attention with relative position bias and, in stages 0-2, the fragment bias of GRPB.

    ``fused`` (the default) computes the attention with ``scaled_dot_product_attention``; ``False`` runs the authors'
    operations one by one (logits, bias and mask additions, softmax), as the bench's anchor does."""

    fused = True

    def __init__(self, dim: int, heads: int, frag_bias: bool) -> None:
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        table = math.prod(2 * w - 1 for w in WINDOW)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(table, heads))
        if frag_bias:
            self.fragment_position_bias_table = nn.Parameter(torch.zeros(table, heads))
        self.register_buffer("relative_position_index", relative_position_index(WINDOW))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def _bias(self, table: Tensor, n: int) -> Tensor:
        # The released code slices the flat index [:N, :N] when a window shrinks; reproduced as is.
        index = self.relative_position_index[:n, :n].reshape(-1)
        return table[index].reshape(n, n, -1).permute(2, 0, 1)  # heads, N, N

    def forward(self, x: Tensor, gate: Tensor, mask: Tensor | None) -> Tensor:
        bw, n, c = x.shape
        q, k, v = self.qkv(x).reshape(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        windows = gate.shape[0]
        if self.fused:
            return self.proj(self._fused(q, k, v, gate, mask).reshape(bw, n, c))
        bias = self._bias(self.relative_position_bias_table, n)[None]  # 1, heads, N, N
        if hasattr(self, "fragment_position_bias_table"):
            # Literal GRPB: rpb * gate + fpb * (1 - gate); for gate = 2 this is 2 rpb - fpb (DOVER code behaviour).
            g = gate[:, None].to(bias.dtype)
            bias = bias * g + self._bias(self.fragment_position_bias_table, n)[None] * (1 - g)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.view(bw // windows, windows, self.heads, n, n) + bias[None]
        if mask is not None:
            attn = attn + mask[None, :, None]
        attn = attn.view(-1, self.heads, n, n).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(bw, n, c))

    def _fused(self, q: Tensor, k: Tensor, v: Tensor, gate: Tensor, mask: Tensor | None) -> Tensor:
        """softmax(q k^T scale + bias + mask) v, as (B windows, N, heads, head dim), by
        `scaled_dot_product_attention`, one clip's windows a call: the (windows, heads, N, N) bias is added inside
        the kernel, block by block, instead of materialising every clip's logits (3 x 128 windows x 3 heads x
        392^2 floats in stage 0). GRPB's rpb g + fpb (1 - g) is ``lerp(fpb, rpb, g)``: the same value for g = 0
        and 1, one more rounding for larger g (up to 12 in shifted windows)."""
        windows, n = gate.shape[0], q.shape[2]
        bias = self._bias(self.relative_position_bias_table, n).contiguous()[None]  # 1, heads, N, N
        if hasattr(self, "fragment_position_bias_table"):
            fpb = self._bias(self.fragment_position_bias_table, n).contiguous()[None]
            bias = torch.lerp(fpb, bias, gate[:, None].to(bias.dtype))
        if mask is not None:
            bias = bias + mask[:, None]
        bias = bias.to(q.dtype)
        # (windows, N, heads, head dim) per clip: the layout the CPU kernel writes, so joining them is one copy
        return torch.cat([F.scaled_dot_product_attention(q[i : i + windows], k[i : i + windows], v[i : i + windows],
                                                         attn_mask=bias, scale=self.scale).transpose(1, 2)
                          for i in range(0, q.shape[0], windows)])


class Mlp(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwinBlock3D(nn.Module):
    """Pre-norm (shifted-)window attention block over (B, D, H, W, C) features."""

    def __init__(self, dim: int, heads: int, shift: tuple[int, int, int], frag_bias: bool) -> None:
        super().__init__()
        self.shift = shift
        self.norm1, self.attn = nn.LayerNorm(dim), WindowAttention3D(dim, heads, frag_bias)
        self.norm2, self.mlp = nn.LayerNorm(dim), Mlp(dim)

    def forward(self, x: Tensor, cache: dict[tuple, tuple[Tensor, Tensor | None]]) -> Tensor:
        b, d, h, w, _ = x.shape
        win, shift = _effective_window((d, h, w), self.shift)
        pads = [(-s) % ws for s, ws in zip((d, h, w), win, strict=True)]
        y = F.pad(self.norm1(x), (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
        padded = tuple(y.shape[1:4])
        key = (padded, win, shift)
        if key not in cache:
            tables = _window_tables if self.attn.fused else _window_tables.__wrapped__
            cache[key] = tables(padded, win, shift, x.device)
        gate, mask = cache[key]
        if any(shift):
            y = torch.roll(y, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
        y = _unpartition(self.attn(_partition(y, win), gate, mask), win, b, *padded)
        if any(shift):
            y = torch.roll(y, shifts=shift, dims=(1, 2, 3))
        x = x + y[:, :d, :h, :w]
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """2x2 spatial token merge (time untouched): LayerNorm(4C) then Linear(4C -> 2C, no bias)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm, self.reduction = nn.LayerNorm(4 * dim), nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, (0, 0, 0, x.shape[3] % 2, 0, x.shape[2] % 2))
        parts = [x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2]]
        return self.reduction(self.norm(torch.cat(parts, -1)))


class SwinStage(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, frag_bias: bool, downsample: bool) -> None:
        super().__init__()
        half = tuple(w // 2 for w in WINDOW)
        self.blocks = nn.ModuleList(
            SwinBlock3D(dim, heads, (0, 0, 0) if i % 2 == 0 else half, frag_bias) for i in range(depth)
        )
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(self, x: Tensor) -> Tensor:
        cache: dict[tuple, tuple[Tensor, Tensor | None]] = {}
        for block in self.blocks:
            x = block(x, cache)
        return self.downsample(x) if self.downsample is not None else x


class PatchEmbed3D(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj, self.norm = nn.Conv3d(3, dim, kernel_size=PATCH, stride=PATCH), nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        d, h, w = x.shape[2:]
        x = F.pad(x, (0, (-w) % PATCH[2], 0, (-h) % PATCH[1], 0, (-d) % PATCH[0]))
        return self.norm(self.proj(x).permute(0, 2, 3, 4, 1))  # B, D, H, W, C


class SwinTransformer3D(nn.Module):
    """Technical backbone: (N, 3, T, H, W) normalised fragments -> (N, 8C, T/2, H/32, W/32) feature map."""

    def __init__(self, dim: int = 96, depths: tuple[int, ...] = (2, 2, 6, 2), heads: tuple[int, ...] = (3, 6, 12, 24),
                 frag_biases: tuple[bool, ...] = (True, True, True, False)) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed3D(dim)
        last = len(depths) - 1
        self.layers = nn.ModuleList(
            SwinStage(dim * 2**i, depths[i], heads[i], frag_biases[i], i < last) for i in range(len(depths))
        )
        self.norm = nn.LayerNorm(dim * 2**last)

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x).permute(0, 4, 1, 2, 3)


class LayerNormChannelsFirst(nn.Module):
    """LayerNorm over dim 1 of (N, C, T, H, W): biased variance, eps inside the square root (ConvNeXt)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(dim)), nn.Parameter(torch.zeros(dim)), eps

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None, None] * x + self.bias[:, None, None, None]


class ConvNeXtBlock3D(nn.Module):
    """Depthwise (t, 7, 7) conv, channels-last LayerNorm, 4x MLP with GELU, layer scale ``gamma``, residual."""

    def __init__(self, dim: int, t: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv3d(dim, dim, kernel_size=(t, 7, 7), padding=(t // 2, 3, 3), groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1, self.act, self.pwconv2 = nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: Tensor) -> Tensor:
        y = self.norm(self.dwconv(x).permute(0, 2, 3, 4, 1))
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(y)))
        return x + y.permute(0, 4, 1, 2, 3)


class ConvNeXt3D(nn.Module):
    """Aesthetic backbone: ConvNeXt-T inflated to 3D; temporal kernel of block j is '131'[j % 3]."""

    def __init__(self, depths: tuple[int, ...] = (3, 3, 9, 3), dims: tuple[int, ...] = (96, 192, 384, 768)) -> None:
        super().__init__()
        stem = nn.Sequential(nn.Conv3d(3, dims[0], kernel_size=(2, 4, 4), stride=(2, 4, 4)),
                             LayerNormChannelsFirst(dims[0]))
        downs = [nn.Sequential(LayerNormChannelsFirst(dims[i]),
                               nn.Conv3d(dims[i], dims[i + 1], kernel_size=(1, 2, 2), stride=(1, 2, 2)))
                 for i in range(len(dims) - 1)]
        self.downsample_layers = nn.ModuleList([stem, *downs])
        self.stages = nn.ModuleList(
            nn.Sequential(*(ConvNeXtBlock3D(dims[i], int("131"[j % 3])) for j in range(depths[i])))
            for i in range(len(depths))
        )
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        for down, stage in zip(self.downsample_layers, self.stages, strict=True):
            x = stage(down(x))
        return self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


class VQAHead(nn.Module):
    """Per-position score: Conv3d 1x1x1 (C -> hidden), GELU, Conv3d 1x1x1 (hidden -> 1); no pooling."""

    def __init__(self, in_channels: int = 768, hidden: int = 64) -> None:
        super().__init__()
        self.fc_hid, self.gelu, self.fc_last = nn.Conv3d(in_channels, hidden, 1), nn.GELU(), nn.Conv3d(hidden, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc_last(self.gelu(self.fc_hid(x)))


class DOVER(nn.Module):
    """The four modules of the released model; ``forward`` returns the two per-position score maps."""

    def __init__(self, technical_backbone: nn.Module, aesthetic_backbone: nn.Module,
                 technical_head: nn.Module, aesthetic_head: nn.Module) -> None:
        super().__init__()
        self.technical_backbone, self.aesthetic_backbone = technical_backbone, aesthetic_backbone
        self.technical_head, self.aesthetic_head = technical_head, aesthetic_head

    def forward(self, technical: Tensor, aesthetic: Tensor) -> tuple[Tensor, Tensor]:
        return (self.technical_head(self.technical_backbone(technical)),
                self.aesthetic_head(self.aesthetic_backbone(aesthetic)))


def build_dover(*, embed_dim: int = 96, depths: tuple[int, ...] = (2, 2, 6, 2),
                heads: tuple[int, ...] = (3, 6, 12, 24), conv_depths: tuple[int, ...] = (3, 3, 9, 3),
                conv_dims: tuple[int, ...] = (96, 192, 384, 768), head_hidden: int = 64) -> DOVER:
    """DOVER with random weights, in eval mode. The defaults are the released model; smaller sizes are for tests."""
    if len(depths) != len(heads) or len(conv_depths) != len(conv_dims):
        raise ValueError(f"stage lists differ in length: depths={depths}, heads={heads}, "
                         f"conv_depths={conv_depths}, conv_dims={conv_dims}")
    frag_biases = tuple(i < len(depths) - 1 for i in range(len(depths)))  # GRPB in all stages but the last
    tech = SwinTransformer3D(embed_dim, depths, heads, frag_biases)
    aes = ConvNeXt3D(conv_depths, conv_dims)
    model = DOVER(tech, aes, VQAHead(embed_dim * 2 ** (len(depths) - 1), head_hidden),
                  VQAHead(conv_dims[-1], head_hidden))
    return model.eval()


def load_dover(path: str | Path, device: str | torch.device = "cpu") -> DOVER:
    """The released DOVER from a flat state dict (``DOVER.pth``), loaded strictly with ``weights_only=True``.

    Fine-tuned checkpoints written by DOVER's training scripts wrap the weights as ``{"state_dict": ...}``; that
    wrapper is unwrapped. Missing/unexpected keys and shape mismatches raise ``ValueError`` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"DOVER weights not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{path} cannot be read as a plain tensor state dict (weights_only=True): {e}") from e
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds a {type(state).__name__}, expected a DOVER state dict")
    model = build_dover()
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k}: expected {tuple(expected[k].shape)}, found {tuple(state[k].shape)}"
             for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        raise ValueError(f"{path} is not a DOVER checkpoint: {len(missing)} missing keys {missing[:5]}, "
                         f"{len(unexpected)} unexpected keys {unexpected[:5]}, shape mismatches {wrong[:5]}")
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def fuse_dover(technical_raw: float, aesthetic_raw: float) -> dict[str, float]:
    """Rescaled scores of ``evaluate_a_set_of_videos.py`` (post 2023-08-11 constants).

    ``tech100`` = 100 sigmoid((T - 0.1107) / 0.07355) is the number SeedVR2 and FlashVSR report as "DOVER";
    ``aes100`` = 100 sigmoid((A + 0.08285) / 0.03774); ``overall`` = sigmoid(0.6104 t + 0.3896 a) in [0, 1].
    """
    t = (technical_raw - TECH_MEAN) / TECH_STD
    a = (aesthetic_raw - AES_MEAN) / AES_STD
    return {
        "tech100": 100.0 * _sigmoid(t),
        "aes100": 100.0 * _sigmoid(a),
        "overall": _sigmoid(TECH_WEIGHT * t + AES_WEIGHT * a),
    }


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def dover_scores(model: DOVER, frames: Tensor, seed: int = 0, *, antialias: bool = True,
                 fused: bool = True) -> dict[str, float]:
    """Score one clip ``(T, 3, H, W)`` (float in [0, 1] or uint8): raw branch means plus the rescaled scores.

    Returns ``technical_raw``, ``aesthetic_raw`` (mean head output over every position and clip, as the official
    scripts average them), ``tech100``, ``aes100`` and ``overall`` (see :func:`fuse_dover`). Views are sampled with
    ``seed`` (see :func:`vrbench.metrics.dover_views.dover_views`), so the score is deterministic. ``fused=False``
    runs the window attention as the authors' code does, op by op (see :class:`WindowAttention3D`).
    """
    views = dover_views(frames, seed, antialias=antialias)
    param = next(model.parameters())
    was_training = model.training
    attention = [m for m in model.modules() if isinstance(m, WindowAttention3D)]
    modes = [m.fused for m in attention]
    model.eval()
    try:
        for m in attention:
            m.fused = fused
        aesthetic = views["aesthetic"].to(param.device, param.dtype)
        if fused and aesthetic.device.type == "cpu":  # ConvNeXt's blocks work channels-last: no copies between them
            aesthetic = aesthetic.contiguous(memory_format=torch.channels_last_3d)
        with torch.inference_mode():
            tech_map, aes_map = model(views["technical"].to(param.device, param.dtype), aesthetic)
    finally:
        model.train(was_training)
        for m, mode in zip(attention, modes, strict=True):
            m.fused = mode
    raw = {"technical_raw": tech_map.double().mean().item(), "aesthetic_raw": aes_map.double().mean().item()}
    return {**raw, **fuse_dover(raw["technical_raw"], raw["aesthetic_raw"])}
