"""Video I/O: the `Video` type, readers for containers (PyAV) and frame folders (OpenCV), lossless writers.

Contract: frames cross this boundary as uint8 RGB arrays of shape (T, H, W, 3). Anything else found on disk
(gray, RGBA, 16-bit) is converted once, here, and the conversion is recorded on the `Video` so it can go into
the provenance of every result computed from it. Clips are read in chunks so a long clip never sits whole in
memory.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vrbench.errors import InputError

FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
CONTAINER_EXTENSIONS = (".mp4", ".mkv", ".avi", ".webm", ".mov")
DEFAULT_FPS = 24.0
DEFAULT_CHUNK = 16
MAX_PIXELS_ENV = "VRBENCH_MAX_PIXELS"
# 8192 x 8192 (67.1 Mpx, 201 MB per uint8 RGB frame): above 8K UHD (7680x4320) and DCI 8K (8192x4320), so any real
# video frame passes, while a tiny file whose header claims 40000x40000 (4.8 GB once decoded) is refused unread.
DEFAULT_MAX_PIXELS = 8192 * 8192
# 8-bit pixel formats whose plane 0 is the luma exactly as coded (read without any swscale conversion)
NATIVE_LUMA_FORMATS = ("yuv420p", "yuv422p", "yuv444p", "nv12", "nv21", "yuvj420p", "yuvj422p", "yuvj444p")


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: 'Frame 2.png' < 'Frame 10.png', 'im9' < 'im10'."""
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p), p) if p.isdigit() else (1, p.lower(), p) for p in parts if p != "")


