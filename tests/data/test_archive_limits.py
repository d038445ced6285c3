"""Archives that would unpack to far more than their size (zip bombs) are refused before anything is written."""

from __future__ import annotations

import tarfile
import zipfile

import numpy as np
import pytest

from vrbench.data.archive import MAX_UNPACK_RATIO, safe_unpack
from vrbench.errors import InputError
from vrbench.video import open_video, write_frames

ZEROS_MB = 150  # > MAX_UNPACK_RATIO x 1 MiB: over the limit even for the smallest archive


def _zip_bomb(path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("clip/readme.txt", "frames follow")
        with zf.open("clip/0001.png", "w", force_zip64=True) as entry:
            block = bytes(1 << 20)
            for _ in range(ZEROS_MB):
                entry.write(block)
    return path


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path):
    archive = _zip_bomb(tmp_path / "set.zip")
    assert archive.stat().st_size < 1 << 20  # 150 MiB of zeros in well under a megabyte
    dest = tmp_path / "out"
    with pytest.raises(InputError, match=r"archive would unpack to too much data \(file .*set.zip\): expected at "
                                         rf"most {MAX_UNPACK_RATIO}x its \d+ bytes .* found 157286413 bytes"):
        safe_unpack(archive, dest)
    assert not any(dest.rglob("*"))


def test_a_tar_gz_bomb_is_refused_before_anything_is_written(tmp_path):
    archive = tmp_path / "set.tar.gz"
    with tarfile.open(archive, "w:gz") as tf, open("/dev/zero", "rb") as zeros:
        info = tarfile.TarInfo("clip/0001.png")
        info.size = ZEROS_MB << 20
        tf.addfile(info, zeros)
    dest = tmp_path / "out"
    with pytest.raises(InputError, match="archive would unpack to too much data"):
        safe_unpack(archive, dest)
    assert not any(dest.rglob("*"))


def test_ordinary_frame_archives_still_unpack(tmp_path, bbb_frames):
    write_frames(bbb_frames[:3], tmp_path / "src" / "clip")
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted((tmp_path / "src").rglob("*.png")):
            zf.write(f, f.relative_to(tmp_path / "src").as_posix())
        zf.writestr("clip/notes.txt", b"a" * 50_000)  # text compresses 100x+: still fine
    got = safe_unpack(archive, tmp_path / "out")
    assert sorted(got.files) == ["clip/00000000.png", "clip/00000001.png", "clip/00000002.png", "clip/notes.txt"]
    np.testing.assert_array_equal(open_video(tmp_path / "out" / "clip").read(), bbb_frames[:3])
