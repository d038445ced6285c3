"""A stand-in for a published method's inference script, for testing `command` cards without weights or a GPU.

It reads a clip (a frame folder or a video file), upsamples every frame with bicubic interpolation, sharpens it
`--steps` times (so the step count changes the output) and adds seeded noise (so the seed does), then writes PNG
frames to `<output>/<name>/` or a lossless video `<output>/<name>.mkv`. `--mode` makes it misbehave the ways
real tools do: fail, hang (with a grandchild process), write one frame too few, the wrong size, undecodable
files, nothing at all, or a symlink that points outside its output folder. `--argv-dump FILE` records the exact
argument list it received, as JSON; `--spawn-daemon` first starts `setsid sleep 1000` (a process that leaves the
tool's session and outlives it) and `--spam-mb N` first prints N MiB of log lines.

Needs numpy and opencv-python (and PyAV for video input/output).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MODES = ("ok", "fail", "hang", "wrong-count", "wrong-size", "garbage", "silent", "escape")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", required=True, help="frame folder or video file")
    p.add_argument("--output", required=True, help="output folder")
    p.add_argument("--name", required=True, help="clip name of the output")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=("frames", "video"), default="frames")
    p.add_argument("--mode", choices=MODES, default="ok")
    p.add_argument("--tag", default="", help="free text, only echoed (for argument-quoting tests)")
    p.add_argument("--argv-dump", default="", help="write the received argument list to this JSON file")
    p.add_argument("--alloc-mb", type=int, default=0, help="hold this much touched memory while running")
    p.add_argument("--escape-target", default="", help="folder the 'escape' mode links to")
    p.add_argument("--spawn-daemon", action="store_true", help="start `setsid sleep 1000` and print its pid")
    p.add_argument("--spam-mb", type=int, default=0, help="print this many MiB of log lines first")
    return p.parse_args(argv)


def hang(output: Path) -> None:
    """Start a grandchild that also hangs, record its pid, and never return."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    output.mkdir(parents=True, exist_ok=True)
    (output / "grandchild.pid").write_text(str(child.pid))
    print(f"hanging; grandchild {child.pid}", flush=True)
    time.sleep(600)


def read_clip(path: Path):
    import cv2
    import numpy as np

    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.suffix.lower() == ".png")
        return np.stack([cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in files])
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def restore(frames, scale: int, steps: int, seed: int):
    import cv2
    import numpy as np

    t, h, w, _ = frames.shape
    up = np.stack([cv2.resize(f, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC) for f in frames])
    out = up.astype(np.float32)
    for _ in range(max(steps, 0)):  # one mild unsharp-mask pass per step
        blur = np.stack([cv2.GaussianBlur(f, (0, 0), 1.0) for f in out])
        out = out + 0.25 * (out - blur)
    out += np.random.default_rng(seed).normal(0.0, 1.0, out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def write_clip(frames, output: Path, name: str, fmt: str, mode: str) -> None:
    import cv2

    if fmt == "video":
        import av

        with av.open(str(output / f"{name}.mkv"), mode="w") as container:
            stream = container.add_stream("ffv1", rate=24)
            stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "bgr0"
            for f in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="bgr0")))
            container.mux(stream.encode())
        return
    folder = output / name
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        target = folder / f"{i:06d}.png"
        if mode == "garbage":
            target.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
        else:
            cv2.imwrite(str(target), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    output = Path(args.output)
    if args.argv_dump:
        Path(args.argv_dump).write_text(json.dumps(argv))
    print(f"stand-in: mode={args.mode} steps={args.steps} seed={args.seed} tag={args.tag!r}", flush=True)
    if args.spawn_daemon:
        daemon = subprocess.Popen(["setsid", "sleep", "1000"])  # keeps our stdout open, as daemons often do
        print(f"daemon {daemon.pid}", flush=True)
    line = b"stand-in: progress " + b"." * 100 + b"\n"
    for _ in range(args.spam_mb * 2**20 // len(line)):
        sys.stdout.buffer.write(line)
    sys.stdout.flush()
    if args.mode == "fail":
        print("stand-in: simulated CUDA out of memory", file=sys.stderr, flush=True)
        return 3
    if args.mode == "hang":
        hang(output)
    ballast = bytearray(args.alloc_mb * 2**20)
    ballast[:: 4096] = b"\x01" * len(ballast[:: 4096])  # touch every page so it is resident
    if args.mode == "silent":
        return 0
    if args.mode == "escape":
        (output / args.name).symlink_to(Path(args.escape_target).resolve(), target_is_directory=True)
        return 0
    frames = restore(read_clip(Path(args.input)), args.scale, args.steps, args.seed)
    if args.mode == "wrong-count":
        frames = frames[:-1]
    if args.mode == "wrong-size":
        frames = frames[:, :, :-4]
    write_clip(frames, output, args.name, args.format, args.mode)
    print(f"stand-in: wrote {len(frames)} frames", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