def list_frame_files(folder: Path) -> list[Path]:
    """Image files of a frame folder in natural order (hidden files ignored)."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in FRAME_EXTENSIONS and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


def frame_numbers(files: list[Path]) -> list[int] | None:
    """The frame number in each file name, or None if some name holds no number.

    The number is the digit group that varies between the names (`calendar_x4_0007.png` -> 7, `0007_x4.png` ->
    7, `im7.png` -> 7); when the names differ in how many digit groups they hold, or none varies, the last group.
    """
    groups = [re.findall(r"\d+", f.stem) for f in files]
    if not all(groups):
        return None
    index = -1
    if len({len(g) for g in groups}) == 1:
        varying = [i for i in range(len(groups[0])) if len({g[i] for g in groups}) > 1]
        index = varying[-1] if varying else -1
    return [int(g[index]) for g in groups]


def frame_sequence_problem(files: list[Path]) -> str | None:
    """Why the numbers in these frame names, in the order the reader takes them (natural order), do not run
    0..T-1 or 1..T; None when they do.

    A folder of the right length whose names skip or repeat a number (`0005.png` renamed `0099.png`) would
    otherwise be scored against the wrong GT frames without a word.
    """
    if not files:
        return None
    numbers = frame_numbers(files)
    if numbers is None:
        bare = next(f.name for f in files if not re.search(r"\d", f.stem))
        return f"'{bare}' holds no frame number"
    if numbers[0] not in (0, 1):
        return f"the first frame is '{files[0].name}' (number {numbers[0]}), not 0 or 1"
    for i in range(1, len(files)):
        a, b = numbers[i - 1], numbers[i]
        if b == a + 1:
            continue
        pair = f"'{files[i - 1].name}' is followed by '{files[i].name}'"
        if b == a:
            return f"'{files[i - 1].name}' and '{files[i].name}' both number frame {a}"
        if b < a:
            return f"{pair} (frame numbers out of name order)"
        return f"{pair} ({f'frame {a + 1}' if b == a + 2 else f'frames {a + 1}..{b - 1}'} missing)"
    return None


def check_frame_names(folder: Path, clip: str = "") -> None:
    """Raise `InputError` naming the clip, the folder and the first gap or duplicate in its frame numbers."""
    problem = frame_sequence_problem(list_frame_files(folder))
    if problem is not None:
        raise InputError("frame numbers do not form the sequence 0..T-1 or 1..T", clip=clip or None, file=folder,
                         expected="consecutive numbers without gaps or duplicates", found=problem,
                         hint="tools with unnumbered names: strict_names: false (evaluate: --strict-names off) "
                              "takes the frames in natural order")


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in CONTAINER_EXTENSIONS


@dataclass
class Video:
    """A clip: where it lives, its geometry and timing, and how its frames were converted to uint8 RGB.

    Exactly one of `path` (a container file or a frame folder) and `array` (frames in memory) is set.
    """

    num_frames: int
    height: int
    width: int
    fps: float = DEFAULT_FPS
    pix_fmt: str = "rgb24"
    path: Path | None = None
    array: np.ndarray | None = field(default=None, repr=False)
    conversions: tuple[str, ...] = ()
    name: str = ""
    # frames computed on demand: chunk size -> iterator of uint8 chunks (methods that stream their output)
    generator: Callable[[int], Iterator[np.ndarray]] | None = field(default=None, repr=False)

    # ---- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_array(cls, frames: np.ndarray, fps: float = DEFAULT_FPS, name: str = "") -> Video:
        frames = as_rgb_uint8(np.asarray(frames), what=f"frames of '{name or 'array'}'")
        t, h, w, _ = frames.shape
        return cls(num_frames=t, height=h, width=w, fps=fps, array=frames, name=name)

    @classmethod
    def from_chunks(cls, generator: Callable[[int], Iterator[np.ndarray]], num_frames: int, height: int, width: int,
                    fps: float = DEFAULT_FPS, name: str = "") -> Video:
        """A clip whose frames are produced chunk by chunk when read (never held whole in memory)."""
        return cls(num_frames=num_frames, height=height, width=width, fps=fps, generator=generator, name=name)

    @property
    def kind(self) -> str:
        if self.array is not None:
            return "memory"
        if self.generator is not None:
            return "stream"
        assert self.path is not None
        return "frames" if self.path.is_dir() else "container"

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.height, self.width

    # ---- reading --------------------------------------------------------------------------------------------
    def iter_chunks(self, chunk: int = DEFAULT_CHUNK, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Yield uint8 (t, H, W, 3) arrays of at most `chunk` frames covering frames [start, stop)."""
        stop = self.num_frames if stop is None else min(stop, self.num_frames)
        if self.array is not None:
            for i in range(start, stop, chunk):
                yield self.array[i : min(i + chunk, stop)]
        elif self.generator is not None:
            yield from _slice_stream(self.generator(chunk), start, stop)
        elif self.kind == "frames":
            files = list_frame_files(self.path)[start:stop]
            for i in range(0, len(files), chunk):
                yield np.stack([self._read_frame_file(f) for f in files[i : i + chunk]])
        else:
            yield from _iter_container(self, chunk, start, stop)

    @property
    def native_luma(self) -> bool:
        """Whether the clip is an 8-bit YUV video file whose coded Y plane `iter_luma_chunks` can read."""
        return self.kind == "container" and self.pix_fmt in NATIVE_LUMA_FORMATS

    def iter_luma_chunks(self, chunk: int = DEFAULT_CHUNK, start: int = 0, stop: int | None = None
                         ) -> Iterator[np.ndarray]:
        """Yield uint8 (t, H, W) arrays of the Y plane exactly as coded (no RGB round trip), chunked like
        `iter_chunks`. Only for clips with `native_luma`."""
        for _, y in self.iter_chunks_with_luma(chunk, start, stop, rgb=False):
            yield y

    def iter_chunks_with_luma(self, chunk: int = DEFAULT_CHUNK, start: int = 0, stop: int | None = None,
                              rgb: bool = True) -> Iterator[tuple[np.ndarray | None, np.ndarray]]:
        """Yield (RGB chunk, Y chunk) pairs from a single decode (RGB None when `rgb` is False)."""
        if not self.native_luma:
            raise InputError("no native luma plane to read", clip=self.name or None, file=self.path,
                             expected=f"an 8-bit video file in {', '.join(NATIVE_LUMA_FORMATS)}",
                             found=f"{self.kind} ({self.pix_fmt})")
        stop = self.num_frames if stop is None else min(stop, self.num_frames)
        yield from _iter_container(self, chunk, start, stop, rgb=rgb, luma=True)

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """All frames in [start, stop) as one uint8 array. Prefer `iter_chunks` for long clips."""
        chunks = list(self.iter_chunks(start=start, stop=stop))
        if not chunks:
            return np.zeros((0, self.height, self.width, 3), np.uint8)
        return np.concatenate(chunks)

    def _read_frame_file(self, file: Path) -> np.ndarray:
        frame, _ = read_image(file, self.name or None)
        if frame.shape[:2] != (self.height, self.width):
            raise InputError(
                "frame size differs from the first frame of the clip",
                clip=self.name or None,
                file=file,
                expected=f"{self.width}x{self.height}",
                found=f"{frame.shape[1]}x{frame.shape[0]}",
            )
        return frame


