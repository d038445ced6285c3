"""Video-level metrics fed as a stream of chunks: VMAF (through vmaf-torch) and CLIP semantic consistency.

VMAF: model vmaf_v0.6.1 as shipped inside the `vmaf-torch` package (no download), scores clipped to [0, 100] as
libvmaf does. VMAF is defined on the luma plane libvmaf reads. For an 8-bit YUV video file that is the coded Y plane,
which the engine hands over as it was decoded (`native_luma`): no RGB round trip, which on a yuv420p clip moves the
mean by up to 0.15 and single frames by up to 1.4. Clips without a coded Y plane (frame folders, RGB files) use the
BT.601 studio-range luma of their RGB (Y = 16 + 65.481 R + 128.553 G + 24.966 B), the plane a yuv encode of them
would carry. Which path each side of a clip took is kept (`VmafMetric.luma_sources`). Motion needs the previous
frame, so the last luma frame of each chunk is carried over; the per-frame features are pooled into the SVM at the
end, which gives the same numbers as scoring the whole clip at once. On CPU the features come from
`vmaf_features` (vmaf-torch's maths with OpenCV filtering, the ground-truth side computed once per chunk for all
methods, vmaf-torch's SVM run in float64), within 1e-3 of vmaf-torch per frame; on other devices from vmaf-torch's
own modules (`VmafMetric.features` says which). Reference: Netflix/vmaf (libvmaf); the PyTorch port is Alvitrioliks'
vmaf-torch, which torchmetrics uses.

vmaf-libvmaf: VMAF computed by Netflix's libvmaf itself (the CPU reference), through the static ffmpeg that the
`imageio-ffmpeg` wheel ships (built with --enable-libvmaf; Debian's ffmpeg is not). It is streamed like every
other metric: the luma of each chunk is appended to two raw YUV4MPEG files (output and ground truth, 8-bit 4:2:0
with neutral chroma, which libvmaf ignores), and at the end of the clip `ffmpeg -lavfi libvmaf` scores them with
model vmaf_v0.6.1 and writes a per-frame JSON log. For a YUV video file the luma written is the coded Y plane as
decoded, i.e. exactly what libvmaf reads when given the file itself; for frame folders and RGB files it is the
BT.601 studio luma of the RGB rounded to integers, i.e. what a lossless yuv444p/yuv420p encode of the frames stores
(up to swscale's rounding of single pixels).
Reference: Netflix/vmaf, libvmaf v3 (ffmpeg's `libvmaf` filter, default model version=vmaf_v0.6.1, clipped to
[0, 100]).

clip-consistency (InfVSR's "semantic consistency"): cosine similarity of CLIP image features (the RN50 weights
CLIP-IQA uses, CLIP's own 224x224 preprocessing) between neighbouring frames, averaged over the clip.
"""

from __future__ import annotations

import copy
import functools
import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vrbench.errors import InputError, MetricUnavailable
from vrbench.metrics.base import MetricCard, StreamMetric, check_ready
from vrbench.metrics.learned import CLIP_RN50
from vrbench.registry import METRICS

CODED_Y = "coded Y plane"
VMAF_MIN_SIDE = 17  # vmaf-torch 1.1: VIF at scale 3 reflect-pads a frame downsampled 8x, which needs >= 17 pixels
RGB_Y = "BT.601 luma of RGB"


def _luma_studio(x):
    import torch

    from vrbench.metrics.fidelity import luma_bt601

    if x.device.type == "cpu":  # the same float64 arithmetic in NumPy: 5x faster on the engine's channels-last chunks
        return torch.from_numpy(luma_bt601(x.detach().numpy().astype(np.float64, order="C")).astype(np.float32))
    return luma_bt601(x.double()).float()


def pick_luma(rgb, coded) -> tuple[Any, str]:
    """The luma VMAF reads for one side of a pair: the coded Y plane when the clip has one, else BT.601 of RGB."""
    return (coded.float(), CODED_Y) if coded is not None else (_luma_studio(rgb), RGB_Y)


@dataclass
class _VmafState:
    adm: list = field(default_factory=list)
    vif: list = field(default_factory=list)
    motion: list = field(default_factory=list)
    prev: Any = None  # last reference frame of the previous chunk: its luma (torch), its motion blur (opencv)
    sources: tuple[str, str] = ("", "")  # (output, ground truth): CODED_Y or RGB_Y


@dataclass
class _GtChunk:
    """The ground-truth side of one chunk, shared by every method the engine scores against it."""

    rgb: Any  # the engine's tensors of this chunk, compared by identity
    coded: Any
    index: int
    luma: Any
    source: str
    sides: list = field(default_factory=list)  # vmaf_features.ReferenceSide per frame (opencv features)

    def holds(self, rgb, coded, index: int) -> bool:
        return self.rgb is rgb and self.coded is coded and self.index == index


