"""The on-disk layouts benchmark sets circulate in, and the detector that finds one inside a folder.

Each layout maps a folder to {clip name -> GT path} and {clip name -> LQ path} (frame folders or video files):

- `canonical`: `GT/<clip>/`, `LQ/<clip>/` (what `vrbench datasets prepare` writes);
- `dove`: DOVE's release, `GT/`, `LQ/` frame folders plus `GT-Video/`, `LQ-Video/` lossless MKV copies
  [zhengchen1999/DOVE datasets/README.md]; frame folders win, a video fills in a clip that has no frames;
- `mmagic`: `GT/`, `BIx4/`, `BDx4/` [open-mmlab/mmagic tools/dataset_converters/{spmcs,udm10}];
- `spmc`: per clip `truth/` and `input4/` (SPMCS, `Frame 001.png`) [jiangsutx/SPMC_VideoSR] or `blur4/`
  (PFNL's UDM10) [psychopa4/PFNL model/base_model.py];
- `reds`: `<split>_sharp/<clip>/00000000.png` and `<split>_sharp_bicubic/X4/<clip>/` [REDS site; BasicSR
  regroup_reds_dataset.py]; which split and clips make the set comes from the card's `layout_options.reds`;
- `flat`: `<clip>/00000000.png` folders or `<clip>.mp4` videos (VideoLQ, Vivid-VR's UGC50/AIGC50); they are GT
  when the card requires GT, LQ otherwise.

LQ variants: `BIx<s>` (bicubic) and `BDx<s>` (blur-downsample) name the same thing in every layout that has both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vrbench.errors import InputError
from vrbench.video import CONTAINER_EXTENSIONS, FRAME_EXTENSIONS, natural_key

IGNORED_NAMES = {"__MACOSX", ".DS_Store", "Thumbs.db", "manifest.json"}
MAX_DEPTH = 4  # how far below the given folder a set may sit inside an unpacked download


@dataclass
class Found:
    """A layout detected at `root`: clip name -> GT / LQ path, plus what was noticed on the way."""

    layout: str
    root: Path
    gt: dict[str, Path] = field(default_factory=dict)
    lq: dict[str, Path] = field(default_factory=dict)
    lq_variant: str = ""
    notes: list[str] = field(default_factory=list)
    ignored: list[Path] = field(default_factory=list)  # entries the layout does not explain
    origin: dict[str, str] = field(default_factory=dict)  # clip -> its name in the source, when renamed


def _visible(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    items = [p for p in folder.iterdir() if not p.name.startswith(".") and p.name not in IGNORED_NAMES]
    return sorted(items, key=lambda p: natural_key(p.name))


def _has_frames(folder: Path) -> bool:
    return any(p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS for p in _visible(folder))


def clip_entries(folder: Path) -> tuple[dict[str, Path], list[Path]]:
    """Clip name -> frame folder or video file inside `folder`, and the entries that are neither."""
    entries: dict[str, Path] = {}
    other: list[Path] = []
    for p in _visible(folder):
        if p.is_dir():
            entries[p.name] = p
        elif p.suffix.lower() in CONTAINER_EXTENSIONS:
            entries[p.stem] = p
        else:
            other.append(p)
    return entries, other


def _side_notes(root: Path, names: tuple[str, ...]) -> list[Path]:
    """Top-level entries of `root` outside `names` that are not documentation or meta-info files."""
    keep = {n.lower() for n in names}
    return [p for p in _visible(root) if p.name.lower() not in keep and not p.name.lower().startswith(
        ("meta_info", "readme", "license", "licence")) and p.suffix.lower() not in (".txt", ".md", ".json")]


def variant_of(lq_variant: str, scale: int) -> str:
    """Normalise a requested variant: '' -> '' (layout default); 'bix4' -> 'BIx4'; 'LQ' stays."""
    v = lq_variant.strip()
    return v[:2].upper() + v[2:] if v[:2].lower() in ("bi", "bd") else v


# ---- detectors -------------------------------------------------------------------------------------------------
def detect_canonical(root: Path, card: Any, variant: str) -> Found | None:
    if not ((root / "GT").is_dir() or (root / "LQ").is_dir()):
        return None
    found = Found("canonical", root)
    found.gt, other_gt = clip_entries(root / "GT")
    found.lq, other_lq = clip_entries(root / "LQ")
    found.ignored = other_gt + other_lq + _side_notes(root, ("GT", "LQ"))
    return found


def detect_dove(root: Path, card: Any, variant: str) -> Found | None:
    if not ((root / "GT-Video").is_dir() or (root / "LQ-Video").is_dir()):
        return None
    found = Found("dove", root)
    for side in ("GT", "LQ"):
        frames, other = clip_entries(root / side)
        videos, other_v = clip_entries(root / f"{side}-Video")
        merged = {**{k: v for k, v in videos.items() if v.is_file()}, **frames}
        setattr(found, side.lower(), dict(sorted(merged.items(), key=lambda kv: natural_key(kv[0]))))
        found.ignored += other + other_v
        if frames and videos:
            found.notes.append(f"{side}-Video/ duplicates {side}/: frame folders used, videos only where a clip "
                               "has no frame folder")
    found.ignored += _side_notes(root, ("GT", "LQ", "GT-Video", "LQ-Video"))
    return found


def detect_mmagic(root: Path, card: Any, variant: str) -> Found | None:
    s = card.scale
    offered = [v for v in (f"BIx{s}", f"BDx{s}") if (root / v).is_dir()]
    if not offered:
        return None
    want = variant_of(variant, s) or offered[0]
    if want not in offered:
        raise InputError("LQ variant not in this mmagic-layout folder", dataset=card.name, file=root,
                         expected=want, found=offered)
    found = Found("mmagic", root, lq_variant=want)
    found.gt, other_gt = clip_entries(root / "GT")
    found.lq, other_lq = clip_entries(root / want)
    found.ignored = other_gt + other_lq + _side_notes(root, ("GT", f"BIx{s}", f"BDx{s}"))
    if len(offered) > 1:
        found.notes.append(f"LQ variant {want} used; also present: {', '.join(o for o in offered if o != want)}")
    return found


def detect_spmc(root: Path, card: Any, variant: str) -> Found | None:
    s = card.scale
    folders = {"BI": f"input{s}", "BD": f"blur{s}"}
    clips = [p for p in _visible(root) if p.is_dir() and any((p / n).is_dir() for n in ("truth", *folders.values()))]
    if not clips:
        return None
    want = variant_of(variant, s)
    if want and want[:2] not in folders:
        raise InputError("LQ variant not offered by the per-clip truth/input layout", dataset=card.name, file=root,
                         expected=[f"BIx{s}", f"BDx{s}"], found=want)
    found = Found("spmc", root)
    for clip in clips:
        if (clip / "truth").is_dir():
            found.gt[clip.name] = clip / "truth"
        offered = [k for k, sub in folders.items() if (clip / sub).is_dir()]
        pick = want[:2] if want else (offered[0] if offered else "")
        if pick in offered:
            found.lq[clip.name] = clip / folders[pick]
            found.lq_variant = f"{pick}x{s}"
    found.ignored = [p for p in _visible(root) if p not in clips and not p.name.lower().endswith((".txt", ".md"))]
    return found


def _clip_range(spec: Any) -> list[str]:
    """'000-029' -> ['000', ..., '029'] (width kept); a list is taken as is."""
    if isinstance(spec, (list, tuple)):
        return [str(c) for c in spec]
    first, _, last = str(spec).partition("-")
    width = len(first)
    return [f"{i:0{width}d}" for i in range(int(first), int(last or first) + 1)]


def _find_dirs(root: Path, name: str, depth: int = 2) -> list[Path]:
    hits, level = [], [root]
    for _ in range(depth + 1):
        hits += [d / name for d in level if (d / name).is_dir()]
        level = [c for d in level for c in _visible(d) if c.is_dir() and not _has_frames(c)]
    return hits


def detect_reds(root: Path, card: Any, variant: str) -> Found | None:
    options = (card.layout_options or {}).get("reds", {})
    for select in options.get("select", [{"split": "val", "clips": "000-029"}]):
        split = select["split"]
        gt_dirs, lq_dirs = _find_dirs(root, f"{split}_sharp"), _find_dirs(root, f"{split}_sharp_bicubic")
        if not gt_dirs and not lq_dirs:
            continue
        found = Found("reds", root, lq_variant=f"BIx{card.scale}")
        wanted, offset = _clip_range(select.get("clips", "000-029")), int(select.get("offset", 0))
        gt_all = clip_entries(gt_dirs[0])[0] if gt_dirs else {}
        lq_all = clip_entries(lq_dirs[0] / f"X{card.scale}")[0] if lq_dirs else {}
        for src in wanted:
            name = f"{int(src) + offset:0{len(src)}d}" if offset else src
            if src in gt_all:
                found.gt[name] = gt_all[src]
            if src in lq_all:
                found.lq[name] = lq_all[src]
            if offset:
                found.origin[name] = f"{split}/{src}"
        if not found.gt and not found.lq:
            continue
        if variant and variant_of(variant, card.scale) != found.lq_variant:
            raise InputError("LQ variant not offered by the REDS layout", dataset=card.name, file=root,
                             expected=found.lq_variant, found=variant)
        found.notes.append(f"REDS split '{split}', clips {wanted[0]}-{wanted[-1]}" +
                           (f" renumbered by {offset:+d}" if offset else ""))
        return found
    return None


def detect_flat(root: Path, card: Any, variant: str) -> Found | None:
    entries, other = clip_entries(root)
    clips = {k: v for k, v in entries.items() if v.is_file() or _has_frames(v) or not _visible(v)}
    if not any(v.is_file() or _has_frames(v) for v in clips.values()):
        return None
    found = Found("flat", root)
    side = "gt" if card.gt == "required" else "lq"
    setattr(found, side, clips)
    found.ignored = other + [v for k, v in entries.items() if k not in clips]
    found.notes.append(f"flat folder of clips read as {side.upper()} (card '{card.name}' gt: {card.gt})")
    return found


Detector = Callable[[Path, Any, str], "Found | None"]
# Order matters where two layouts match one folder: the more specific one first.
LAYOUTS: dict[str, Detector] = {"dove": detect_dove, "mmagic": detect_mmagic, "canonical": detect_canonical,
                                "reds": detect_reds, "spmc": detect_spmc, "flat": detect_flat}


def _detect_here(folder: Path, card: Any, variant: str) -> Found | None:
    for name, detector in LAYOUTS.items():
        if name in card.layouts and (found := detector(folder, card, variant)) is not None:
            return found
    return None


def locate(path: Path, card: Any, variant: str = "") -> Found:
    """Find the set inside `path` (itself, or a folder up to MAX_DEPTH below it) in one of the card's layouts.

    A folder named like the card's `folder_names` wins; otherwise the shallowest match, which must be unique.
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError("dataset folder not found", dataset=card.name, file=path, expected="a folder")
    matches: list[tuple[int, Found]] = []
    level = [path]
    for depth in range(MAX_DEPTH + 1):
        nxt = []
        for folder in level:
            found = _detect_here(folder, card, variant)
            if found is not None:
                matches.append((depth, found))
            elif not _has_frames(folder):
                nxt += [c for c in _visible(folder) if c.is_dir()]
        level = nxt
    if not matches:
        raise InputError("no known dataset layout found", dataset=card.name, file=path,
                         expected=f"one of the card's layouts: {', '.join(card.layouts)}",
                         found=_describe(path), hint="See datasets/README.md for the folder structure of each set")
    names = {n.lower() for n in card.folder_names}
    named = [f for _, f in matches if f.root.name.lower() in names]
    top = min(d for d, _ in matches)
    best = named if len(named) == 1 else [f for d, f in matches if d == top]
    if len(best) > 1:
        raise InputError("several candidate sets found; point at one of them", dataset=card.name, file=path,
                         expected="one set", found=[str(f.root.relative_to(path)) for f in best])
    if variant and not best[0].lq_variant:
        best[0].notes.append(f"LQ variant {variant} requested, but the '{best[0].layout}' layout has a single LQ")
    return best[0]


def _describe(path: Path) -> str:
    items = _visible(path)[:6]
    return ", ".join(p.name + ("/" if p.is_dir() else "") for p in items) or "an empty folder"
