"""The on-disk layouts benchmark sets circulate in, and the detector that finds one inside a folder.

Each layout maps a folder to {clip name -> GT path} and {clip name -> LQ path} (frame folders or video files).
Side folders are recognised by name, case-insensitively, in every layout: GT is `GT`, `HR` (or SPMCS's `truth`);
LQ is `LQ`, `LR`, `BIx<s>`, `BDx<s>`, `sharp_bicubic` (BasicSR's REDS4), `input<s>` (SPMCS) or `blur<s>` (PFNL).

- `canonical`: side folders holding clips, `GT/<clip>/` + `LQ/<clip>/` (what `vrbench datasets prepare` writes),
  and every alias: `gt/` + `lq/`, mmagic's `GT/` + `BIx4/` + `BDx4/` [open-mmlab/mmagic
  tools/dataset_converters/{spmcs,udm10}], BasicSR's REDS4 `GT/` + `sharp_bicubic/` [XPixelGroup/BasicSR
  options/test/BasicVSR/test_BasicVSR_REDS.yml]; either side may be absent (GT-only or LQ-only sets);
- `dove`: DOVE's release, `GT/`, `LQ/` frame folders plus `GT-Video/`, `LQ-Video/` lossless MKV copies
  [zhengchen1999/DOVE datasets/README.md]; frame folders win, a video fills in a clip that has no frames;
- `spmc`: side folders inside each clip, `<clip>/truth/` + `<clip>/input4/` (SPMCS, `Frame 001.png`)
  [jiangsutx/SPMC_VideoSR] or `<clip>/blur4/` (PFNL's UDM10) [psychopa4/PFNL model/base_model.py]; either side
  may be absent (the authors' `data/test/<clip>/input4/` is LQ-only); a single clip folder is a one-clip set;
- `reds`: `<split>_sharp/<clip>/00000000.png` and `<split>_sharp_bicubic/X4/<clip>/` [REDS site; BasicSR
  regroup_reds_dataset.py]; which split and clips make the set comes from the card's `layout_options.reds`;
- `vimeo`: Vimeo-90K's two-level `sequences/00001/0266/im1.png` (clip `00001_0266`) [anchen1011/toflow], GT
  and BasicSR's `vimeo_septuplet_matlabLRx4/sequences/` LQ side by side; `sep_testlist.txt`, when present,
  selects the test septuplets;
- `flat`: `<clip>/00000000.png` folders or `<clip>.mp4` videos (VideoLQ, Vivid-VR's UGC50/AIGC50); they are GT
  when the card requires GT, LQ otherwise.

Two-level clip folders (`<a>/<b>/frames`, as mmagic's Vimeo-90K `GT/00001/0266/`) become clips named `<a>_<b>`
in every layout that lists clips. LQ variants: `BIx<s>` (bicubic) and `BDx<s>` (blur-downsample) name the same
thing in every layout that has both.
"""

from __future__ import annotations

import re
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


_VIMEO_GROUP, _VIMEO_PART = re.compile(r"\d{5}"), re.compile(r"\d{4}")  # Vimeo-90K's `%05d/%04d` clip folders


# ---- side folders: which names mean GT and which mean LQ ----------------------------------------------------------
GT_NAMES = ("gt", "hr", "truth")


def lq_names(scale: int) -> dict[str, str]:
    """Lower-cased LQ folder name -> its variant family ('' when the name does not say), in order of preference."""
    return {"lq": "", "lr": "", f"bix{scale}": "BI", "sharp_bicubic": "BI", f"input{scale}": "BI",
            f"bdx{scale}": "BD", f"blur{scale}": "BD"}


def is_side_name(name: str, scale: int) -> bool:
    return name.lower() in GT_NAMES or name.lower() in lq_names(scale)


