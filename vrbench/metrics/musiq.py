"""MUSIQ (Ke et al., ICCV 2021, arXiv 2108.05997) on pyiqa's network and KonIQ-10k weights, evaluated by a forward
pass of our own that computes what pyiqa's `MUSIQ.forward` computes (pyiqa 0.1.16 `archs/musiq_arch.py` and
`data/multiscale_trans_util.py`), with less work:

- patches are cut by reshaping the padded image (pyiqa unfolds it and concatenates positions, scale and mask onto
  every patch, then splits them off again);
- the padding tokens pyiqa appends to each resized scale are never built: pyiqa masks them out of every valid
  token's attention (see `attention`), so the class token, the only one scored, does not depend on them;
- one fused query/key/value projection and `scaled_dot_product_attention` instead of an explicit softmax over an
  N x N matrix; the last block runs its query, attention and MLP for the class token only;
- the convolutions' weights standardised once per call, the 1x1 convolutions as batched matrix products, the
  root's max-pool separable, and on a CPU the ResNet part run over slices of patches (see `embed_patches`).

Values agree with pyiqa's network to float32 rounding (tests/metrics/test_musiq_fast.py).
"""

from __future__ import annotations

import math
from typing import Any

from vrbench.metrics.learned import PyiqaMetric

# pyiqa replaces the attention logit of a masked (query, key) pair by -1e3 (`masked_fill`, before the softmax). A
# valid query's masked keys then weigh exp(-1e3 - m) with m its largest valid logit; whenever every valid logit
# exceeds -1e3 + 200 that is exp(< -200) = 0 in float32 (smallest subnormal 1.4e-45 = exp(-103.3)), so a masked
# key adds exactly nothing (its value being finite), and by induction over the blocks no valid token, the class
# token included, ever depends on a padding token. |logit| <= scale * |q| * |k| (Cauchy-Schwarz) bounds every
# logit cheaply; frames whose bound exceeds LOGIT_BOUND in some block are scored by pyiqa's own network instead.
MASKED_LOGIT = -1e3
LOGIT_BOUND = -MASKED_LOGIT - 200.0
# Patches a slice on a CPU: 256 keeps each intermediate under 17 MB (2-core CPU, one 720p frame, one thread, CPU
# seconds of `musiq_scores`: 0.95-1.03 at 128 or 256 patches a slice, 1.15-1.21 at 512 or all 1032 at once).
CPU_PATCHES = 256


def _std_weight(conv: Any) -> Any:
    """The weight standardisation of pyiqa's `StdConv` (Qiao et al., arXiv 1903.10520): per output channel, zero
    mean and unit (unbiased) standard deviation plus 1e-5."""
    w = conv.weight
    w = w - w.mean((1, 2, 3), keepdim=True)
    return w / (w.std((1, 2, 3), keepdim=True) + 1e-5)


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) of one axis."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _hashed_positions(grid: int, count_h: int, count_w: int, device: Any) -> Any:
    """Hash-based spatial position of each patch of a count_h x count_w grid on a grid x grid table (MUSIQ
    Sec. 3.2), with the nearest-neighbour index rule of `F.interpolate(mode='nearest')` that pyiqa uses."""
    import torch
    import torch.nn.functional as F

    table = torch.arange(grid, dtype=torch.float32).reshape(1, 1, grid)
    rows = F.interpolate(table, count_h, mode="nearest").reshape(count_h, 1)
    cols = F.interpolate(table, count_w, mode="nearest").reshape(1, count_w)
    return (rows * grid + cols).reshape(-1).long().to(device)