def rechunk(chunks: Iterable[np.ndarray], n: int) -> Iterator[np.ndarray]:
    """Regroup a stream of frame chunks of any sizes into chunks of exactly `n` frames (the last may be shorter),
    as `Video.iter_chunks` promises: consumers zip the chunks of two clips frame for frame."""
    buffer: list[np.ndarray] = []
    held = 0
    for c in chunks:
        buffer.append(c)
        held += len(c)
        while held >= n:
            joined = np.concatenate(buffer) if len(buffer) > 1 else buffer[0]
            yield joined[:n]
            rest = joined[n:]
            buffer, held = ([rest] if len(rest) else []), len(rest)
    if held:
        yield np.concatenate(buffer) if len(buffer) > 1 else buffer[0]


def _slice_stream(chunks: Iterator[np.ndarray], start: int, stop: int) -> Iterator[np.ndarray]:
    index = 0
    for c in chunks:
        lo, hi = max(start - index, 0), min(stop - index, len(c))
        if lo < hi:
            yield as_rgb_uint8(np.asarray(c[lo:hi]), what="streamed frames")
        index += len(c)
        if index >= stop:
            return


# ---- conversions ------------------------------------------------------------------------------------------------
def as_rgb_uint8(frames: np.ndarray, what: str = "frames") -> np.ndarray:
    """Check an in-memory clip is uint8 (T, H, W, 3); raise a clear error otherwise."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InputError(f"{what} must have shape (T, H, W, 3)", expected="(T, H, W, 3)", found=frames.shape)
    if frames.dtype != np.uint8:
        raise InputError(f"{what} must be uint8", expected="uint8", found=frames.dtype)
    return frames


def to_rgb_uint8(image: np.ndarray, file: Path | str = "") -> tuple[np.ndarray, tuple[str, ...]]:
    """Convert an image as OpenCV decodes it (BGR/BGRA/gray, 8- or 16-bit) to uint8 RGB; return the steps taken."""
    import cv2

    notes: list[str] = []
    if image.dtype == np.uint16:
        # Rounded rescale to 8 bits: 65535 -> 255 exactly (x / 257 maps the 16-bit grid onto the 8-bit one).
        image = np.clip(np.round(image.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
        notes.append("16-bit->8-bit (round(x/257))")
    elif image.dtype != np.uint8:
        raise InputError("unsupported pixel type", file=file, expected="uint8 or uint16", found=image.dtype)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        notes.append("gray->rgb (replicated)")
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
        notes.append("rgba->rgb (alpha dropped)")
    elif image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    else:
        raise InputError("unsupported channel count", file=file, expected="1, 3 or 4", found=image.shape[2])
    return np.ascontiguousarray(image), tuple(notes)


def read_image(file: Path, clip: str | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Read one image file as uint8 RGB plus the conversions applied; its header is checked against the pixel
    budget before it is decoded."""
    import io

    import cv2
    from PIL import UnidentifiedImageError

    data = np.fromfile(str(file), dtype=np.uint8) if file.exists() else None
    if data is None:
        raise InputError("frame file does not exist", file=file)
    try:
        image_header_size(io.BytesIO(data.tobytes()), clip=clip, file=file)
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError):  # no header PIL reads: OpenCV decides
        pass
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error as e:  # OpenCV's own limits (CV_IO_MAX_IMAGE_PIXELS) or a decoder failure
        raise InputError("cannot decode image", clip=clip, file=file, expected="a readable PNG/JPEG/BMP/TIFF",
                         found=f"OpenCV: {str(e).strip().splitlines()[-1]}") from e
    if image is None:
        raise InputError("cannot decode image", file=file, expected="a readable PNG/JPEG/BMP/TIFF", found=(
            "an empty file" if data.size == 0 else f"{data.size} bytes that no image decoder accepts"))
    return to_rgb_uint8(image, file)


# ---- pixel budget -------------------------------------------------------------------------------------------------
def max_frame_pixels() -> int:
    """The largest frame, in pixels (width x height), any clip may have: $VRBENCH_MAX_PIXELS (a count such as
    `100000000`, or `WxH` such as `16384x16384`), else 8192 x 8192."""
    text = os.environ.get(MAX_PIXELS_ENV, "").strip().lower()
    if not text:
        return DEFAULT_MAX_PIXELS
    parts = text.split("x")
    if len(parts) <= 2 and all(p.strip().isdigit() for p in parts):
        value = int(parts[0]) * (int(parts[1]) if len(parts) == 2 else 1)
        if value >= 1:
            return value
    raise InputError(f"bad {MAX_PIXELS_ENV}", expected="a pixel count >= 1 or WxH (e.g. 8192x8192)", found=text)


