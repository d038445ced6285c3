"""The `folder` method: precomputed outputs of any method, one frame folder or video per clip.

Default layouts under `root`: `<clip>/` (frames), `<clip>.<ext>` (video), and either of them one level down
under `<dataset>/`. Tools name their outputs their own way (`<clip>_n120_g6_s30/`, `FlashVSR_Full_<clip>_seed0.mp4`),
so `pattern` maps a clip name to a path under `root` (`{clip}`, `{dataset}` and glob wildcards, exactly one match),
and `names` maps individual clips explicitly. Lossy outputs (chroma-subsampled video, lossy codecs, JPEG frames)
are accepted with a recorded warning, because chroma subsampling alone moves PSNR.

Frame folders are read in the natural order of their names, and those names are checked: their frame numbers must
run 0..T-1 or 1..T without gaps or duplicates, or the clip fails naming the first gap (`strict_names=False` takes
unnumbered names as they sort). A missing output names the closest entries of the folder (difflib), and
`unmatched()` lists the entries that no clip of the dataset claims, so a near-miss name (`bikes_railing`) is
never silently ignored.
"""

from __future__ import annotations

import difflib
import glob
import hashlib
import logging
from pathlib import Path
from typing import Any

from vrbench.digests import DigestMemo
from vrbench.errors import InputError
from vrbench.methods.base import MethodCard
from vrbench.registry import METHODS
from vrbench.video import (
    CONTAINER_EXTENSIONS,
    Video,
    check_frame_names,
    frame_sequence_problem,
    list_frame_files,
    open_video,
)

log = logging.getLogger(__name__)

LOSSY_PIX_FMTS = ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv411p", "yuv410p", "nv12", "nv21",
                  "yuv420p10le", "yuv422p10le")
LOSSLESS_CODECS = ("ffv1", "png", "rawvideo", "huffyuv", "ffvhuff", "utvideo", "qtrle", "r210")
JPEG_SUFFIXES = (".jpg", ".jpeg")


def lossy_warnings(video: Video) -> tuple[str, ...]:
    """Warnings for an output stored lossily: they shift PSNR/SSIM before any method difference shows."""
    if video.path is None:
        return ()
    if video.path.is_dir():
        jpegs = [f for f in list_frame_files(video.path) if f.suffix.lower() in JPEG_SUFFIXES]
        return (f"warning: {len(jpegs)} JPEG frames (lossy); re-export as PNG",) if jpegs else ()
    notes = []
    if video.pix_fmt in LOSSY_PIX_FMTS:
        notes.append(f"warning: lossy {video.pix_fmt} output; chroma subsampling shifts PSNR")
    codec = _codec(video.path)
    if codec and codec not in LOSSLESS_CODECS and not notes:
        notes.append(f"warning: {codec} output; lossless only at crf/qp 0, which the file does not record")
    return tuple(notes)


def _codec(file: Path) -> str | None:
    import av

    try:
        with av.open(str(file)) as container:
            return container.streams.video[0].codec_context.name if container.streams.video else None
    except av.error.FFmpegError:
        return None


