"""The bundled demo dataset: real clips, exact manifest, identical bytes when made again."""

from __future__ import annotations

import json

from vrbench.data.demo import DEMO_CLIPS, is_complete, materialise
from vrbench.registry import DATASETS


def test_demo_has_gt_lq_pairs_and_a_no_gt_clip(demo_root):
    clips = {c.name: c for c in DATASETS.create("demo").clips()}
    assert set(clips) == {c.name for c in DEMO_CLIPS}
    for spec in DEMO_CLIPS:
        clip = clips[spec.name]
        assert clip.lq is not None and clip.lq.num_frames == spec.frames
        if spec.has_gt:
            assert clip.gt.num_frames == spec.frames
            assert clip.gt.size == (clip.lq.height * 4, clip.lq.width * 4)
        else:
            assert clip.gt is None
    assert clips["bbb-bunny"].gt.size == (256, 256)


def test_rematerialising_gives_identical_bytes(demo_root, tmp_path):
    manifest = materialise(tmp_path / "demo")
    original = json.loads((demo_root / "manifest.json").read_text())
    assert manifest["files"] == original["files"]
    assert (tmp_path / "demo" / "manifest.json").read_bytes() == (demo_root / "manifest.json").read_bytes()
    assert is_complete(tmp_path / "demo")


def test_a_damaged_demo_is_detected_and_rebuilt(tmp_path):
    root = tmp_path / "demo"
    materialise(root)
    victim = sorted((root / "GT" / "carphone").iterdir())[3]
    victim.write_bytes(b"broken")
    assert not is_complete(root)
    ds = DATASETS.create("demo", root=root)
    ds.prepare()
    assert is_complete(root)