def check_frame_size(width: int, height: int, *, clip: str | None = None, file: Path | str | None = None) -> None:
    """Raise `InputError` when a frame of width x height exceeds the pixel budget (checked from headers, before
    any frame is decoded, so a small file claiming a huge frame fails alone instead of exhausting memory)."""
    limit = max_frame_pixels()
    if width * height > limit:
        raise InputError("frame exceeds the pixel budget", clip=clip or None, file=file,
                         expected=f"at most {limit} pixels per frame", found=f"{width}x{height} = {width * height}",
                         hint=f"set {MAX_PIXELS_ENV} (pixels, or WxH) to allow larger frames")


def image_header_size(source: Path | BinaryIO, *, clip: str | None = None, file: Path | str | None = None
                      ) -> tuple[int, int]:
    """(width, height) of an image file read from its header alone (PIL decodes nothing on open), checked against
    the pixel budget. An unreadable header raises PIL's error (`UnidentifiedImageError`, `OSError`, `ValueError`)."""
    from PIL import Image

    file = file if file is not None else source if isinstance(source, Path) else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our budget decides, not PIL's
            with Image.open(source) as im:
                width, height = im.size
    except Image.DecompressionBombError as e:  # PIL refuses above 2 x its own limit (179 Mpx): over ours too
        found = re.search(r"\((\d+) pixels\)", str(e))
        raise InputError("frame exceeds the pixel budget", clip=clip, file=file,
                         expected=f"at most {max_frame_pixels()} pixels per frame",
                         found=f"{found.group(1) if found else 'more than 179 million'} pixels",
                         hint=f"set {MAX_PIXELS_ENV} (pixels, or WxH) to allow larger frames") from e
    check_frame_size(width, height, clip=clip, file=file)
    return width, height


# ---- opening ----------------------------------------------------------------------------------------------------
def open_video(path: str | Path, name: str = "", fps: float | None = None) -> Video:
    """Open a container file or a frame folder, probing geometry, frame count, fps and pixel format."""
    path = Path(path)
    name = name or path.stem
    if not path.exists():
        raise InputError("video not found", clip=name, file=path, expected="a frame folder or a video file",
                         found="nothing at that path")
    if path.is_dir():
        return _open_frame_folder(path, name, fps)
    if not is_video_file(path):
        raise InputError("not a video file", clip=name, file=path, expected=CONTAINER_EXTENSIONS, found=path.suffix)
    return _open_container(path, name)


def _open_frame_folder(folder: Path, name: str, fps: float | None) -> Video:
    files = list_frame_files(folder)
    if not files:
        raise InputError("frame folder has no image files", clip=name, file=folder, expected=FRAME_EXTENSIONS,
                         found="no frames")
    first, notes = read_image(files[0], name)
    pix_fmt = "rgb24" if not notes else "+".join(notes)
    return Video(num_frames=len(files), height=first.shape[0], width=first.shape[1], fps=fps or DEFAULT_FPS,
                 pix_fmt=pix_fmt, path=folder, conversions=notes, name=name)


def _open_container(file: Path, name: str) -> Video:
    import av

    try:
        with av.open(str(file)) as container:
            if not container.streams.video:
                raise InputError("file has no video stream", clip=name, file=file)
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            pix_fmt = stream.codec_context.pix_fmt or "unknown"
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else DEFAULT_FPS
            count = stream.frames or sum(1 for p in container.demux(stream) if p.size)
    except av.error.FFmpegError as e:
        raise InputError("cannot read video", clip=name, file=file, expected="a decodable video container",
                         found=f"{type(e).__name__}: {e}") from e
    if count <= 0 or width <= 0:
        raise InputError("video has no decodable frames", clip=name, file=file, expected=">= 1 frame", found=count)
    check_frame_size(width, height, clip=name, file=file)
    notes = () if pix_fmt in ("rgb24", "bgr0", "gbrp") else (f"{pix_fmt}->rgb24 (decoder conversion)",)
    return Video(num_frames=count, height=height, width=width, fps=fps, pix_fmt=pix_fmt, path=file,
                 conversions=notes, name=name)


