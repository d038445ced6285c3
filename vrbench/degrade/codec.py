"""Real video compression through PyAV, made deterministic and explicit.

RealBasicVSR's RandomVideoCompression [MMA@725289f4 random_degradations.py] writes an in-memory MP4 at 1 fps with
codec libx264 / h264 / mpeg4 and a bitrate in [1e4, 1e5] bit/s, yuv420p, encoder defaults, then decodes it. We keep
that and pin down what it left implicit:

- one encoder and decoder thread, fixed options, explicit pts, so the bytes repeat for a given FFmpeg build;
- libx264 runs with mb-tree rate control off (`mbtree=0`, otherwise x264 defaults): with mb-tree on we saw the
  same input give different bytes from one encoder instance to the next in a process, which would break replay;
- RGB <-> YUV 4:2:0 is our own BT.601 limited-range conversion (2x2 mean chroma, nearest chroma upsampling), not
  swscale, so only the encoder and decoder depend on the FFmpeg/x264 build;
- frames are clipped and rounded to 8 bits before encoding (mmedit 0.x cast without clipping, wrapping values);
- odd frame sizes are padded to even (reflect, bottom/right) for 4:2:0 and cropped back after decoding.

What can differ across builds: the x264 and FFmpeg mpeg4 encoder versions (rate control, mode decisions) and which
encoder the name 'h264' resolves to (normally libx264). The manifest records the resolved encoder and versions.
"""

from __future__ import annotations

import functools
import io
import re

import numpy as np

from vrbench.degrade.libclock import library_call
from vrbench.errors import InputError

# BT.601 limited range, 8-bit: Y in [16, 235], Cb/Cr in [16, 240] (ITU-R BT.601 matrix, rows Y, Cb, Cr)
RGB_TO_YCBCR = np.array(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], dtype=np.float64
) / 255.0
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])
YCBCR_TO_RGB = np.linalg.inv(RGB_TO_YCBCR)
# options per resolved encoder name; recorded in every manifest's video stage
ENCODER_OPTIONS = {"libx264": {"x264-params": "mbtree=0"}}


def encoder_options(encoder: str) -> dict[str, str]:
    return dict(ENCODER_OPTIONS.get(encoder, {}))


@functools.lru_cache(maxsize=8)
def resolve_encoder(codec: str) -> str:
    """Name of the encoder FFmpeg actually uses for `codec` ('h264' normally resolves to 'libx264')."""
    import av

    try:
        return av.codec.Codec(codec, "w").name
    except (av.error.FFmpegError, ValueError) as e:  # PyAV raises UnknownCodecError, a ValueError subclass
        raise InputError("video encoder not available in this FFmpeg build", expected=codec, found=str(e)) from e


def codec_arguments(stage: dict) -> tuple[str, int, dict[str, str] | None]:
    """(encoder, bitrate, options) of a manifest video stage: the recorded encoder, not the name it was drawn as."""
    return stage.get("encoder", stage["codec"]), int(stage["bitrate"]), stage.get("options")


