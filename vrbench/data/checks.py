"""Per-clip integrity checks that never decode a whole clip: frame headers, counts, sizes, GT/LQ pairing.

Each frame file's header is read (PIL reads only the header) to catch empty, truncated-at-the-header or non-image
files, frames over the pixel budget (`vrbench.video.max_frame_pixels`) and frames whose size differs from the rest
of the clip; containers are probed by PyAV. A clip that fails a
check gets an `InputError` naming the clip and the file; it is left out, and every other clip still loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vrbench.data.base import Clip, DatasetCard
from vrbench.data.layouts import Found, locate
from vrbench.errors import InputError
from vrbench.paths import data_root
from vrbench.video import FRAME_EXTENSIONS, Video, image_header_size, list_frame_files, natural_key, open_video

MAX_NAMED = 3  # files named in one message before "and N more"


@dataclass
class ClipReport:
    """What was found for one clip, and why it is left out if it is."""

    name: str
    gt: Video | None = None
    lq: Video | None = None
    gt_path: Path | None = None
    lq_path: Path | None = None
    problems: list[InputError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_clip(self) -> Clip:
        return Clip(self.name, self.gt, self.lq, {**self.meta, "notes": [*self.meta.get("notes", []), *self.notes]})


@dataclass
class DatasetReport:
    """A scanned dataset: the layout found, one report per clip, and dataset-level notes."""

    card: DatasetCard
    found: Found
    clips: list[ClipReport]
    notes: list[str] = field(default_factory=list)

    @property
    def good(self) -> list[ClipReport]:
        return [c for c in self.clips if c.ok]


def _names(files: list[Path]) -> str:
    shown = ", ".join(f.name for f in files[:MAX_NAMED])
    return shown + (f" and {len(files) - MAX_NAMED} more" if len(files) > MAX_NAMED else "")


def scan_frame_headers(folder: Path, clip: str, dataset: str) -> list[InputError]:
    """Problems of a frame folder found from the file headers alone: empty folder, unreadable files, mixed sizes."""
    from PIL import UnidentifiedImageError

    files = list_frame_files(folder)
    if not files:
        others = [p.name for p in folder.iterdir() if not p.name.startswith(".")][:MAX_NAMED]
        return [InputError("empty clip folder", clip=clip, dataset=dataset, file=folder,
                           expected=f"image frames ({', '.join(FRAME_EXTENSIONS)})",
                           found=f"no image files{' (only ' + ', '.join(others) + ')' if others else ''}")]
    sizes: dict[Path, tuple[int, int]] = {}
    unreadable: list[tuple[Path, str]] = []
    for f in files:
        try:
            sizes[f] = image_header_size(f, clip=clip)
        except InputError as e:  # over the pixel budget: nothing of this clip is decoded
            return [InputError(e.problem, clip=clip, dataset=dataset, file=f, expected=e.expected, found=e.found,
                               hint=e.hint)]
        except (UnidentifiedImageError, OSError, ValueError) as e:
            unreadable.append((f, f"{type(e).__name__}: {e}" if f.stat().st_size else "an empty file"))
    problems = []
    if unreadable:
        first, why = unreadable[0]
        more = [f for f, _ in unreadable[1:]]
        problems.append(InputError("unreadable frame", clip=clip, dataset=dataset, file=first,
                                   expected="a readable image", found=why + (
                                       f"; also unreadable: {_names(more)}" if more else "")))
    if sizes:
        ref_file, ref = next(iter(sizes.items()))
        odd = [f for f, s in sizes.items() if s != ref]
        if odd:
            w, h = sizes[odd[0]]
            problems.append(InputError("frame size differs within the clip", clip=clip, dataset=dataset,
                                       file=odd[0], expected=f"{ref[0]}x{ref[1]} (as {ref_file.name})",
                                       found=f"{w}x{h}" + (f"; {len(odd)} frames differ: {_names(odd)}"
                                                           if len(odd) > 1 else "")))
    return problems


def open_side(path: Path, clip: str, card: DatasetCard) -> tuple[Video | None, list[InputError]]:
    """Open one side (GT or LQ) of a clip lazily, after the header checks."""
    if path.is_dir():
        problems = scan_frame_headers(path, clip, card.name)
        if problems:
            return None, problems
    try:
        return open_video(path, name=clip, fps=card.fps if path.is_dir() else None), []
    except InputError as e:
        return None, [InputError(e.problem, clip=clip, dataset=card.name, file=e.file, expected=e.expected,
                                 found=e.found, hint=e.hint)]


def lq_hint(card: DatasetCard, root: Path, prepared: bool, source: str | None = None) -> str | None:
    """How to get the LQ of a GT-only clip: the command that makes it (never one that cannot work here)."""
    default = (data_root() / card.name).resolve() == Path(root).resolve()
    source = f" {source}" if source else "" if default else f" --from '{root}'"
    if card.lq.kind == "degrade":
        return None if prepared else f"The card makes LQ with {card.lq}: run `vrbench datasets prepare {card.name}" \
                                     f"{source}`"
    if card.scale != 4:
        return f"GT only: make an LQ with `vrbench datasets prepare {card.name}{source} --lq degrade:<preset>:<seed>`"
    return f"GT only: make an LQ with `vrbench datasets prepare {card.name}{source} --lq degrade:realbasicvsr-x4:0`"


def _pair(report: ClipReport, card: DatasetCard, need_lq: bool = True, hint: str | None = None) -> None:
    """GT/LQ presence, frame counts and the scale relation between GT and LQ sizes."""
    gt, lq, name, ds = report.gt, report.lq, report.name, card.name
    if card.gt == "required" and report.gt_path is None:
        report.problems.append(InputError("no ground truth for this clip", clip=name, dataset=ds,
                                          file=report.lq_path, expected=f"a GT clip named '{name}'", found="none"))
    if need_lq and report.lq_path is None and not report.problems:
        report.problems.append(InputError("no LQ input for this clip", clip=name, dataset=ds, file=report.gt_path,
                                          expected=f"an LQ clip named '{name}'", found="none", hint=hint))
    if gt is None or lq is None:
        return
    if gt.num_frames != lq.num_frames:
        report.problems.append(InputError("GT and LQ have different frame counts", clip=name, dataset=ds,
                                          file=lq.path, expected=f"{gt.num_frames} frames (as GT {gt.path})",
                                          found=f"{lq.num_frames} frames"))
    s = card.scale
    if gt.size == (lq.height * s, lq.width * s):
        return
    if (gt.height // s, gt.width // s) == lq.size:
        report.notes.append(f"GT {gt.width}x{gt.height} is not a multiple of x{s}: outputs are "
                            f"{lq.width * s}x{lq.height * s}; score with the 'crop' geometry policy (top-left)")
        return
    report.problems.append(InputError(
        f"GT size is not x{s} of the LQ size", clip=name, dataset=ds, file=gt.path,
        expected=f"GT {lq.width * s}x{lq.height * s} (x{s} of LQ {lq.width}x{lq.height}, {lq.path})",
        found=f"GT {gt.width}x{gt.height}",
        hint="If this set stores its LQ upsampled to the GT size, the card's scale should be 1"))


def scan_clip(name: str, found: Found, card: DatasetCard, manifest: dict[str, Any], need_lq: bool = True,
              hint: str | None = None) -> ClipReport:
    report = ClipReport(name, gt_path=found.gt.get(name), lq_path=found.lq.get(name))
    for side in ("gt", "lq"):
        path = getattr(report, f"{side}_path")
        if path is not None:
            video, problems = open_side(path, name, card)
            setattr(report, side, video)
            report.problems += problems
    _pair(report, card, need_lq=need_lq, hint=hint)
    if card.frames_per_clip and report.lq is not None and report.lq.num_frames != card.frames_per_clip:
        report.notes.append(f"{report.lq.num_frames} frames; the card expects {card.frames_per_clip}")
    entry = manifest.get("clips", {}).get(name, {})
    report.meta = {**entry, "layout": found.layout}
    if name in found.origin:
        report.meta["source_name"] = found.origin[name]
    if found.lq_variant:
        report.meta["lq_variant"] = found.lq_variant
    return report


def scan_dataset(card: DatasetCard, root: Path, manifest: dict[str, Any] | None = None,
                 variant: str | None = None, synthesise_lq: bool = False, source: str | None = None) -> DatasetReport:
    """Detect the layout under `root` and check every clip; see `DatasetReport`.

    With `synthesise_lq` (preparing a set whose LQ is made from GT) any LQ found is set aside and not required;
    `source` (the `--from` arguments of a preparation) goes into the hint of a GT-only clip.
    """
    manifest = manifest or {}
    found = locate(root, card, card.lq.variant if variant is None else variant)
    if synthesise_lq:
        if found.lq:
            found.notes.append(f"{len(found.lq)} released LQ clips set aside: the LQ is synthesised from the GT")
        found.lq = {}
    names = sorted(set(found.gt) | set(found.lq), key=natural_key)
    if not names:
        raise InputError("dataset folder has no clips", dataset=card.name, file=found.root,
                         expected="clip folders or videos in one of the card's layouts", found="none")
    if card.gt == "required" and not found.gt:
        raise InputError("this copy has no ground truth, and the card requires it", dataset=card.name,
                         file=found.root, expected="GT folders (GT/, HR/ or each clip's truth/)",
                         found=f"LQ only: {len(found.lq)} clips in the '{found.layout}' layout",
                         hint="To score it without GT (no-reference and temporal metrics) read it as the `folder` "
                              f"dataset: `vrbench datasets info folder --root '{found.root}'`")
    hint = lq_hint(card, root, prepared=bool(manifest), source=source)
    clips = [scan_clip(n, found, card, manifest, need_lq=not synthesise_lq, hint=hint) for n in names]
    return DatasetReport(card, found, clips, _dataset_notes(card, found, names, manifest))


def _dataset_notes(card: DatasetCard, found: Found, names: list[str], manifest: dict[str, Any]) -> list[str]:
    notes = list(found.notes)
    if card.clips and len(names) != card.clips:
        notes.append(f"{len(names)} clips found; the card expects {card.clips}")
    if card.clip_names:
        missing = [n for n in card.clip_names if n not in names]
        extra = [n for n in names if n not in card.clip_names]
        if missing:
            notes.append(f"missing clips: {', '.join(missing)}")
        if extra:
            notes.append(f"clips not in the card's list: {', '.join(extra)}")
    if found.ignored:
        shown = ", ".join(str(p.relative_to(found.root)) for p in found.ignored[:8])
        more = f" and {len(found.ignored) - 8} more" if len(found.ignored) > 8 else ""
        notes.append(f"ignored (not part of the layout): {shown}{more}")
    lq = card.lq
    if lq.kind == "degrade" and found.lq and not manifest.get("files"):
        notes.append(f"LQ read as found in the folder; the card's LQ source {lq} applies to "
                     f"`vrbench datasets prepare {card.name}`")
    if manifest.get("lq_source") and manifest["lq_source"] != card.lq_source:
        notes.append(f"prepared with LQ source {manifest['lq_source']} (card default: {card.lq_source})")
    return notes
