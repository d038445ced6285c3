"""Downloads against a local HTTP server: resume with Range, checksum, web-page refusal, offline instructions."""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile

import pytest
from dataset_replicas import build

from vrbench.data.base import DatasetCard, Download
from vrbench.data.download import direct_url, downloads_dir, fetch_url, obtain
from vrbench.data.prepare import prepare_dataset
from vrbench.errors import InputError
from vrbench.registry import DATASETS


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, tuple[bytes, str]] = {}
    ranges: list[str | None] = []
    honour_range = True

    def do_GET(self):  # noqa: N802 - the http.server hook name
        body, kind = self.files[self.path]
        want = self.headers.get("Range")
        type(self).ranges.append(want)
        start = int(want.split("=")[1].rstrip("-")) if want and self.honour_range else 0
        if start >= len(body) and want:
            self.send_response(416)
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.files, _Handler.ranges, _Handler.honour_range = {}, [], True
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler
    httpd.shutdown()
    httpd.server_close()


def test_a_partial_download_resumes_with_a_range_request(server, tmp_path):
    base, handler = server
    payload = bytes(range(256)) * 400
    handler.files["/set.zip"] = (payload, "application/zip")
    dest = tmp_path / "set.zip"
    (tmp_path / "set.zip.part").write_bytes(payload[:30000])
    fetch_url(f"{base}/set.zip", dest, sha256=hashlib.sha256(payload).hexdigest())
    assert dest.read_bytes() == payload and handler.ranges == ["bytes=30000-"]
    assert not (tmp_path / "set.zip.part").exists()
    # a server that ignores Range answers 200: the download starts over instead of appending
    handler.honour_range = False
    (tmp_path / "b.zip.part").write_bytes(b"stale bytes")
    fetch_url(f"{base}/set.zip", tmp_path / "b.zip")
    assert (tmp_path / "b.zip").read_bytes() == payload


def test_wrong_checksum_and_web_pages_are_refused(server, tmp_path):
    base, handler = server
    handler.files["/x.zip"] = (b"not what you wanted", "application/zip")
    handler.files["/page"] = (b"<html>quota exceeded</html>", "text/html; charset=utf-8")
    with pytest.raises(InputError, match="wrong checksum.*expected sha256 0{64}"):
        fetch_url(f"{base}/x.zip", tmp_path / "x.zip", sha256="0" * 64)
    assert not (tmp_path / "x.zip.part").exists() and not (tmp_path / "x.zip").exists()
    with pytest.raises(InputError, match="web page instead of the file.*text/html"):
        fetch_url(f"{base}/page", tmp_path / "p.zip")


def test_share_links_become_direct_links():
    assert direct_url("https://drive.google.com/file/d/1AmGVSCwMm_OFPd3DKgNyTwj0GG2H-tG4") == (
        "https://drive.usercontent.google.com/download?id=1AmGVSCwMm_OFPd3DKgNyTwj0GG2H-tG4&export=download&confirm=t")
    assert "id=1MGeObVQ1-Z29f-myDP7-8c3u0_xECKXq&" in direct_url(
        "https://drive.google.com/open?id=1MGeObVQ1-Z29f-myDP7-8c3u0_xECKXq")
    assert direct_url("https://www.dropbox.com/sh/abc/XYZ?dl=0").endswith("?dl=1")
    assert direct_url("http://data.cv.snu.ac.kr:8008/webdav/dataset/REDS/val_sharp.zip").endswith("val_sharp.zip")


def test_offline_says_which_file_to_get_from_where_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VRBENCH_DATA", str(tmp_path))
    card = DATASETS.card("reds30")
    with pytest.raises(InputError) as info:
        prepare_dataset(card, log=lambda _m: None)
    text = str(info.value)
    assert "VRBENCH_OFFLINE is set" in text
    where = tmp_path / ".downloads" / "reds30" / "val_sharp_bicubic.zip"
    assert ("download http://data.cv.snu.ac.kr:8008/webdav/dataset/REDS/val_sharp_bicubic.zip (REDS validation "
            f"bicubic x4 LQ (SNU CVLab server)) and put it at {where}") in text
    assert "Then run `vrbench datasets prepare reds30` again, or pass the files with --from" in text
    assert "variant 'gdrive': download https://drive.google.com/open?id=1MGeObVQ1" in text
    with pytest.raises(InputError, match="no download is known.*prepare aigc28 --from PATH"):
        obtain(DATASETS.card("aigc28"))


def test_online_prepare_downloads_then_reuses_the_files(server, tmp_path, bbb_frames, monkeypatch):
    base, handler = server
    monkeypatch.setenv("VRBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("VRBENCH_OFFLINE", "0")
    build("flat", tmp_path / "src" / "VideoLQ", bbb_frames, ["000", "001"], gt=False)
    archive = tmp_path / "VideoLQ.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted((tmp_path / "src").rglob("*.png")):
            zf.write(p, p.relative_to(tmp_path / "src").as_posix())
    payload = archive.read_bytes()
    handler.files["/VideoLQ.zip"] = (payload, "application/zip")
    card = DatasetCard(name="videolq", summary="test copy", kind="real", gt="none", layouts=("flat",),
                       downloads=(Download("VideoLQ.zip", f"{base}/VideoLQ.zip",
                                           sha256=hashlib.sha256(payload).hexdigest()),))
    manifest = prepare_dataset(card, log=lambda _m: None)
    assert sorted(manifest["clips"]) == ["000", "001"] and (downloads_dir(card) / "VideoLQ.zip").is_file()
    assert manifest["sources"][0]["sha256"] == hashlib.sha256(payload).hexdigest()
    assert len(handler.ranges) == 1
    monkeypatch.setenv("VRBENCH_OFFLINE", "1")  # the archive is on disk now: no network needed again
    prepare_dataset(card, log=lambda _m: None, force=True)
    assert len(handler.ranges) == 1