class FolderMethod:
    """Look up a clip's output in a directory of results instead of computing it."""

    def __init__(self, card: MethodCard, root: str | Path, dataset: str | None = None, pattern: str | None = None,
                 names: dict[str, str] | None = None, strict_names: bool = True) -> None:
        self.card = card
        self.root = Path(root).expanduser()
        self.dataset, self.pattern, self.names = dataset, pattern, dict(names or {})
        self.strict_names = bool(strict_names)
        self.warnings: dict[str, tuple[str, ...]] = {}
        self._digests: DigestMemo | None = None
        if not self.root.is_dir():
            raise InputError("outputs folder not found", file=self.root, expected="a directory of per-clip outputs")
        if pattern is not None and "{clip}" not in pattern:
            raise InputError("folder pattern must contain {clip}", file=pattern, expected="e.g. '{clip}_x4.mp4'",
                             found=pattern)

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"root": str(self.root.resolve())}
        if self.pattern is not None:  # only when set, so configs (and their hashes) without them stay as they were
            config["pattern"] = self.pattern
        if self.names:
            config["names"] = self.names
        if not self.strict_names:
            config["strict_names"] = False
        return config

    def content_key(self, clip: str) -> str:
        """sha256 of the clip's output as it is on disk now (frame names and bytes, or the video file), part of
        the cache key of its values: outputs replaced in place are scored again, never answered from the store.
        File digests are memoised by path, size, mtime_ns, inode and ctime_ns, so an unchanged output costs a stat."""
        from vrbench.paths import work_dir

        path = self.locate(clip)
        if self._digests is None:
            self._digests = DigestMemo(work_dir() / "output-sha256.json")
        h = hashlib.sha256()
        for f in list_frame_files(path) if path.is_dir() else [path]:
            h.update(f"{f.name}\0{self._digests.sha256(f)}\n".encode())
        self._digests.save()
        return h.hexdigest()

    def locate(self, clip: str) -> Path:
        if clip in self.names:
            path = self.root / self.names[clip]
            if not path.exists():
                raise InputError("mapped output not found", clip=clip, file=path, expected="an existing path")
            return path
        if self.pattern is not None:
            return self._match_pattern(clip)
        bases = [self.root / self.dataset, self.root] if self.dataset else [self.root]
        for base in bases:
            if (base / clip).is_dir():
                return base / clip
            for ext in CONTAINER_EXTENSIONS:
                if (base / f"{clip}{ext}").is_file():
                    return base / f"{clip}{ext}"
        raise InputError("no output for this clip", clip=clip, file=self.root,
                         expected=f"'{clip}/' (frames) or '{clip}.mp4|.mkv|...' (video)",
                         found=self._nearest(clip) or "neither",
                         hint="outputs named differently can be mapped with pattern= or names=")

    # ---- what the folder holds beyond the clips ---------------------------------------------------------------
    def entries(self) -> list[Path]:
        """Every output the folder holds in the layout this method reads: frame folders and videos, under
        `<dataset>/` too, or what the pattern matches with any clip name."""
        if self.pattern is not None:
            rel = self.pattern.replace("{clip}", "*").replace("{dataset}", glob.escape(self.dataset or ""))
            found = [Path(p) for p in glob.glob(str(self.root / rel))]
        else:
            bases = [self.root / self.dataset, self.root] if self.dataset else [self.root]
            found = [p for base in bases if base.is_dir() for p in base.iterdir()]
        mapped = {(self.root / n).resolve() for n in self.names.values()}
        outputs = [p for p in found if (p.is_dir() or p.suffix.lower() in CONTAINER_EXTENSIONS)
                   and not p.name.startswith(".") and p.resolve() not in mapped
                   and not (self.dataset and p == self.root / self.dataset)]
        return sorted(set(outputs))

    def unmatched(self, clips: list[str]) -> list[str]:
        """One line per output that no clip claims, with the clip its name nearly matches (`bikes_railing`)."""
        claimed = set()
        for clip in clips:
            try:
                claimed.add(self.locate(clip).resolve())
            except InputError:
                continue
        lines = []
        for path in self.entries():
            if path.resolve() in claimed:
                continue
            rel = path.relative_to(self.root).as_posix()
            close = self._near_clip(path, clips)
            lines.append(f"'{rel}' matches no clip" + (f" (near '{close}': map it with names, {close}={rel})"
                                                       if close else ""))
        return lines

    def _near_clip(self, path: Path, clips: list[str]) -> str | None:
        expected = {self._expected_stem(c): c for c in clips}
        close = difflib.get_close_matches(_stem(path), list(expected), n=1, cutoff=0.6)
        return expected[close[0]] if close else None

    def _expected_stem(self, clip: str) -> str:
        if self.pattern is None:
            return clip
        return _stem(Path(self.pattern.replace("{clip}", clip).replace("{dataset}", self.dataset or "")))

    def _nearest(self, clip: str) -> str:
        """The entries whose names come closest to the clip's output name (difflib), for a missing output."""
        candidates: dict[str, list[str]] = {}
        for p in self.entries():
            candidates.setdefault(_stem(p), []).append(p.relative_to(self.root).as_posix())
        close = difflib.get_close_matches(self._expected_stem(clip), list(candidates), n=3, cutoff=0.6)
        names = [rel for stem in close for rel in candidates[stem]]
        return f"closest outputs there: {', '.join(names)}" if names else ""

    def _name_notes(self, folder: Path, clip: str) -> tuple[str, ...]:
        """Frame names must number the frames 0..T-1 or 1..T; with strict_names off, a mismatch is a warning."""
        if self.strict_names:
            check_frame_names(folder, clip)
            return ()
        problem = frame_sequence_problem(list_frame_files(folder))
        return (f"warning: frame names do not number a sequence ({problem}); taken in natural order as "
                "strict_names is off",) if problem else ()

    def _match_pattern(self, clip: str) -> Path:
        from vrbench.methods.command_spec import render

        # the clip name is escaped so that a '[' in it is matched literally, not as a wildcard
        rel = render(self.pattern, {"clip": glob.escape(clip), "dataset": glob.escape(self.dataset or "")},
                     "folder pattern")
        found = [Path(p) for p in sorted(glob.glob(str(self.root / rel)))]
        found = [p for p in found if p.is_dir() or p.suffix.lower() in CONTAINER_EXTENSIONS]
        if len(found) != 1:
            raise InputError("pattern must match exactly one output", clip=clip, file=self.root / rel,
                             expected="1 frame folder or video",
                             found=[str(p) for p in found[:5]] or self._nearest(clip) or "none")
        return found[0]

    def restore(self, lq: Video, *, scale: int, steps: int | None = None, seed: int = 0,
                device: Any = None) -> Video:
        path = self.locate(lq.name)
        video = open_video(path, name=lq.name, fps=lq.fps)
        notes = lossy_warnings(video) + (self._name_notes(path, lq.name) if path.is_dir() else ())
        if notes:
            self.warnings[lq.name] = notes
            video.conversions += notes
            log.warning("%s (clip %r, file %s)", "; ".join(notes), lq.name, video.path)
        return video