def _scale_patches(img: Any, patch: int, grid: int, max_len: int) -> tuple[Any, Any]:
    """(B, T, 3, patch, patch) non-overlapping patches of one scale, row-major after TF 'SAME' zero padding, and
    their hashed positions (T,). `max_len` >= 0 keeps the first `max_len` (pyiqa cuts there and pads short scales
    with masked zero patches, which are left out here); < 0 keeps all."""
    import torch.nn.functional as F

    b, c, h, w = img.shape
    top, bottom = _same_pad(h, patch, patch)
    left, right = _same_pad(w, patch, patch)
    img = F.pad(img, (left, right, top, bottom))
    gh, gw = img.shape[-2] // patch, img.shape[-1] // patch
    p = img.reshape(b, c, gh, patch, gw, patch).permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, c, patch, patch)
    pos = _hashed_positions(grid, gh, gw, img.device)
    if max_len >= 0:
        p, pos = p[:, :max_len], pos[:max_len]
    return p, pos


def multiscale_patches(x: Any, opts: dict[str, Any]) -> tuple[Any, Any, Any, bool]:
    """The valid tokens of pyiqa's `get_multiscale_patches` for frames x in [-1, 1]: patches (B, N, 3, P, P),
    hashed positions (N,), scale ids (N,), and whether pyiqa would have appended masked padding tokens."""
    import torch
    import torch.nn.functional as F

    patch, grid = opts["patch_size"], opts["hse_grid_size"]
    if opts["patch_stride"] != patch:
        raise ValueError(f"MUSIQ fast path: patch stride {opts['patch_stride']} != patch size {patch}")
    h, w = x.shape[-2:]
    scales = []  # (image, max_len); resized scales first, shortest longer side first, as pyiqa orders them
    for longer in sorted(opts["longer_side_lengths"]):
        ratio = longer / max(h, w)
        size = (round(h * ratio), round(w * ratio))
        scales.append((F.interpolate(x, size, mode="bicubic", align_corners=False), math.ceil(longer / patch) ** 2))
    if opts["max_seq_len_from_original_res"] is not None:
        scales.append((x, opts["max_seq_len_from_original_res"]))
    patches, positions, scale_ids, padded = [], [], [], False
    for sid, (img, max_len) in enumerate(scales):
        p, pos = _scale_patches(img, patch, grid, max_len)
        padded |= p.shape[1] < max_len
        patches.append(p)
        positions.append(pos)
        scale_ids.append(torch.full_like(pos, sid))
    return torch.cat(patches, 1), torch.cat(positions), torch.cat(scale_ids), padded


def _group_norm(x: Any, gn: Any) -> Any:
    import torch.nn.functional as F

    return F.group_norm(x, gn.num_groups, gn.weight, gn.bias, gn.eps)


def _std_weights(net: Any) -> dict[str, Any]:
    """Standardised weights of the root and bottleneck convolutions, computed once per call."""
    blk = net.block1
    convs = {"root": net.conv_root, "proj": blk.conv_proj, "conv1": blk.conv1, "conv2": blk.conv2, "conv3": blk.conv3}
    return {name: _std_weight(conv) for name, conv in convs.items()}


def _max_pool_same(x: Any) -> Any:
    """pyiqa's root pooling, 3x3 max / 2 after TF 'SAME' zero padding (0, 1) of an even size, on x >= 0 (it
    follows a ReLU), one axis at a time: window i holds samples 2i, 2i+1 and 2i+2; the last window's third sample
    is the zero padding, which cannot raise a maximum of values >= 0. (`max_pool2d` on contiguous CPU tensors
    took several times longer.)"""
    import torch

    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"MUSIQ fast path: odd feature size {tuple(x.shape[-2:])}, pyiqa's patches give even ones")
    out = torch.maximum(x[..., 0::2], x[..., 1::2])
    out[..., :-1] = torch.maximum(out[..., :-1], x[..., 2::2])
    x = out
    out = torch.maximum(x[..., 0::2, :], x[..., 1::2, :])
    out[..., :-1, :] = torch.maximum(out[..., :-1, :], x[..., 2::2, :])
    return out