def rgb_to_yuv420(frame: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3), H and W even -> yuv420p planes stacked as (H * 3 / 2, W) uint8.

    Written out as float64 products and sums in a fixed order (no matrix product, whose summation order is the BLAS
    library's and may change with the thread count), so every caller gets the same bytes.
    """
    height, width = frame.shape[:2]
    rgb = [frame[..., c].astype(np.float64) for c in range(3)]
    ycc = [rgb[0] * m[0] + rgb[1] * m[1] + rgb[2] * m[2] + o for m, o in zip(RGB_TO_YCBCR, YCBCR_OFFSET, strict=True)]
    uv = [mean_2x2(c) for c in ycc[1:]]
    return np.concatenate([to_uint8_plane(p).ravel() for p in (ycc[0], *uv)]).reshape(-1, width)


def mean_2x2(plane: np.ndarray) -> np.ndarray:
    """Mean of each 2x2 block, summed in a fixed order: ((top-left + top-right) + bottom-left) + bottom-right."""
    return (plane[0::2, 0::2] + plane[0::2, 1::2] + plane[1::2, 0::2] + plane[1::2, 1::2]) * 0.25


def to_uint8_plane(plane: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(plane), 0, 255).astype(np.uint8)


def yuv420_to_rgb(planes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Inverse of `rgb_to_yuv420` (nearest chroma upsampling), rounded and clipped to uint8 RGB."""
    quarter = (height // 2) * (width // 2)
    flat = planes[height:].reshape(-1)
    chroma = [flat[i * quarter : (i + 1) * quarter].reshape(height // 2, width // 2).repeat(2, 0).repeat(2, 1)
              for i in range(2)]
    ycc = [c.astype(np.float64) - o for c, o in zip((planes[:height], *chroma), YCBCR_OFFSET, strict=True)]
    rgb = [ycc[0] * m[0] + ycc[1] * m[1] + ycc[2] * m[2] for m in YCBCR_TO_RGB]
    return np.stack([to_uint8_plane(c) for c in rgb], axis=-1)


def pad_even(frames: np.ndarray) -> np.ndarray:
    """Reflect-pad (T, H, W, 3) frames at the bottom/right to even H and W (4:2:0 needs both even)."""
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if not pad_h and not pad_w:
        return frames
    mode = "reflect" if min(frames.shape[1:3]) > 1 else "edge"  # a 1-pixel side has nothing to reflect
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode=mode)


def compress_video(
    frames: np.ndarray, codec: str, bitrate: int, options: dict[str, str] | None = None
) -> np.ndarray:
    """Encode uint8 RGB frames (T, H, W, 3) to an in-memory MP4 and decode them back (same shape, uint8).

    `options` are encoder options (default: `encoder_options` of the resolved encoder)."""
    if frames.ndim != 4 or frames.dtype != np.uint8 or frames.shape[0] == 0:
        raise InputError("video compression needs uint8 (T, H, W, 3) frames", found=(frames.dtype, frames.shape))
    height, width = frames.shape[1:3]
    padded = pad_even(frames)
    planes = np.stack([rgb_to_yuv420(frame) for frame in padded])
    decoded = compress_planes(planes, codec, bitrate, options)
    rgb = np.stack([yuv420_to_rgb(p, padded.shape[1], padded.shape[2]) for p in decoded])
    return rgb[:, :height, :width]


@library_call
def compress_planes(
    planes: np.ndarray, codec: str, bitrate: int, options: dict[str, str] | None = None
) -> np.ndarray:
    """Encode yuv420p frames (T, H * 3 / 2, W) uint8 (H, W even) to an in-memory MP4 and decode them back."""
    if options is None:
        options = encoder_options(resolve_encoder(codec))
    decoded = decode_mp4(encode_mp4(planes, codec, int(bitrate), options))
    if len(decoded) != len(planes):
        raise InputError("video codec returned a different number of frames", expected=len(planes),
                         found=len(decoded), hint=f"codec {codec}, bitrate {bitrate}")
    return decoded


def encode_mp4(planes: np.ndarray, codec: str, bitrate: int, options: dict[str, str]) -> bytes:
    import av

    if not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
        raise InputError("encoder options must map strings to strings", found=options)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(resolve_encoder(codec), rate=1)  # 1 fps as in RealBasicVSR
        stream.width, stream.height = planes.shape[2], planes.shape[1] * 2 // 3
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bitrate
        stream.codec_context.thread_count = 1  # single-threaded so the bytes repeat
        stream.codec_context.options = dict(options)
        for index, plane in enumerate(planes):
            av_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(plane), format="yuv420p")
            av_frame.pts = index
            av_frame.pict_type = 0  # AV_PICTURE_TYPE_NONE: the encoder chooses I/P/B
            for packet in stream.encode(av_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def decode_mp4(data: bytes) -> np.ndarray:
    """The frames of an in-memory MP4 as yuv420p planes (T, H * 3 / 2, W) uint8."""
    import av

    frames = []
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        frames = [frame.to_ndarray(format="yuv420p") for frame in container.decode(stream)]
    return np.stack(frames) if frames else np.zeros((0, 0, 0), np.uint8)


@functools.lru_cache(maxsize=1)
def codec_versions() -> dict:
    """FFmpeg library versions and the x264 build string (read from a one-frame encode's SEI)."""
    import av

    versions = {name: ".".join(map(str, v)) for name, v in av.library_versions.items()}
    versions["pyav"] = av.__version__
    try:
        data = encode_mp4(np.full((1, 24, 16), 128, np.uint8), "libx264", 100_000, {})
        match = re.search(rb"x264 - core (\d+)( r\d+ [0-9a-f]+)?", data)
        versions["libx264"] = match.group(0).decode() if match else "unknown"
    except InputError:
        versions["libx264"] = "not available"
    return versions