class VmafMetric(StreamMetric):
    card = MetricCard(
        name="vmaf", summary="VMAF v0.6.1 (vmaf-torch), clipped to [0, 100]", kind="video", higher_is_better=True,
        range=(0.0, 100.0), version="2",
        convention="coded Y plane of YUV video files, else BT.601 studio luma of RGB; model vmaf_v0.6.1, mean over "
                   "frames",
        reference="Netflix libvmaf; vmaf-torch", level="clip", needs_gt=True, requires=("vmaf_torch",))
    #: the engine passes the coded Y planes of video files as `luma=(out_y, gt_y)`
    native_luma = True

    def setup(self, device: Any) -> None:
        import torch

        try:
            from vmaf_torch import VMAF
        except ImportError as e:
            raise MetricUnavailable("vmaf", f"vmaf-torch cannot be imported ({e}); pip install vmaf-torch") from e
        self.model = VMAF(temporal_pooling=False, enable_motion=True, clip_score=True).to(device).eval()
        #: how VIF, ADM and motion are computed: "opencv" (vmaf_features, on CPU) or "torch" (vmaf-torch's modules,
        #: on other devices, where its convolutions are fast); both feed vmaf-torch's SVM
        self.features = "opencv" if torch.device(device).type == "cpu" else "torch"
        #: vmaf-torch's SVM in float64 for the opencv features: float32 rounding of its 211 kernel terms alone moves
        #: a score by up to ~5e-4
        self.svm64 = copy.deepcopy(self.model.svm).double().cpu()
        #: per scored clip, in order: (output's luma path, ground truth's luma path)
        self.luma_sources: list[tuple[str, str]] = []
        self._gt: _GtChunk | None = None

    def start(self, num_frames: int) -> _VmafState:
        return _VmafState()

    def _gt_chunk(self, gt, coded, index: int) -> _GtChunk:
        """The ground-truth luma (and reference-side features) of this chunk, computed for the first method only."""
        cached = self._gt
        if cached is None or not cached.holds(gt, coded, index):
            cached = self._gt = _GtChunk(gt, coded, index, *pick_luma(gt, coded))
            if self.features == "opencv":
                from vrbench.metrics.vmaf_features import reference_side

                cached.sides = [reference_side(y) for y in cached.luma[:, 0].cpu().numpy()]
        return cached

    def update(self, state: _VmafState, out, gt, index: int, luma: tuple[Any, Any] = (None, None)) -> None:
        import torch

        if min(out.shape[-2:]) < VMAF_MIN_SIDE:  # the same refusal on every device (vmaf-torch fails deep inside)
            raise InputError(f"VMAF needs frames of at least {VMAF_MIN_SIDE}x{VMAF_MIN_SIDE} pixels (VIF's reflect "
                             "padding at its coarsest scale)", found=f"{out.shape[-1]}x{out.shape[-2]}")
        dist, out_src = pick_luma(out, luma[0])
        ref = self._gt_chunk(gt, luma[1], index)
        state.sources = (out_src, ref.source)
        if self.features == "opencv":
            self._update_opencv(state, ref, dist)
            return
        state.adm.append(self.model.compute_adm_score(ref.luma, dist))
        state.vif.append(self.model.compute_vif_features(ref.luma, dist))
        frames = ref.luma if state.prev is None else torch.cat([state.prev, ref.luma])
        motion = self.model.compute_motion(frames)  # SAD against the previous frame; 0 for the clip's first
        state.motion.append(motion if state.prev is None else motion[1:])
        state.prev = ref.luma[-1:]

    def _update_opencv(self, state: _VmafState, ref: _GtChunk, dist) -> None:
        import torch

        from vrbench.metrics.vmaf_features import adm_score, motion_sad, vif_features

        adm, vif, motion = [], [], []
        for side, y in zip(ref.sides, dist[:, 0].cpu().numpy(), strict=True):
            adm.append(adm_score(side, y))
            vif.append(vif_features(side, y))
            motion.append(0.0 if state.prev is None else motion_sad(state.prev, side.motion_blur))
            state.prev = side.motion_blur
        state.adm.append(torch.tensor(adm, dtype=torch.float64)[:, None])
        state.vif.append(torch.tensor(np.stack(vif), dtype=torch.float64))
        state.motion.append(torch.tensor(motion, dtype=torch.float64)[:, None])

    def provenance(self) -> dict[str, Any]:
        from importlib.metadata import version

        opencv = self.features == "opencv"
        return {**super().provenance(), "vmaf_torch": version("vmaf-torch"),
                "features": "vrbench CPU (OpenCV filtering, vmaf-torch's maths)" if opencv else "vmaf-torch",
                "svm": f"vmaf-torch vmaf_v0.6.1 in {'float64' if opencv else 'float32'}",
                "implementation": "vrbench CPU features (OpenCV) + vmaf-torch SVM in float64" if opencv else
                "vmaf-torch",
                "luma": f"'{CODED_Y}' for 8-bit YUV video files, '{RGB_Y}' otherwise (per side)"}

    def finish(self, state: _VmafState) -> tuple[float, np.ndarray]:
        import torch

        motion = torch.cat(state.motion)
        # motion2 = min(SAD to previous, SAD to next); first frame 0, last frame keeps its SAD to the previous
        nxt = torch.roll(motion, -1, 0)
        motion2 = torch.minimum(motion, nxt)
        motion2[0] = 0
        motion2[-1] = motion[-1]
        features = torch.cat([torch.cat(state.adm), motion2, torch.cat(state.vif)], dim=-1)  # vmaf-torch's order
        scores = (self.svm64 if self.features == "opencv" else self.model.svm)(features).reshape(-1).double()
        per_frame = scores.cpu().numpy()
        self.luma_sources.append(state.sources)
        self._gt = None  # the engine finishes a clip after all its chunks (a later update would recompute)
        return float(per_frame.mean()), per_frame