def _conv1x1(x: Any, w: Any) -> Any:
    """A 1x1 convolution without bias of contiguous (M, C, H, W) features as one batched matrix product (on a CPU
    several times faster than `conv2d` in this layout)."""
    import torch

    m, c, h, wd = x.shape
    return torch.matmul(w.reshape(len(w), c), x.reshape(m, c, h * wd)).reshape(m, len(w), h, wd)


def patch_features(net: Any, patches: Any, w: dict[str, Any]) -> Any:
    """pyiqa's ResNet root and bottleneck on (M, 3, P, P) patches with standardised weights `w`, flattened in
    (c, h, w) order: (M, 256 * (P/4)^2). All in the contiguous layout, the one pyiqa's group norms
    run in: the CPU's channels-last group norm loses digits where a group's mean is large against its spread
    (torch 2.14, groups of mean 1 and spread 0.01: max error 5e-2 channels-last, 6e-5 contiguous)."""
    import torch
    import torch.nn.functional as F

    before, after = _same_pad(patches.shape[-1], 7, 2)
    x = F.conv2d(F.pad(patches, (before, after, before, after)), w["root"], None, 2)
    x = _max_pool_same(torch.relu_(_group_norm(x, net.gn_root)))
    blk = net.block1
    identity = _group_norm(_conv1x1(x, w["proj"]), blk.gn_proj)
    y = torch.relu_(_group_norm(_conv1x1(x, w["conv1"]), blk.gn1))
    y = torch.relu_(_group_norm(F.conv2d(y, w["conv2"], padding=1), blk.gn2))
    y = _group_norm(_conv1x1(y, w["conv3"]), blk.gn3)
    return torch.relu_(y.add_(identity)).reshape(len(y), -1)


def embed_patches(net: Any, patches: Any) -> Any:
    """Token embeddings (M, C) of (M, 3, P, P) patches. On a CPU in slices of `CPU_PATCHES` patches: the slices'
    intermediates stay small enough (17 MB, not 67 MB at 720p) to be reused by the allocator and to stay in cache
    (measurements at `CPU_PATCHES`). Other devices take all patches at once."""
    import torch
    import torch.nn.functional as F

    w = _std_weights(net)
    # pyiqa flattens the features in TensorFlow's (h, w, c) order; the embedding's columns are put in the (c, h, w)
    # order of contiguous features instead, once a call, rather than every patch's features transposed.
    side, channels, emb = patches.shape[-1] // 4, net.block1.conv3.out_channels, net.embedding
    weight = emb.weight.reshape(-1, side, side, channels).permute(0, 3, 1, 2).reshape(len(emb.weight), -1)
    step = CPU_PATCHES if patches.device.type == "cpu" else len(patches)
    parts = [F.linear(patch_features(net, patches[i : i + step], w), weight, emb.bias)
             for i in range(0, len(patches), step)]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _layer_norm(x: Any, ln: Any) -> Any:
    import torch.nn.functional as F

    return F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)


def _bias(*layers: Any) -> Any:
    import torch

    return None if layers[0].bias is None else torch.cat([m.bias for m in layers])