def _luma_plane(frame, video: Video) -> np.ndarray:
    """Plane 0 of a decoded 8-bit YUV frame as (H, W) uint8, honouring its line stride (no conversion)."""
    if frame.format.name not in NATIVE_LUMA_FORMATS:
        raise InputError("pixel format changed mid-clip", clip=video.name or None, file=video.path,
                         expected=video.pix_fmt, found=frame.format.name)
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return rows[: frame.height, : frame.width].copy()


def _iter_container(video: Video, chunk: int, start: int, stop: int, rgb: bool = True, luma: bool = False
                    ) -> Iterator:
    """Decode frames [start, stop) in chunks: RGB arrays, or (RGB or None, Y) pairs when `luma` is set."""
    import av

    buf: list[np.ndarray] = []
    ybuf: list[np.ndarray] = []
    index = 0

    def flush():
        item = np.stack(buf) if rgb else None
        return (item, np.stack(ybuf)) if luma else item

    try:
        with av.open(str(video.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if index >= stop:
                    break
                if index >= start:
                    if frame.width * frame.height > video.width * video.height:  # a stream that grows mid-clip
                        check_frame_size(frame.width, frame.height, clip=video.name or None, file=video.path)
                    if rgb:
                        buf.append(frame.to_ndarray(format="rgb24"))
                    if luma:
                        ybuf.append(_luma_plane(frame, video))
                    if max(len(buf), len(ybuf)) == chunk:
                        yield flush()
                        buf, ybuf = [], []
                index += 1
    except av.error.FFmpegError as e:
        raise InputError("video stopped decoding", clip=video.name or None, file=video.path,
                         expected=f"{video.num_frames} frames", found=f"an error at frame {index}: {e}") from e
    if buf or ybuf:
        yield flush()
    if index < stop:
        raise InputError("video ended early", clip=video.name or None, file=video.path,
                         expected=f"{stop} frames", found=f"{index} decodable frames")


# ---- writing ----------------------------------------------------------------------------------------------------
def write_frames(frames: np.ndarray | Iterator[np.ndarray], folder: str | Path, pattern: str = "{:08d}.png") -> int:
    """Write uint8 RGB frames (an array or an iterator of chunks) as numbered PNGs; return the count."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chunks = [frames] if isinstance(frames, np.ndarray) else frames
    n = 0
    for chunk in chunks:
        for frame in as_rgb_uint8(np.asarray(chunk)):
            # compression level is fixed so that re-writing the same frames gives the same bytes
            ok = cv2.imwrite(str(folder / pattern.format(n)), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                             [cv2.IMWRITE_PNG_COMPRESSION, 3])
            if not ok:
                raise InputError("cannot write frame", file=folder / pattern.format(n))
            n += 1
    return n


LOSSLESS_CODECS = {
    # codec name -> (pixel format handed to the encoder, encoder options). Both round-trip RGB24 bit-exactly.
    "ffv1": ("bgr0", {"level": "3", "slicecrc": "1"}),
    "libx264rgb": ("rgb24", {"crf": "0", "preset": "veryslow"}),
}


def write_video_lossless(
    frames: np.ndarray | Iterator[np.ndarray], file: str | Path, fps: float = DEFAULT_FPS, codec: str = "ffv1"
) -> int:
    """Write uint8 RGB frames to a lossless video (FFV1 in .mkv, or x264 RGB at crf 0); return the count."""
    import av

    if codec not in LOSSLESS_CODECS:
        raise InputError("unknown lossless codec", expected=sorted(LOSSLESS_CODECS), found=codec)
    pix_fmt, options = LOSSLESS_CODECS[codec]
    file = Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    chunks = [frames] if isinstance(frames, np.ndarray) else frames
    n = 0
    # bitexact: no random segment UIDs, dates or encoder strings, so the same frames give the same bytes
    with av.open(str(file), mode="w", options={"fflags": "+bitexact"}) as container:
        stream = None
        for chunk in chunks:
            for frame in as_rgb_uint8(np.asarray(chunk)):
                if stream is None:
                    stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
                    stream.width, stream.height = frame.shape[1], frame.shape[0]
                    stream.pix_fmt = pix_fmt
                    stream.options = {**options, "flags": "+bitexact"}
                    stream.codec_context.thread_count = 1  # single-threaded so bytes repeat
                av_frame = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format=pix_fmt)
                for packet in stream.encode(av_frame):
                    container.mux(packet)
                n += 1
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return n
