"""The `folder` method: precomputed outputs of any method, one frame folder or video per clip.

Default layouts under `root`: `<clip>/` (frames), `<clip>.<ext>` (video), and either of them one level down
under `<dataset>/`. Tools name their outputs their own way (`<clip>_n120_g6_s30/`, `FlashVSR_Full_<clip>_seed0.mp4`),
so `pattern` maps a clip name to a path under `root` (`{clip}`, `{dataset}` and glob wildcards, exactly one match),
and `names` maps individual clips explicitly. Lossy outputs (chroma-subsampled video, lossy codecs, JPEG frames)
are accepted with a recorded warning, because chroma subsampling alone moves PSNR.
"""

from __future__ import annotations

import glob
import logging
from pathlib import Path
from typing import Any

from vrbench.errors import InputError
from vrbench.methods.base import MethodCard
from vrbench.registry import METHODS
from vrbench.video import CONTAINER_EXTENSIONS, Video, list_frame_files, open_video

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
                 names: dict[str, str] | None = None) -> None:
        self.card = card
        self.root = Path(root).expanduser()
        self.dataset, self.pattern, self.names = dataset, pattern, dict(names or {})
        self.warnings: dict[str, tuple[str, ...]] = {}
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
        return config

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
                         expected=f"'{clip}/' (frames) or '{clip}.mp4|.mkv|...' (video)", found="neither",
                         hint="outputs named differently can be mapped with pattern= or names=")

    def _match_pattern(self, clip: str) -> Path:
        from vrbench.methods.command_spec import render

        # the clip name is escaped so that a '[' in it is matched literally, not as a wildcard
        rel = render(self.pattern, {"clip": glob.escape(clip), "dataset": glob.escape(self.dataset or "")},
                     "folder pattern")
        found = [Path(p) for p in sorted(glob.glob(str(self.root / rel)))]
        found = [p for p in found if p.is_dir() or p.suffix.lower() in CONTAINER_EXTENSIONS]
        if len(found) != 1:
            raise InputError("pattern must match exactly one output", clip=clip, file=self.root / rel,
                             expected="1 frame folder or video", found=[str(p) for p in found[:5]] or "none")
        return found[0]

    def restore(self, lq: Video, *, scale: int, steps: int | None = None, seed: int = 0,
                device: Any = None) -> Video:
        video = open_video(self.locate(lq.name), name=lq.name, fps=lq.fps)
        notes = lossy_warnings(video)
        if notes:
            self.warnings[lq.name] = notes
            video.conversions += notes
            log.warning("%s (clip %r, file %s)", "; ".join(notes), lq.name, video.path)
        return video


@METHODS.register(MethodCard(name="folder", summary="Precomputed outputs of any method (frame folders or videos)",
                             kind="precomputed", scale=None, deterministic=True,
                             notes="options: root=DIR, pattern='{clip}_x4.mp4' (glob allowed), names={clip: path}"))
def folder(root: str | Path = ".", dataset: str | None = None, pattern: str | None = None,
           names: dict[str, str] | None = None) -> FolderMethod:
    return FolderMethod(METHODS.card("folder"), root, dataset, pattern, names)
