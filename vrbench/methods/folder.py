"""The `folder` method: precomputed outputs of any method, one frame folder or video per clip.

Accepted layouts under `root`: `<clip>/` (frames), `<clip>.<ext>` (video), and either of them one level down
under `<dataset>/`. Lossy videos (e.g. yuv420p mp4) are accepted with a recorded warning, because chroma
subsampling alone moves PSNR.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vrbench.errors import InputError
from vrbench.methods.base import MethodCard
from vrbench.registry import METHODS
from vrbench.video import CONTAINER_EXTENSIONS, Video, open_video

LOSSY_PIX_FMTS = ("yuv420p", "yuvj420p", "yuv422p", "nv12")


class FolderMethod:
    """Look up a clip's output in a directory of results instead of computing it."""

    def __init__(self, card: MethodCard, root: str | Path, dataset: str | None = None) -> None:
        self.card = card
        self.root = Path(root).expanduser()
        self.dataset = dataset
        if not self.root.is_dir():
            raise InputError("outputs folder not found", file=self.root, expected="a directory of per-clip outputs")

    def config(self) -> dict[str, Any]:
        return {"root": str(self.root.resolve())}

    def locate(self, clip: str) -> Path:
        bases = [self.root / self.dataset, self.root] if self.dataset else [self.root]
        for base in bases:
            if (base / clip).is_dir():
                return base / clip
            for ext in CONTAINER_EXTENSIONS:
                if (base / f"{clip}{ext}").is_file():
                    return base / f"{clip}{ext}"
        raise InputError("no output for this clip", clip=clip, file=self.root,
                         expected=f"'{clip}/' (frames) or '{clip}.mp4|.mkv|...' (video)", found="neither")

    def restore(self, lq: Video, *, scale: int, steps: int | None = None, seed: int = 0) -> Video:
        video = open_video(self.locate(lq.name), name=lq.name, fps=lq.fps)
        if video.pix_fmt in LOSSY_PIX_FMTS:
            video.conversions += (f"warning: lossy {video.pix_fmt} output; chroma subsampling shifts PSNR",)
        return video


@METHODS.register(MethodCard(name="folder", summary="Precomputed outputs of any method (frame folders or videos)",
                             kind="precomputed", scale=None, deterministic=True,
                             notes="options: root=DIR; per-clip <clip>/ frame folders or <clip>.<ext> videos"))
def folder(root: str | Path = ".", dataset: str | None = None) -> FolderMethod:
    return FolderMethod(METHODS.card("folder"), root, dataset)