def attention(att: Any, y: Any, query_rows: int | None, check: bool) -> tuple[Any, Any]:
    """pyiqa's `MultiHeadAttention` on the valid tokens y (B, N, C) for the first `query_rows` queries (all when
    None), and per frame whether every logit is within +-LOGIT_BOUND (None unless `check`)."""
    import torch
    import torch.nn.functional as F

    b, n, c = y.shape
    h = att.num_heads
    if query_rows is None:
        w = torch.cat([att.query.weight, att.key.weight, att.value.weight])
        qkv = F.linear(y, w, _bias(att.query, att.key, att.value)).reshape(b, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        largest = qkv[:2].norm(dim=-1).amax(-1) if check else None  # (2, B, heads): one pass for q and k
    else:
        q = F.linear(y[:, :query_rows], att.query.weight, att.query.bias)
        q = q.reshape(b, query_rows, h, c // h).transpose(1, 2)
        kv = F.linear(y, torch.cat([att.key.weight, att.value.weight]), _bias(att.key, att.value))
        k, v = kv.reshape(b, n, 2, h, c // h).permute(2, 0, 3, 1, 4).unbind(0)
        largest = torch.stack([q.norm(dim=-1).amax(-1), k.norm(dim=-1).amax(-1)]) if check else None
    ok = None if largest is None else (largest[0] * largest[1] * att.scale <= LOGIT_BOUND).all(-1)
    o = F.scaled_dot_product_attention(q, k, v, scale=att.scale)
    return F.linear(o.transpose(1, 2).reshape(b, -1, c), att.out.weight, att.out.bias), ok


def encode(enc: Any, x: Any, positions: Any, scales: Any, check: bool) -> tuple[Any, Any]:
    """pyiqa's `TransformerEncoder` on the valid tokens x (B, N, C); returns the normalised class token (B, C) and
    per frame whether the padding pyiqa would have masked provably changes nothing (None unless `check`)."""
    import torch
    import torch.nn.functional as F

    x = x + enc.posembed_input.position_emb[0][positions]
    if enc.use_scale_emb:
        x = x + enc.scaleembed_input.scale_emb[scales]
    x = torch.cat([enc.cls.expand(len(x), -1, -1).to(x.dtype), x], 1)
    blocks = list(enc.transformer.values())
    ok = None
    for i, blk in enumerate(blocks):
        rows = 1 if i == len(blocks) - 1 else None  # only the class token leaves the last block
        y, block_ok = attention(blk.attention, _layer_norm(x, blk.norm1), rows, check)
        ok = block_ok if ok is None else ok & block_ok
        x = x[:, :1] + y if rows else x.add_(y)
        mlp = blk.mlp
        hidden = mlp.act(F.linear(_layer_norm(x, blk.norm2), mlp.fc1.weight, mlp.fc1.bias))
        x = x.add_(F.linear(hidden, mlp.fc2.weight, mlp.fc2.bias))
    return _layer_norm(x[:, 0], enc.encoder_norm), ok


def musiq_scores(net: Any, frames: Any) -> tuple[Any, Any]:
    """pyiqa's `MUSIQ.forward` (eval mode, one crop) on RGB frames (B, 3, H, W) in [0, 1]: the mean opinion score
    per frame, and per frame whether it is provably pyiqa's value (None when pyiqa would mask nothing)."""
    import torch

    patches, positions, scales, padded = multiscale_patches((frames - 0.5) * 2, net.data_preprocess_opts)
    b, n = patches.shape[:2]
    tokens = embed_patches(net, patches.reshape(b * n, *patches.shape[2:])).reshape(b, n, -1)
    cls, ok = encode(net.transformer_encoder, tokens, positions, scales, padded)
    dist = net.head(cls)
    mos = (dist * torch.arange(1, dist.shape[-1] + 1, device=dist.device, dtype=dist.dtype)).sum(-1)
    return mos, ok


class MusiqMetric(PyiqaMetric):
    """pyiqa's MUSIQ network and weights (`self.model`), scored by `musiq_scores`; a frame whose attention logits
    are too large for the masking argument is scored by pyiqa's own forward pass."""

    def compute(self, out, gt, ref=None):
        import torch

        net = self.model.net
        with torch.inference_mode():
            mos, ok = musiq_scores(net, out)
            if ok is not None and not bool(ok.all()):
                for i in torch.nonzero(~ok).reshape(-1).tolist():
                    mos[i] = net(out[i : i + 1]).reshape(())
            return mos.reshape(-1).double()

    def provenance(self) -> dict[str, Any]:
        return {**super().provenance(), "implementation": "vrbench forward pass over pyiqa's MUSIQ network "
                                                          "(padding tokens dropped, fused attention)"}
