"""Training data and the training loop: the demo-train split, aligned patches, resumable runs, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vrbench.errors import InputError
from vrbench.satb.checkpoint import read_metadata
from vrbench.satb.data import MARGIN, Pairs, camera_path_clip, demo_train_clips, folder_clips, sample_batch
from vrbench.satb.train import TrainConfig, train


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_demo_train_never_overlaps_the_demo_evaluation_clips():
    from vrbench.data.demo import DEMO_CLIPS, DEMO_HELD_OUT

    gt, info, val = demo_train_clips(0)
    evaluated = [(c.source, (c.start, c.start + c.frames)) for c in DEMO_CLIPS]
    for name, meta in info.items():
        if meta["source"].endswith(".mp4"):
            span = tuple(meta["frames"])
            held = DEMO_HELD_OUT[meta["source"]]
            assert held[0] <= span[0] and span[1] <= held[1], name
            assert not any(src == meta["source"] and _overlap(span, ev) for src, ev in evaluated), name
        else:
            assert meta["source"].startswith("skimage.data.")
        assert gt[name].dtype == np.uint8 and gt[name].shape[0] == 12
    assert len(val) == 4 and set(val) <= set(gt)


def test_demo_photos_holds_no_video_frame_and_keeps_whole_photos_for_validation():
    from vrbench.satb.data import PHOTOS, VAL_PHOTOS, demo_photo_clips

    gt, info, val = demo_photo_clips(0, per_photo=1)
    assert all(meta["source"].startswith("skimage.data.") for meta in info.values())
    assert len(gt) == len(PHOTOS) and sorted(val) == sorted(f"photo-{p}-0" for p in VAL_PHOTOS)
    train_sources = {info[k]["source"] for k in gt if k not in val}
    assert not train_sources & {f"skimage.data.{p}" for p in VAL_PHOTOS}


def test_camera_path_moves_smoothly_and_is_seeded():
    import skimage.data

    photo = skimage.data.astronaut()
    a = camera_path_clip(photo, 64, 6, np.random.default_rng(3))
    b = camera_path_clip(photo, 64, 6, np.random.default_rng(3))
    assert a.shape == (6, 64, 64, 3) and np.array_equal(a, b)
    steps = [np.abs(a[i + 1].astype(int) - a[i]).mean() for i in range(5)]
    assert min(steps) > 0.5  # every frame moves


def test_patches_are_aligned_between_gt_and_lq():
    import cv2

    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (6, 64, 96, 3), dtype=np.uint8)
    lq = np.stack([cv2.resize(f, (24, 16), interpolation=cv2.INTER_AREA) for f in gt])
    pairs = Pairs({"a": gt}, {"a": [lq]}, [], {})
    g, q = sample_batch(pairs, ["a"], 6, 8, 3, 4, rng)
    assert g.shape == (6, 3, 32, 32, 3) and q.shape == (6, 3, 8 + 2 * MARGIN, 8 + 2 * MARGIN, 3)
    area = g.reshape(6, 3, 8, 4, 8, 4, 3).astype(float).mean(axis=(3, 5))
    assert np.abs(area - q[:, :, MARGIN:-MARGIN, MARGIN:-MARGIN]).max() <= 1.0


def test_folder_clip_shorter_than_the_window_is_refused(tmp_path, bbb_frames):
    from vrbench.video import write_frames

    write_frames(bbb_frames[:2], tmp_path / "GT" / "short")
    with pytest.raises(InputError, match=r"shorter than the temporal window.*expected >= 3 frames, found 2 frames"):
        folder_clips(tmp_path)


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory, bbb_frames):
    from vrbench.video import write_frames

    root = tmp_path_factory.mktemp("train-data")
    write_frames(bbb_frames[:6, :48, :64], root / "GT" / "a")
    write_frames(bbb_frames[6:, 48:, 64:], root / "GT" / "b")
    return root


def _cfg(root, **kw) -> TrainConfig:
    return TrainConfig(data=str(root), preset="bicubic-x4", steps=4, batch=2, patch=8, warmup=1, val_every=2,
                       net={"scale": 4, "channels": 16}, **kw)


class _Stop(Exception):
    pass


def _stop_at(step: int):
    def on_step(done: int, total: int) -> None:
        if done == step:
            raise _Stop

    return on_step


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, train_dir):
    straight = train(_cfg(train_dir), tmp_path / "a.safetensors", log=lambda m: None)
    with pytest.raises(_Stop):  # dies after step 3; the state saved at step 2 survives
        train(_cfg(train_dir), tmp_path / "b.safetensors", log=lambda m: None, on_step=_stop_at(3))
    assert not (tmp_path / "b.safetensors").exists() and (tmp_path / "b.state.safetensors").exists()
    resumed = train(_cfg(train_dir), tmp_path / "b.safetensors", resume=True, log=lambda m: None)
    from safetensors.torch import load_file

    a, b = load_file(str(tmp_path / "a.safetensors")), load_file(str(tmp_path / "b.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    def losses(meta):
        return [{k: v for k, v in h.items() if k != "wall_s"} for h in meta["history"]]

    assert losses(straight) == losses(resumed) and resumed["steps_done"] == 4
    meta = read_metadata(tmp_path / "b.safetensors")
    assert meta["command"].startswith(f"vrbench satb train --recipe cpu --data {train_dir} --preset bicubic-x4 "
                                      "--variant satb")
    # the Haar space was normalised on the training GT, and the denoiser's sigma_data measured per band
    assert len(meta["net"]["band_rms"]) == 48 and len(meta["net"]["sigma_data"]) == 48
    assert "logical CPUs" in meta["hardware"] and meta["wall_time_s"] > 0
    assert meta["data_manifest"]["preset"] == "bicubic-x4" and set(meta["data_manifest"]["clips"]) == {
        "a-0000", "b-0000"}
    assert set(meta["history"][-1]["val_psnr"]) == {"bicubic", "N0", "N1", "N4"}


def test_resuming_with_another_configuration_is_refused(tmp_path, train_dir):
    with pytest.raises(_Stop):
        train(_cfg(train_dir), tmp_path / "c.safetensors", log=lambda m: None, on_step=_stop_at(3))
    with pytest.raises(InputError, match="cannot resume"):
        train(_cfg(train_dir, lr=1e-3), tmp_path / "c.safetensors", resume=True, log=lambda m: None)


def test_cli_trains_and_shows_a_checkpoint(tmp_path, train_dir):
    from vrbench.satb.cli import satb_app

    out = tmp_path / "naive.safetensors"
    args = ["train", "--data", str(train_dir), "--preset", "bicubic-x4", "--variant", "naive", "--steps", "2",
            "--channels", "16", "--batch", "2", "--patch", "8", "--val-every", "2", "--out", str(out)]
    result = CliRunner().invoke(satb_app, args)
    assert result.exit_code == 0, result.output
    info = CliRunner().invoke(satb_app, ["info", str(out)])
    assert info.exit_code == 0 and '"variant": "naive"' in info.output and "--variant naive" in info.output
    bad = CliRunner().invoke(satb_app, [*args[:-1], str(tmp_path / "x.safetensors"), "--variant", "nave"])
    assert bad.exit_code != 0 and "unknown SATB training variant" in str(bad.exception)