MODEL = "version=vmaf_v0.6.1"


def ffmpeg_exe() -> str:
    """The ffmpeg of the `imageio-ffmpeg` wheel (or IMAGEIO_FFMPEG_EXE); MetricUnavailable if it lacks libvmaf."""
    try:
        import imageio_ffmpeg
    except ImportError as e:
        raise MetricUnavailable("vmaf-libvmaf", f"imageio-ffmpeg cannot be imported ({e}); "
                                                "pip install imageio-ffmpeg") from e
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    if not _has_libvmaf(exe):
        raise MetricUnavailable("vmaf-libvmaf", f"{exe} is not built with --enable-libvmaf")
    return exe


@functools.lru_cache(maxsize=4)
def _has_libvmaf(exe: str) -> bool:
    listing = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=60)
    return any(line.split()[1:2] == ["libvmaf"] for line in listing.stdout.splitlines())


def y4m_header(width: int, height: int) -> bytes:
    return f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420jpeg\n".encode()


def y4m_frames(y: np.ndarray) -> bytes:
    """uint8 (n, H, W) luma -> YUV4MPEG 4:2:0 frames with neutral (128) chroma."""
    n, h, w = y.shape
    chroma = np.full(2 * ((h + 1) // 2) * ((w + 1) // 2), 128, np.uint8).tobytes()
    return b"".join(b"FRAME\n" + frame.tobytes() + chroma for frame in y)


def luma_uint8(luma: Any) -> np.ndarray:
    """float (n, 1, H, W) luma in [0, 255] -> uint8 (n, H, W), rounded to the nearest integer."""
    import torch

    return luma[:, 0].double().round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def run_libvmaf(distorted: Path, reference: Path, threads: int = 0) -> np.ndarray:
    """Per-frame VMAF of two video files (anything ffmpeg reads) by the libvmaf filter; model vmaf_v0.6.1."""
    exe = ffmpeg_exe()
    with tempfile.TemporaryDirectory(prefix="vrbench-libvmaf-") as tmp:
        log = Path(tmp) / "vmaf.json"
        # the log path is given relative to the working directory: filter option values cannot carry ':' or '\'
        graph = f"[0:v][1:v]libvmaf=model={MODEL}:log_fmt=json:log_path=vmaf.json:n_threads={threads}"
        cmd = [exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(distorted.resolve()),
               "-i", str(reference.resolve()), "-lavfi", graph, "-f", "null", "-"]
        done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0 or not log.is_file():
            tail = " ".join(done.stderr.strip().splitlines()[-3:])
            raise RuntimeError(f"libvmaf failed on {distorted.name} vs {reference.name}: {tail}")
        frames = json.loads(log.read_text())["frames"]
    return np.array([f["metrics"]["vmaf"] for f in frames], np.float64)


@dataclass
class _Y4mPair:
    folder: tempfile.TemporaryDirectory
    frames: int = 0
    sources: tuple[str, str] = ("", "")

    def path(self, side: str) -> Path:
        return Path(self.folder.name) / f"{side}.y4m"

    def append(self, side: str, y: np.ndarray) -> None:
        with open(self.path(side), "ab") as f:
            if self.frames == 0:
                f.write(y4m_header(y.shape[2], y.shape[1]))
            f.write(y4m_frames(y))


class LibvmafMetric(StreamMetric):
    card = MetricCard(
        name="vmaf-libvmaf", summary="VMAF v0.6.1 by libvmaf itself (CPU reference, ffmpeg of imageio-ffmpeg)",
        kind="video", higher_is_better=True, range=(0.0, 100.0), version="1",
        convention="coded Y plane of YUV video files, else BT.601 studio luma of RGB rounded; model vmaf_v0.6.1, "
                   "mean over frames",
        reference="Netflix libvmaf (ffmpeg libvmaf filter)", level="clip", needs_gt=True,
        requires=("imageio_ffmpeg",))
    native_luma = True

    def setup(self, device: Any) -> None:
        self.exe = ffmpeg_exe()
        self.luma_sources: list[tuple[str, str]] = []

    def start(self, num_frames: int) -> _Y4mPair:
        return _Y4mPair(tempfile.TemporaryDirectory(prefix="vrbench-vmaf-"))

    def update(self, state: _Y4mPair, out, gt, index: int, luma: tuple[Any, Any] = (None, None)) -> None:
        (dist, out_src), (ref, gt_src) = pick_luma(out, luma[0]), pick_luma(gt, luma[1])
        state.sources = (out_src, gt_src)
        state.append("out", luma_uint8(dist))
        state.append("gt", luma_uint8(ref))
        state.frames += len(dist)

    def finish(self, state: _Y4mPair) -> tuple[float, np.ndarray]:
        try:
            per_frame = run_libvmaf(state.path("out"), state.path("gt"))
        finally:
            state.folder.cleanup()
        if len(per_frame) != state.frames:
            raise RuntimeError(f"libvmaf scored {len(per_frame)} frames, {state.frames} were given")
        self.luma_sources.append(state.sources)
        return float(per_frame.mean()), per_frame

    def provenance(self) -> dict[str, Any]:
        from importlib.metadata import version

        version_line = subprocess.run([self.exe, "-version"], capture_output=True, text=True).stdout.split("\n")[0]
        return {**super().provenance(), "imageio_ffmpeg": version("imageio-ffmpeg"), "ffmpeg": version_line,
                "model": MODEL}


class ClipConsistencyMetric(StreamMetric):
    card = MetricCard(
        name="clip-consistency", summary="CLIP feature similarity of neighbouring frames (InfVSR)", kind="temporal",
        higher_is_better=True, range=(-1.0, 1.0), version="1",
        convention="CLIP RN50 image features, 224 resize + centre crop, cosine of frames t and t+1, mean over pairs",
        reference="InfVSR semantic consistency; OpenAI CLIP", level="clip", needs_gt=False, weights=(CLIP_RN50,),
        requires=("clip",))

    def setup(self, device: Any) -> None:
        check_ready(self.card)
        try:
            import clip
        except ImportError as e:
            raise MetricUnavailable(self.card.name, f"openai-clip cannot be imported ({e})") from e
        self.model, _ = clip.load(str(CLIP_RN50.path), device=device, jit=False)
        self.model.eval()
        self.device = device

    def _features(self, x):
        import torch
        import torch.nn.functional as F

        h, w = x.shape[-2:]
        s = 224 / min(h, w)
        x = F.interpolate(x, size=(max(224, round(h * s)), max(224, round(w * s))), mode="bicubic",
                          align_corners=False).clamp(0, 1)
        top, left = (x.shape[-2] - 224) // 2, (x.shape[-1] - 224) // 2
        x = x[..., top : top + 224, left : left + 224]
        mean = torch.tensor([0.48145466, 0.4578275, 0.40821073], device=x.device).view(1, 3, 1, 1)
        std = torch.tensor([0.26862954, 0.26130258, 0.27577711], device=x.device).view(1, 3, 1, 1)
        f = self.model.encode_image(((x - mean) / std).to(next(self.model.parameters()).dtype)).float()
        return f / f.norm(dim=-1, keepdim=True)

    def start(self, num_frames: int) -> dict:
        return {"sims": [], "prev": None}

    def update(self, state: dict, out, gt, index: int) -> None:
        import torch

        f = self._features(out)
        if state["prev"] is not None:
            f = torch.cat([state["prev"], f])
        state["sims"].append((f[1:] * f[:-1]).sum(-1).double().cpu().numpy())
        state["prev"] = f[-1:]

    def finish(self, state: dict) -> tuple[float, np.ndarray | None]:
        sims = np.concatenate(state["sims"]) if state["sims"] else np.zeros(0)
        return (float(sims.mean()) if len(sims) else float("nan")), sims


def _register() -> None:
    for cls in (VmafMetric, LibvmafMetric, ClipConsistencyMetric):
        METRICS.add(cls.card, functools.partial(cls))


_register()
