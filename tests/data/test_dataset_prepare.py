"""`prepare --from` round trips archives made here, refuses unsafe entries, synthesises LQ, and `verify` checks it."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
import tarfile
import zipfile

import numpy as np
import pytest
from dataset_replicas import build, spmcs_names

from vrbench.data.archive import safe_unpack
from vrbench.data.integrity import dataset_status, verify_dataset
from vrbench.data.prepare import prepare_dataset
from vrbench.errors import InputError
from vrbench.registry import DATASETS
from vrbench.video import open_video
from vrbench.weights import sha256_file


def _zip_folder(folder, archive, prefix=""):
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, prefix + p.relative_to(folder).as_posix())
    return archive


def test_prepare_from_a_zip_round_trips_to_the_canonical_layout(tmp_path, bbb_frames):
    src = tmp_path / "src" / "SPMCS"
    truth = build("spmc", src, bbb_frames, ["calendar", "city"])
    archive = _zip_folder(tmp_path / "src", tmp_path / "SPMCS-original.zip")
    dest = tmp_path / "data" / "spmcs"
    manifest = prepare_dataset(DATASETS.card("spmcs"), [archive], dest=dest, log=lambda _m: None)
    assert manifest["layout"] == "spmc" and manifest["lq_source"] == "released" and manifest["lq_variant"] == "BIx4"
    assert manifest["sources"][0]["sha256"] == sha256_file(archive)
    assert manifest["clips"]["calendar"]["gt"]["frame_names"] == spmcs_names(3)
    assert manifest["clips"]["calendar"]["lq"]["origin"] == "released:BIx4"
    assert sorted(p.name for p in (dest / "GT" / "city").iterdir()) == ["00000000.png", "00000001.png", "00000002.png"]
    # PNG bytes are copied unchanged, and every file is in the sha256 list
    original = src / "city" / "input4" / "Frame 002.png"
    assert (dest / "LQ" / "city" / "00000001.png").read_bytes() == original.read_bytes()
    assert set(manifest["files"]) == {p.relative_to(dest).as_posix() for p in dest.rglob("*.png")}
    clips = DATASETS.create("spmcs", root=dest).clips()
    np.testing.assert_array_equal(clips[0].gt.read(), truth["calendar"])
    assert clips[0].meta["layout"] == "canonical" and clips[0].meta["gt"]["source"].endswith("calendar/truth")
    assert not list(dest.parent.glob(".*"))  # staging and temporary folders are gone
    with pytest.raises(InputError, match="dataset folder already exists.*--force"):
        prepare_dataset(DATASETS.card("spmcs"), [archive], dest=dest, log=lambda _m: None)
    # verify: clean, then a changed and a missing file
    assert verify_dataset(DATASETS.card("spmcs"), dest).ok
    (dest / "GT" / "city" / "00000000.png").write_bytes(b"x")
    (dest / "LQ" / "calendar" / "00000002.png").unlink()
    result = verify_dataset(DATASETS.card("spmcs"), dest)
    assert result.changed == ["GT/city/00000000.png"] and result.missing == ["LQ/calendar/00000002.png"]


def test_prepare_merges_a_zip_and_a_tarball_of_one_set(tmp_path, bbb_frames):
    build("reds", tmp_path / "src", bbb_frames, ["000", "001"])
    gt_zip = _zip_folder(tmp_path / "src" / "val" / "val_sharp", tmp_path / "val_sharp.zip", "val/val_sharp/")
    tarball = tmp_path / "val_sharp_bicubic.tar.gz"
    with tarfile.open(tarball, "w:gz") as tf:
        tf.add(tmp_path / "src" / "val" / "val_sharp_bicubic", "val/val_sharp_bicubic")
    manifest = prepare_dataset(DATASETS.card("reds30"), [gt_zip, tarball], dest=tmp_path / "reds30",
                               lq_source="released", log=lambda _m: None)
    assert sorted(manifest["clips"]) == ["000", "001"] and manifest["layout"] == "reds"
    assert [s["name"] for s in manifest["sources"]] == ["val_sharp.zip", "val_sharp_bicubic.tar.gz"]
    assert open_video(tmp_path / "reds30" / "LQ" / "001").size == (8, 12)


def test_gt_only_sets_get_seeded_lq_with_per_clip_manifests(tmp_path, bbb_frames):
    from vrbench.degrade import replay_manifest
    from vrbench.degrade.manifest import frames_sha256

    build("flat", tmp_path / "src" / "YouHQ40", bbb_frames, ["clip-a", "clip-b"], lq=False)
    dest = tmp_path / "youhq40"
    card = DATASETS.card("youhq40")
    manifest = prepare_dataset(card, [tmp_path / "src"], dest=dest, lq_source="degrade:bicubic-x4:3",
                               log=lambda _m: None)
    assert manifest["lq_source"] == "degrade:bicubic-x4:3" and manifest["problems"] == []
    degradation = manifest["clips"]["clip-b"]["degradation"]
    assert degradation["preset"]["name"] == "bicubic-x4" and degradation["seed"] == 3
    assert degradation["clip_id"] == "clip-b"
    clip = {c.name: c for c in DATASETS.create("youhq40", root=dest).clips()}["clip-b"]
    gt = clip.gt.read()
    assert frames_sha256(gt) == degradation["gt"]["sha256"]  # the GT on disk is what was degraded
    np.testing.assert_array_equal(replay_manifest(gt, degradation, device="cpu"), clip.lq.read())
    assert clip.meta["degradation"]["lq"]["sha256"] == degradation["lq"]["sha256"]


def test_card_default_realbasicvsr_lq_on_a_clip_whose_size_is_not_a_multiple_of_4(tmp_path, bbb_frames):
    from dataset_replicas import clip_frames, write_pngs

    write_pngs(tmp_path / "src" / "GT" / "odd", clip_frames(bbb_frames, 3, hw=(34, 50)))
    manifest = prepare_dataset(DATASETS.card("reds4"), [tmp_path / "src"], dest=tmp_path / "reds4",
                               log=lambda _m: None)
    entry = manifest["clips"]["odd"]
    assert entry["degradation"]["preset"]["name"] == "realbasicvsr-x4"
    assert "GT cropped to 48x32" in entry["notes"][0]
    (clip,) = DATASETS.create("reds4", root=tmp_path / "reds4").clips()
    assert clip.gt.size == (32, 48) and clip.lq.size == (8, 12)
    assert any("GT cropped to 48x32" in n for n in clip.meta["notes"])


def _zip_with(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            if mode:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


@pytest.mark.parametrize(("entries", "message"), [
    ([("SPMCS/ok.png", b"1", 0), ("../evil.png", b"2", 0)], "escapes the extraction folder.*../evil.png"),
    ([("/abs/evil.png", b"2", 0)], "absolute path.*/abs/evil.png"),
    ([("C:/evil.png", b"2", 0)], "absolute path.*C:/evil.png"),
    ([("SPMCS/link", b"../../outside", stat.S_IFLNK | 0o777)], "symbolic link points outside.*SPMCS/link"),
], ids=["dotdot", "absolute", "drive", "symlink"])
def test_unsafe_zip_entries_refuse_the_whole_archive(tmp_path, entries, message):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(_zip_with(entries))
    with pytest.raises(InputError, match=message):
        safe_unpack(archive, tmp_path / "out")
    assert not (tmp_path / "evil.png").exists() and not list((tmp_path / "out").rglob("*"))


def _tar_with(path, members):
    with tarfile.open(path, "w") as tf:
        for name, kind, target in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = 1
                tf.addfile(info, io.BytesIO(b"1"))
            else:
                info.type, info.linkname = (tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE), target
                tf.addfile(info)


def test_tar_links_out_of_the_tree_are_refused_and_links_inside_are_skipped(tmp_path):
    _tar_with(tmp_path / "sym.tar", [("set/a.png", "file", ""), ("set/b.png", "sym", "../../../etc/passwd")])
    with pytest.raises(InputError, match="symbolic link points outside.*set/b.png -> ../../../etc/passwd"):
        safe_unpack(tmp_path / "sym.tar", tmp_path / "o1")
    _tar_with(tmp_path / "hard.tar", [("set/a.png", "file", ""), ("set/h.png", "hard", "../outside.png")])
    with pytest.raises(InputError, match="hard link points outside"):
        safe_unpack(tmp_path / "hard.tar", tmp_path / "o2")
    _tar_with(tmp_path / "ok.tar", [("set/a.png", "file", ""), ("set/c.png", "sym", "a.png"),
                                    ("set/__MACOSX/x", "file", "")])
    unpacked = safe_unpack(tmp_path / "ok.tar", tmp_path / "o3")
    assert unpacked.files == ["set/a.png"] and unpacked.skipped == ["set/c.png", "set/__MACOSX/x"]
    assert not (tmp_path / "o3" / "set" / "c.png").exists()


def test_prepare_refuses_a_traversal_archive_and_leaves_nothing_behind(tmp_path):
    archive = tmp_path / "UDM10.zip"
    archive.write_bytes(_zip_with([("UDM10/GT/a/00000000.png", b"1", 0), ("UDM10/../../pwned.png", b"2", 0)]))
    dest = tmp_path / "data" / "udm10"
    with pytest.raises(InputError, match="escapes the extraction folder"):
        prepare_dataset(DATASETS.card("udm10"), [archive], dest=dest, log=lambda _m: None)
    assert not dest.exists() and list((tmp_path / "data").iterdir()) == []
    assert not (tmp_path / "pwned.png").exists()


def test_status_is_prepared_partial_or_missing(tmp_path, bbb_frames, monkeypatch):
    monkeypatch.setenv("VRBENCH_DATA", str(tmp_path))
    card = DATASETS.card("udm10")
    assert dataset_status(card).state == "missing"
    build("canonical", tmp_path / "udm10", bbb_frames, list(card.clip_names))
    with pytest.raises(InputError, match="dataset folder already exists"):  # a hand-placed copy is never replaced
        prepare_dataset(card, [tmp_path / "udm10"], log=lambda _m: None)
    status = dataset_status(card)
    assert status.state == "partial" and "no checksums" in status.detail
    assert verify_dataset(card).wrote_manifest
    assert dataset_status(card).state == "prepared"
    shutil.rmtree(tmp_path / "udm10" / "LQ" / "band")
    status = dataset_status(card)
    assert status.state == "partial" and "files missing" in status.detail
    assert json.loads((tmp_path / "udm10" / "manifest.json").read_text())["dataset"] == "udm10"


def _gt_to_crop(src, bbb_frames):
    """One GT-only clip of 20 frames (more than one chunk) whose 34x50 size is not a multiple of the x4 scale."""
    from dataset_replicas import clip_frames, write_pngs

    frames = clip_frames(bbb_frames, 3, frames=20, hw=(34, 50))
    write_pngs(src / "YouHQ40" / "odd", frames)
    return frames


def _pair_to_decode(src, bbb_frames, frames=20):
    """A GT in a lossless container and its LQ as JPEG frames: both sides are decoded and written as PNG."""
    import cv2
    from dataset_replicas import clip_frames

    from vrbench.video import write_video_lossless

    gt = clip_frames(bbb_frames, 5, frames=frames, hw=(88, 120))
    write_video_lossless(gt, src / "GT" / "vid.mkv")
    (src / "LQ" / "vid").mkdir(parents=True)
    for i, frame in enumerate(gt[:, ::4, ::4]):
        cv2.imwrite(str(src / "LQ" / "vid" / f"{i:03d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
    return gt


def _files_digest(manifest):
    return hashlib.sha256(json.dumps(manifest["files"], sort_keys=True).encode()).hexdigest()


# sha256 of the sorted {file: sha256} list of the prepared folder, recorded from the implementation that read each
# clip whole (and rewrote a cropped GT from one array) before prepare wrote clips chunk by chunk
PREPARED_BEFORE_STREAMING = {
    "crop": "1a0c10b93ab9ea13377e71df69e08aab4252110a17bd43bd7a048ceb41c601cb",
    "decode": "0097974884d26324006a76e6f91eb9b80bc3c03622652f67e2e4b7e15e98fc4c",
}


def test_prepare_writes_clips_chunk_by_chunk_with_the_bytes_of_the_whole_clip_writer(tmp_path, bbb_frames):
    frames = _gt_to_crop(tmp_path / "a", bbb_frames)
    manifest = prepare_dataset(DATASETS.card("youhq40"), [tmp_path / "a"], dest=tmp_path / "A",
                               lq_source="degrade:bicubic-x4:3", log=lambda _m: None)
    assert _files_digest(manifest) == PREPARED_BEFORE_STREAMING["crop"]
    assert len(manifest["files"]) == 40 and "GT cropped to 48x32" in manifest["clips"]["odd"]["notes"][0]
    np.testing.assert_array_equal(open_video(tmp_path / "A" / "GT" / "odd").read(), frames[:, :32, :48])
    gt = _pair_to_decode(tmp_path / "c", bbb_frames)
    manifest = prepare_dataset(DATASETS.card("folder"), [tmp_path / "c"], dest=tmp_path / "C",
                               lq_source="released", log=lambda _m: None)
    assert _files_digest(manifest) == PREPARED_BEFORE_STREAMING["decode"]
    np.testing.assert_array_equal(open_video(tmp_path / "C" / "GT" / "vid").read(), gt)


@pytest.mark.parametrize("lq_source", ["released", "degrade:bicubic-x4:0"])
def test_prepare_holds_a_chunk_of_a_clip_not_the_whole_clip(tmp_path, bbb_frames, lq_source):
    import tracemalloc

    gt = _pair_to_decode(tmp_path / "src", bbb_frames, frames=160)  # ten chunks of Video.iter_chunks
    card = DATASETS.card("folder")
    # a first run imports what preparing needs, so the measured one counts frames, not module imports
    prepare_dataset(card, [tmp_path / "src"], dest=tmp_path / "first", lq_source=lq_source, log=lambda _m: None)
    tracemalloc.start()  # numpy reports its buffers to tracemalloc: decoded frames and chunks are counted
    try:
        prepare_dataset(card, [tmp_path / "src"], dest=tmp_path / "out", lq_source=lq_source, log=lambda _m: None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(list((tmp_path / "out" / "GT" / "vid").iterdir())) == 160
    assert len(list((tmp_path / "out" / "LQ" / "vid").iterdir())) == 160
    # one chunk is a tenth of the clip; decoding it and stacking it hold about two; the whole clip is ten. The
    # degradation's float32 batch (8 frames, 4 bytes a value: two more tenths) is a NumPy buffer on the CPU and is
    # counted too; the whole clip in float32 would be forty.
    bound = 0.4 if lq_source == "released" else 0.8
    assert peak < bound * gt.nbytes, f"peak {peak} bytes while preparing a clip of {gt.nbytes} bytes"
