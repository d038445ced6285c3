"""The one door for weight files: where each lives, where it comes from, and how it is checked.

Learned metrics and methods declare `WeightFile`s on their cards (one type for both, so `vrbench weights status`
lists every file anything needs). Nothing else in vrbench downloads anything.
`VRBENCH_OFFLINE=1` guarantees no network access; a missing file then produces an error that names the file,
its URL and the exact path to put it at.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

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
class WeightFile:
    """One weights file of a metric or a method: its name, where it lives, its URL and its checksum.

    `place` says where `subdir/name` is resolved: `hub` under the torch hub dir (vrbench fetches and verifies it),
    `package` inside the installed vrbench package (shipped, e.g. the SATB checkpoints), `external` inside a
    method's own checkout (the method's card tells where; vrbench lists it but neither fetches nor checks it).
    `sha256` is the full digest when we know it; otherwise `sha256_prefix` holds the prefix that the file name
    carries by the torch hub convention (`name-<prefix>.pth`), which is what its publisher guarantees.
    """

    name: str
    url: str
    subdir: str = ""
    sha256: str = ""
    sha256_prefix: str = ""
    used_by: str = ""
    note: str = ""
    place: str = "hub"

    def __post_init__(self) -> None:
        if self.place not in PLACES:
            raise ValueError(f"weights file '{self.name}': place must be one of {PLACES}, got {self.place!r}")

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

    def missing_message(self) -> str:
        if not self.managed:
            return f"{self.name}: get it from {self.url} into the method's checkout at {self.file}"
        return f"{self.name}: download {self.url} and put it at {self.path} (or run `vrbench weights import FILE`)"

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
    """sha256 of the cached file, memoised by (size, mtime) in a small JSON beside the cache, verified against the
    published checksum unless unverified weights are allowed."""
    import json

    memo_file = torch_hub_dir() / "vrbench-sha256.json"
    st = weight.path.stat()
    stamp = f"{st.st_size}:{st.st_mtime_ns}"
    try:
        memo = json.loads(memo_file.read_text()) if memo_file.is_file() else {}
    except (OSError, ValueError):
        memo = {}
    entry = memo.get(str(weight.path))
    if entry and entry.get("stamp") == stamp:
        value = entry["sha256"]
    else:
        value = sha256_file(weight.path)
        memo[str(weight.path)] = {"stamp": stamp, "sha256": value}
        tmp = memo_file.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(memo, indent=1))
            os.replace(tmp, memo_file)
        except OSError:
            tmp.unlink(missing_ok=True)
    want = weight.sha256 or weight.sha256_prefix
    if want and not value.startswith(want) and not allow_unverified():
        raise InputError("weights file has the wrong checksum", file=weight.path, expected=f"sha256 {want}…",
                         found=f"sha256 {value[:16]}…",
                         hint=f"Replace it with {weight.url}, or set VRBENCH_ALLOW_UNVERIFIED_WEIGHTS=1 to use it")
    return value


def sha256_file(file: Path, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(file, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def fetch(weight: WeightFile, *, force: bool = False) -> Path:
    """Download a weights file to its cache path (atomically), verifying its checksum. Shipped files are checked in
    place; files in a method's own checkout are the method's to fetch (InputError says where they go)."""
    if weight.place == "external":
        raise InputError("weights file belongs to an external method's checkout", file=weight.file,
                         hint=weight.missing_message())
    if weight.place == "package" or (weight.present() and not force):
        weight.check()
        return weight.path
    if offline():
        raise VrbenchError(f"VRBENCH_OFFLINE is set and {weight.missing_message()}")
    weight.path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=weight.path.parent, prefix=f".{weight.name}.")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(weight.url, timeout=60) as response:
            shutil.copyfileobj(response, out)
        weight.check(Path(tmp))
        os.replace(tmp, weight.path)
    except OSError as e:
        raise VrbenchError(f"could not download {weight.url}: {e}. {weight.missing_message()}") from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return weight.path


def import_file(file: Path, known: list[WeightFile]) -> Path:
    """Copy a user-downloaded file into its cache place, matched by file name, after checking its checksum."""
    matches = [w for w in known if w.name == file.name]
    if not matches:
        names = ", ".join(sorted({w.name for w in known}))
        raise InputError("not a known weights file", file=file, expected=f"one of: {names}", found=file.name)
    weight = matches[0]
    weight.check(file)
    weight.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = weight.path.with_name(f".{weight.name}.importing")
    shutil.copyfile(file, tmp)
    os.replace(tmp, weight.path)
    return weight.path