def names_from_args(items: list[str]) -> dict[str, str]:
    """Clip -> output name from command-line values: `clip=name` pairs, or YAML/JSON files holding that mapping."""
    import yaml

    names: dict[str, str] = {}
    for item in items:
        path = Path(item).expanduser()
        if path.is_file():
            try:
                data = yaml.safe_load(path.read_text())
            except yaml.YAMLError as e:
                raise InputError("names file is not valid YAML or JSON", file=path, found=str(e)) from e
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise InputError("names file must map clip names to output names", file=path,
                                 expected="{clip: name, ...}", found=type(data).__name__)
            names.update({str(k): v for k, v in data.items()})
        elif "=" in item and item.split("=", 1)[0] and item.split("=", 1)[1]:
            clip, name = item.split("=", 1)
            names[clip] = name
        else:
            raise InputError("names must be clip=name or a YAML/JSON file", expected="e.g. bikes-railing=bikes_railing",
                             found=item)
    return names


def unmatched_outputs(options: dict[str, Any], dataset: str, root: str | None) -> list[str]:
    """Lines naming the outputs of a folder method (built from `options`) that no clip of the dataset claims."""
    from vrbench.errors import VrbenchError
    from vrbench.registry import DATASETS

    try:
        clips = [c.name for c in DATASETS.create(dataset, root=root).clips()]
        return folder(**options).unmatched(clips)
    except VrbenchError:  # the dataset or the folder cannot be opened: the run has recorded why
        return []


def _stem(path: Path) -> str:
    """An output's name without its container extension (a frame folder keeps its whole name)."""
    return path.stem if path.suffix.lower() in CONTAINER_EXTENSIONS else path.name


@METHODS.register(MethodCard(name="folder", summary="Precomputed outputs of any method (frame folders or videos)",
                             kind="precomputed", scale=None, deterministic=True,
                             notes="options: root=DIR, pattern='{clip}_x4.mp4' (glob allowed), names={clip: path}, "
                                   "strict_names=false (frame names not checked for a 0..T-1 / 1..T sequence)"))
def folder(root: str | Path = ".", dataset: str | None = None, pattern: str | None = None,
           names: dict[str, str] | None = None, strict_names: bool = True) -> FolderMethod:
    return FolderMethod(METHODS.card("folder"), root, dataset, pattern, names, strict_names)
