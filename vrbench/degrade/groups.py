"""Frames as size groups, and the batched operator of every stage applied to them (the `apply` column of `ops.py`).

A size group is (frame ids, (N, 3, H, W) float32 batch): frames of one size form a batch. Per-frame stages run on
each group; resizes regroup by the new size; a clip-level stage (video compression) gathers every frame it is
given. torch loads on the first call, not on import.
"""

from __future__ import annotations

Groups = list  # [(frame ids, batch), ...]


def gather(groups: Groups, frame_ids: list[int]) -> list:
    """Size groups -> per-frame tensors (3, h, w) in the order of `frame_ids`."""
    by_id = {i: batch[j] for ids, batch in groups for j, i in enumerate(ids)}
    return [by_id[i] for i in frame_ids]


def group_by_size(frames: list, frame_ids: list[int]) -> Groups:
    """Per-frame tensors (3, h, w) -> size groups [(frame ids, batch), ...]."""
    import torch

    by_size: dict[tuple, list[int]] = {}
    for j, frame in enumerate(frames):
        by_size.setdefault(tuple(frame.shape[-2:]), []).append(j)
    return [([frame_ids[j] for j in js], torch.stack([frames[j] for j in js])) for js in by_size.values()]


def map_groups(fn, groups: Groups) -> Groups:
    """[(ids, fn(ids, batch)) for each group], the groups spread over the frame threads (ops_torch.frame_map)."""
    from vrbench.degrade.ops_torch import frame_map

    return frame_map(lambda group: (group[0], fn(*group)), groups)


def map_entries(x, entries: list[dict | None], fn):
    """fn(batch, entries) on the frames whose entry is not None; the others pass through."""
    index = [j for j, e in enumerate(entries) if e is not None]
    if not index:
        return x
    if len(index) == len(entries):
        return fn(x, entries)
    out = x.clone()
    out[index] = fn(x[index], [entries[j] for j in index])
    return out


def per_entry(fn_name: str):
    """The apply of a per-frame stage: the ops_torch operator `fn_name` on each group's frames that have an entry."""

    def apply(groups: Groups, stage: dict) -> Groups:
        from vrbench.degrade import ops_torch

        fn = getattr(ops_torch, fn_name)
        return map_groups(lambda ids, b: map_entries(b, [stage["frames"][i] for i in ids], fn), groups)

    apply.__doc__ = f"ops_torch.{fn_name} on every frame with an entry."
    return apply


def apply_usm(groups: Groups, stage: dict) -> Groups:
    from vrbench.degrade.ops_torch import unsharp_mask

    return map_groups(lambda ids, b: unsharp_mask(b, stage), groups)


def apply_quantize(groups: Groups, stage: dict) -> Groups:
    from vrbench.degrade.ops_torch import quantize

    return map_groups(lambda ids, b: quantize(b), groups)


def apply_subsample(groups: Groups, stage: dict) -> Groups:
    o, s = stage["offset"], stage["step"]
    return [(ids, b[..., o::s, o::s]) for ids, b in groups]


def apply_nothing(groups: Groups, stage: dict) -> Groups:
    """Markers (shuffle): the stages they order follow them in the manifest."""
    return groups


def apply_resize(groups: Groups, stage: dict) -> Groups:
    """Resize every frame to its entry's size (frames sharing size and mode in one call) and regroup by size."""
    import torch

    from vrbench.degrade.ops_torch import frame_map, resize

    entries = stage["frames"]
    parts = []  # (frame ids, batch, key), key None where the frames keep their size
    for ids, batch in groups:
        size = tuple(batch.shape[-2:])
        # None: the frame keeps its size (no entry, or an entry for its own size: every mode is then the identity)
        keys = [None if e is None or (e["height"], e["width"]) == size else (e["mode"], e["height"], e["width"])
                for e in (entries[i] for i in ids)]
        for key in dict.fromkeys(keys):
            index = [j for j, k in enumerate(keys) if k == key]
            consecutive = index == list(range(index[0], index[-1] + 1))  # then a view, not a copy
            parts.append(([ids[j] for j in index], batch[index[0] : index[-1] + 1] if consecutive else batch[index],
                          key))
    resized = frame_map(lambda p: p[1] if p[2] is None else resize(p[1], p[2][1], p[2][2], p[2][0]), parts)
    pieces: dict[tuple[int, int], list] = {}
    for (part_ids, _, _), part in zip(parts, resized, strict=True):
        pieces.setdefault(tuple(part.shape[-2:]), []).append((part_ids, part))
    regrouped = []
    for parts in pieces.values():
        if len(parts) == 1:
            regrouped.append(parts[0])
            continue
        frames = {i: part[j] for part_ids, part in parts for j, i in enumerate(part_ids)}
        regrouped.append((sorted(frames), torch.stack([frames[i] for i in sorted(frames)])))  # one copy
    return regrouped


def apply_video(groups: Groups, stage: dict) -> Groups:
    """Compress the frames given as one clip (all one size; the sampler adds an aligning resize before)."""
    from vrbench.degrade import ops_torch as ops
    from vrbench.degrade.codec import codec_arguments, compress_video
    from vrbench.errors import InputError

    ids = sorted(i for group_ids, _ in groups for i in group_ids)
    frames = gather(groups, ids)
    sizes = {tuple(f.shape[-2:]) for f in frames}
    if len(sizes) != 1:
        raise InputError("video compression needs frames of one size", expected="one size", found=sorted(sizes),
                         hint="manifest stages must resize frames to frame 0's size before a video stage")
    decoded = compress_video(ops.to_uint8_hwc(frames), *codec_arguments(stage))
    return [(ids, ops.from_uint8(decoded, frames[0].device))]