def side_folders(folder: Path, scale: int) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The GT-named and the LQ-named (with variant family) sub-folders of `folder`, matched case-insensitively."""
    subs = [p for p in _visible(folder) if p.is_dir()]
    gt = [p for p in subs if p.name.lower() in GT_NAMES]
    names = lq_names(scale)
    lq = sorted(((p, names[p.name.lower()]) for p in subs if p.name.lower() in names),
                key=lambda pf: list(names).index(pf[0].name.lower()))
    return gt, lq


def _one_gt(gt: list[Path], card: Any, where: Path) -> Path | None:
    if len(gt) > 1:
        raise InputError("more than one GT folder", dataset=card.name, file=where, expected="one of GT/, HR/",
                         found=[p.name for p in gt], hint="remove or rename the copies that are not the ground truth")
    return gt[0] if gt else None


def pick_lq(lq: list[tuple[Path, str]], want: str, card: Any, where: Path) -> tuple[Path | None, str, str]:
    """The LQ folder to read among those offered: (folder, variant such as 'BIx4' or '', note)."""
    if not lq:
        return None, "", ""
    s = card.scale
    matching = [(p, f) for p, f in lq if f and f"{f}x{s}" == want] if want else lq
    if want and not matching:
        matching = [(p, f) for p, f in lq if not f]  # a plain LQ/ folder: locate notes the variant it could not pick
        if not matching:
            raise InputError("LQ variant not in this folder", dataset=card.name, file=where, expected=want,
                             found=[p.name for p, _ in lq])
    pick, family = matching[0]
    others = [p.name for p, _ in lq if p != pick]
    note = f"LQ from {pick.name}/" + (f" (variant {family}x{s})" if family else "") + (
        f"; also present: {', '.join(others)}" if others else "")
    return pick, (f"{family}x{s}" if family else ""), note


def clip_entries(folder: Path) -> tuple[dict[str, Path], list[Path]]:
    """Clip name -> frame folder or video file inside `folder`, and the entries that are neither.

    Vimeo-90K's two-level clip folders become one clip each: `00001/0266/` -> '00001_0266'.
    """
    entries: dict[str, Path] = {}
    other: list[Path] = []
    for p in _visible(folder):
        if p.is_dir():
            nested = [c for c in _visible(p) if c.is_dir() and _VIMEO_PART.fullmatch(c.name) and _has_frames(c)] \
                if _VIMEO_GROUP.fullmatch(p.name) and not _has_frames(p) else []
            if nested:
                entries.update({f"{p.name}_{c.name}": c for c in nested})
            else:
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
    s = card.scale
    gt, lq = side_folders(root, s)
    # a side folder that holds frames itself is one clip of the per-clip layout (`calendar/input4/`), not a set
    gt, lq = [p for p in gt if not _has_frames(p)], [(p, f) for p, f in lq if not _has_frames(p)]
    if not gt and not lq:
        return None
    gt_dir = _one_gt(gt, card, root)
    lq_dir, found_variant, note = pick_lq(lq, variant_of(variant, s), card, root)
    found = Found("canonical", root, lq_variant=found_variant)
    if gt_dir is not None:
        found.gt, other = clip_entries(gt_dir)
        found.ignored += other
    if lq_dir is not None:
        if (lq_dir / f"X{s}").is_dir() and not clip_entries(lq_dir)[0].keys() - {f"X{s}"}:
            lq_dir = lq_dir / f"X{s}"  # `sharp_bicubic/X4/<clip>/`, as in the REDS zips
        found.lq, other = clip_entries(lq_dir)
        found.ignored += other
    sides = [p.name for p in gt] + [p.name for p, _ in lq]
    said = ([f"GT from {gt_dir.name}/"] if gt_dir is not None else []) + ([note] if note else [])
    if len(lq) > 1 or not all(x.startswith(("GT from GT/", "LQ from LQ/")) for x in said):
        found.notes.append("; ".join(said))
    found.ignored += _side_notes(root, tuple(sides))
    return found


def detect_dove(root: Path, card: Any, variant: str) -> Found | None:
    subs = {p.name.lower(): p for p in _visible(root) if p.is_dir()}
    if "gt-video" not in subs and "lq-video" not in subs:
        return None
    found = Found("dove", root)
    for side in ("gt", "lq"):
        frames, other = clip_entries(subs[side]) if side in subs else ({}, [])
        video_dir = subs.get(f"{side}-video")
        videos, other_v = clip_entries(video_dir) if video_dir else ({}, [])
        merged = {**{k: v for k, v in videos.items() if v.is_file()}, **frames}
        setattr(found, side, dict(sorted(merged.items(), key=lambda kv: natural_key(kv[0]))))
        found.ignored += other + other_v
        if frames and videos:
            found.notes.append(f"{side.upper()}-Video/ duplicates {side.upper()}/: frame folders used, videos only "
                               "where a clip has no frame folder")
    found.ignored += _side_notes(root, ("GT", "LQ", "GT-Video", "LQ-Video"))
    return found


def _clip_sides(clip: Path, card: Any, want: str, found: Found) -> None:
    gt, lq = side_folders(clip, card.scale)
    gt_dir = _one_gt(gt, card, clip)
    if gt_dir is not None:
        found.gt[clip.name] = gt_dir
    lq_dir, variant, _ = pick_lq(lq, want, card, clip)
    if lq_dir is not None:
        found.lq[clip.name] = lq_dir
        found.lq_variant = found.lq_variant or variant


def _is_clip_with_sides(folder: Path, scale: int) -> bool:
    gt, lq = side_folders(folder, scale)
    return any(_has_frames(p) for p in [*gt, *(p for p, _ in lq)])


def detect_spmc(root: Path, card: Any, variant: str) -> Found | None:
    want = variant_of(variant, card.scale)
    if _is_clip_with_sides(root, card.scale):
        clips = [root]  # one clip folder given on its own: `data/test/calendar/` with `input4/` inside
    else:
        clips = [p for p in _visible(root) if p.is_dir() and _is_clip_with_sides(p, card.scale)]
    if not clips:
        return None
    found = Found("spmc", root)
    for clip in clips:
        _clip_sides(clip, card, want, found)
    if clips != [root]:
        found.ignored = [p for p in _visible(root) if p not in clips and not p.name.lower().endswith((".txt", ".md"))]
    if not found.gt or not found.lq:
        found.notes.append(f"per-clip {'LQ' if found.lq else 'GT'} folders only ("
                           f"{'no truth/' if found.lq else 'no input/blur'} folder in any clip)")
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
    if any(is_side_name(k, card.scale) for k, v in clips.items() if v.is_dir()):
        return None  # `gt/`, `input4/`... are side folders of a clip or a set, never clips
    found = Found("flat", root)
    side = "gt" if card.gt == "required" else "lq"
    setattr(found, side, clips)
    found.ignored = other + [v for k, v in entries.items() if k not in clips]
    found.notes.append(f"flat folder of clips read as {side.upper()} (card '{card.name}' gt: {card.gt})")
    return found


_LQ_WORDS = re.compile(r"lr|lq|low|input|bicubic|bix\d|bdx\d", re.IGNORECASE)


def _two_level(folder: Path) -> bool:
    """Vimeo-90K's `%05d/%04d/im1.png` folder structure (checked on the first group)."""
    groups = [p for p in _visible(folder) if p.is_dir()]
    if not groups or not all(_VIMEO_GROUP.fullmatch(p.name) for p in groups):
        return False
    parts = [p for p in _visible(groups[0]) if p.is_dir()]
    return bool(parts) and _VIMEO_PART.fullmatch(parts[0].name) is not None and _has_frames(parts[0])


