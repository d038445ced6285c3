"""Nothing stale, nothing poisoned: precomputed outputs are keyed by their content (outputs replaced in place are
scored again), and a frame metric's row over 0 frames or without a value is never stored nor reused as a success."""

from __future__ import annotations

import os
import shutil
import sqlite3

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.config import parse_config
from vrbench.digests import DigestMemo
from vrbench.errors import InputError
from vrbench.run.runner import run_benchmark
from vrbench.store import ResultRow, Store
from vrbench.video import open_video, write_frames

runner = CliRunner()


@pytest.fixture
def dataset(tmp_path, demo_root):
    """One demo clip (GT and LQ frames) as a `folder` dataset."""
    root = tmp_path / "data"
    for side in ("GT", "LQ"):
        shutil.copytree(demo_root / side / "carphone", root / side / "carphone")
    return root


def _evaluate(tmp_path, dataset, outputs):
    out = runner.invoke(app, ["evaluate", "--dataset", "folder", "--root", str(dataset), "--outputs", str(outputs),
                              "--method-name", "Mine", "--metrics", "psnr-rgb", "--store", str(tmp_path / "r.sqlite"),
                              "--run", "mine", "--no-report"], terminal_width=400)
    return out.exit_code, " ".join(out.output.split())


def _stored(tmp_path) -> list[float]:
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        return [v for (v,) in db.execute("SELECT value FROM results WHERE run = 'mine'")]


def test_outputs_replaced_in_place_by_the_gt_are_scored_again(tmp_path, dataset):
    gt = open_video(dataset / "GT" / "carphone").read()
    lq = open_video(dataset / "LQ" / "carphone").read()
    outputs = tmp_path / "res"
    write_frames(np.stack([cv2.resize(f, gt.shape[2:0:-1], interpolation=cv2.INTER_CUBIC) for f in lq]),
                 outputs / "carphone")
    code, text = _evaluate(tmp_path, dataset, outputs)
    assert code == 0, text
    (bicubic,) = _stored(tmp_path)
    assert 15 < bicubic < 40
    code, text = _evaluate(tmp_path, dataset, outputs)  # unchanged outputs: reused
    assert code == 0 and "0 results computed" in text, text
    write_frames(gt, outputs / "carphone")  # same folder, same file names, the GT's frames
    code, text = _evaluate(tmp_path, dataset, outputs)
    assert code == 0, text
    assert "1 results computed" in text, text
    assert _stored(tmp_path) == [float("inf")]


def test_a_file_rewritten_with_its_size_and_mtime_forced_back_is_hashed_again(tmp_path):
    memo_file, frame = tmp_path / "memo.json", tmp_path / "00000000.png"
    frame.write_bytes(b"A" * 4096)
    memo = DigestMemo(memo_file)
    first = memo.sha256(frame)
    memo.save()
    assert DigestMemo(memo_file).entries[str(frame.resolve())]["sha256"] == first
    st = os.stat(frame)
    with open(frame, "r+b") as f:  # in place: same inode, same size
        f.write(b"B")
    os.utime(frame, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (os.stat(frame).st_size, os.stat(frame).st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    memo = DigestMemo(memo_file)  # reads the entry saved above
    second = memo.sha256(frame)
    memo.save()
    assert second != first
    assert DigestMemo(memo_file).entries[str(frame.resolve())]["sha256"] == second


def _row(tmp_path, per_frame, value):
    return ResultRow("r", "demo", "carphone", "m", "h", -1, 0, "psnr-rgb", value, per_frame, "1", "p", "m", "k", "")


def test_the_store_refuses_a_frame_metric_over_0_frames_or_without_a_value(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(InputError, match="refusing to store a result: a frame metric scored 0 frames"):
            store.put_results([_row(tmp_path, np.zeros(0), float("nan"))])
        with pytest.raises(InputError, match="no value over 3 frames"):
            store.put_results([_row(tmp_path, np.full(3, np.nan), float("nan"))])
        store.put_results([_row(tmp_path, None, float("nan"))])  # a clip-level n/a (1-frame clip) is allowed
        assert store.db.execute("SELECT count(*) FROM results WHERE per_frame IS NOT NULL").fetchone() == (0,)


def _config(name, root):
    return parse_config({"name": name, "datasets": [{"name": "demo", "clips": ["carphone"]}],
                         "methods": [{"name": "folder", "label": "GT copy", "options": {"root": str(root)}}],
                         "metrics": ["psnr-rgb", "ssim-y"]})


def test_rows_poisoned_by_an_older_version_are_recomputed_not_reused(tmp_path, demo_root):
    write_frames(open_video(demo_root / "GT" / "carphone").read(), tmp_path / "res" / "carphone")
    store = tmp_path / "r.sqlite"
    first = run_benchmark(_config("a", tmp_path / "res"), store, tmp_path / "out")
    assert first.computed == 2
    with sqlite3.connect(store) as db:  # what `chunk: -1` made older versions store: NULL over 0 frames
        db.execute("UPDATE results SET value = NULL, per_frame = x'', frames = 0")
    again = run_benchmark(_config("a", tmp_path / "res"), store, tmp_path / "out")  # same run: recomputed
    other = run_benchmark(_config("b", tmp_path / "res"), store, tmp_path / "out")  # another run: not reused
    assert (again.computed, again.cached, again.failed) == (2, 0, [])
    assert other.cached == 2  # reused, but from run a's recomputed rows
    with Store(store) as s:
        for run in ("a", "b"):
            df = s.results_frame(run)
            assert set(df["frames"]) == {32} and np.isinf(df[df.metric == "psnr-rgb"].value).all()


def test_a_chunk_that_escaped_validation_still_scores_every_frame(tmp_path, demo_root):
    """`chunk: -1` once stored NULL over 0 frames as a success; the engine now takes at least one frame a chunk, and
    the store refuses 0-frame rows whatever happens upstream (test above)."""
    write_frames(open_video(demo_root / "GT" / "carphone").read(), tmp_path / "res" / "carphone")
    config = _config("zero", tmp_path / "res").model_copy(update={"chunk": -1})  # a config that escaped validation
    summary = run_benchmark(config, tmp_path / "r.sqlite", tmp_path / "out")
    assert summary.failed == [] and summary.computed == 2
    with Store(tmp_path / "r.sqlite") as s:
        df = s.results_frame("zero")
    assert (df["frames"] == 32).all() and df["value"].notna().all()