def _vimeo_sets(root: Path) -> list[tuple[str, Path]]:
    """(name saying GT or LQ, two-level folder) for `root` itself, `root/sequences` or its children's."""
    here = [root, root / "sequences"]
    if any(_two_level(p) for p in here):
        return [(root.parent.name if root.name.lower() == "sequences" else root.name, p) for p in here
                if _two_level(p)]
    return [(c.name, p) for c in _visible(root) if c.is_dir() for p in (c, c / "sequences") if _two_level(p)]


def detect_vimeo(root: Path, card: Any, variant: str) -> Found | None:
    sets = _vimeo_sets(root)
    if not sets:
        return None
    found = Found("vimeo", root)
    lists = [f.parent / "sep_testlist.txt" for _, f in sets if f.name.lower() == "sequences"]
    keep = {line.strip().replace("/", "_") for f in lists if f.is_file() for line in f.read_text().splitlines()
            if line.strip()}
    for name, folder in sets:
        side = "lq" if _LQ_WORDS.search(name) else "gt"
        if getattr(found, side):
            raise InputError(f"two Vimeo-90K {side.upper()} folders", dataset=card.name, file=root,
                             expected=f"one {side.upper()} set", found=[n for n, _ in sets],
                             hint="point --root at one of them, or at a folder holding one GT and one LQ set")
        clips = clip_entries(folder)[0]
        setattr(found, side, {k: v for k, v in clips.items() if k in keep} if keep else clips)
        found.notes.append(f"{side.upper()} from {folder.relative_to(root).as_posix() or '.'}/")
    if keep:
        found.notes.append(f"septuplets listed in sep_testlist.txt only ({len(keep)} listed)")
    return found


Detector = Callable[[Path, Any, str], "Found | None"]
# Order matters where two layouts match one folder: the more specific one first.
LAYOUTS: dict[str, Detector] = {"dove": detect_dove, "canonical": detect_canonical, "reds": detect_reds,
                                "spmc": detect_spmc, "vimeo": detect_vimeo, "flat": detect_flat}


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
        raise InputError("several candidate sets found; point --root at one of them", dataset=card.name, file=path,
                         expected="one set", found="; ".join(_as_set(f, path) for f in best),
                         hint=f"e.g. --root {best[0].root}" + (
                             f" (a folder named {' or '.join(card.folder_names)} is picked on its own)"
                             if card.folder_names else ""))
    if variant and not best[0].lq_variant:
        best[0].notes.append(f"LQ variant {variant} requested, but the '{best[0].layout}' layout has a single LQ")
    return best[0]


def _as_set(found: Found, path: Path) -> str:
    """'a' read as a set of 2 clips (canonical: c1, c2): which folder was taken for the set, which for clips."""
    clips = sorted(set(found.gt) | set(found.lq), key=natural_key)
    shown = ", ".join(clips[:4]) + (f" and {len(clips) - 4} more" if len(clips) > 4 else "")
    return (f"'{found.root.relative_to(path).as_posix() or '.'}' read as a set of {len(clips)} clips "
            f"({found.layout}: {shown})")


def _describe(path: Path) -> str:
    items = _visible(path)[:6]
    return ", ".join(p.name + ("/" if p.is_dir() else "") for p in items) or "an empty folder"
