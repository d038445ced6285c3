"""Dataset downloads: resumable HTTP(S) with sha256 checks, and exact instructions when offline or manual.

A download goes to `<file>.part` beside its destination; a later attempt asks the server for the rest with an HTTP
`Range` header and appends if the server answers 206 (it starts over on 200). The finished file is checked against
the card's sha256 when the card has one, then renamed into place. With `VRBENCH_OFFLINE=1`, or for hosts that need
a browser (Google Drive folders, OneDrive, login pages), nothing touches the network: the error says which file to
fetch from where, and where to put it.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from vrbench.data.base import DatasetCard, Download
from vrbench.errors import InputError
from vrbench.paths import data_root
from vrbench.weights import offline, sha256_file

CHUNK = 1 << 20
_DRIVE_FILE = re.compile(r"drive\.google\.com/(?:file/d/|open\?id=|uc\?(?:.*&)?id=)([\w-]+)")


def downloads_dir(card: DatasetCard) -> Path:
    """Where downloaded (or hand-placed) archives of a dataset live: `<data root>/.downloads/<name>/`."""
    return data_root() / ".downloads" / card.name


def direct_url(url: str) -> str:
    """A URL that serves the file itself: Google Drive file links go through the download endpoint with the
    confirmation for large files; Dropbox share links get `dl=1`."""
    if match := _DRIVE_FILE.search(url):
        return f"https://drive.usercontent.google.com/download?id={match[1]}&export=download&confirm=t"
    if "dropbox.com" in url:
        return re.sub(r"([?&])dl=0", r"\1dl=1", url) if "dl=0" in url else url + ("&" if "?" in url else "?") + "dl=1"
    return url


def instructions(item: Download, dest: Path) -> str:
    what = f" ({item.what})" if item.what else ""
    check = f"; its sha256 must be {item.sha256}" if item.sha256 else ""
    return f"download {item.url}{what} and put it at {dest}{check}"


def fetch_url(url: str, dest: Path, *, sha256: str = "", timeout: float = 60.0,
              progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Download `url` to `dest`, resuming a previous `.part` file; verify `sha256` if given."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "vrbench", **({"Range": f"bytes={have}-"}
                                                                                if have else {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            _check_not_a_web_page(response, url)
            resumed = response.status == 206
            total = _total_size(response, have if resumed else 0)
            with open(part, "ab" if resumed else "wb") as out:
                done = have if resumed else 0
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
    except urllib.error.HTTPError as e:
        if e.code != 416 or not have:  # 416: nothing left to send, the .part file is already complete
            raise InputError("download failed", file=dest, expected=f"HTTP 200/206 from {url}",
                             found=f"HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        raise InputError("download failed", file=dest, expected=f"a connection to {url}",
                         found=f"{type(e).__name__}: {e}", hint=f"a retry resumes from {part}") from e
    if sha256:
        digest = sha256_file(part)
        if digest != sha256:
            part.unlink()
            raise InputError("downloaded file has the wrong checksum", file=dest, expected=f"sha256 {sha256}",
                             found=f"sha256 {digest}", hint="the partial file was removed; retry")
    part.replace(dest)
    return dest


def _total_size(response, offset: int) -> int | None:
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _check_not_a_web_page(response, url: str) -> None:
    kind = response.headers.get("Content-Type", "")
    if kind.startswith("text/html"):
        raise InputError("the server sent a web page instead of the file", file=url,
                         expected="the dataset archive", found=f"Content-Type {kind}",
                         hint="the host probably wants a browser (quota, login or confirmation page)")


def variants(card: DatasetCard) -> dict[str, list[Download]]:
    out: dict[str, list[Download]] = {}
    for item in card.downloads:
        out.setdefault(item.variant, []).append(item)
    return out


def obtainable(card: DatasetCard) -> bool:
    """True if `obtain` can deliver the files here without a person: a variant is on disk, or can be downloaded now."""
    folder = downloads_dir(card)
    groups = variants(card).values()
    return any(all((folder / i.file).is_file() for i in items) for items in groups) or (
        not offline() and any(not any(i.manual for i in items) for items in groups))


def obtain(card: DatasetCard, log: Callable[[str], None] = print) -> list[Path]:
    """The archives of the first download variant that is complete on disk, or that can be downloaded now.

    Offline, or when every variant needs a browser, raises InputError listing, per variant, each file's URL and
    the exact path to put it at.
    """
    if not card.downloads:
        raise InputError("no download is known for this dataset", dataset=card.name,
                         hint=f"get it as described in datasets/README.md, then run `vrbench datasets prepare "
                              f"{card.name} --from PATH`")
    folder = downloads_dir(card)
    groups = variants(card)
    for items in groups.values():
        paths = [folder / i.file for i in items]
        if all(p.is_file() for p in paths):
            return paths
    for items in groups.values():
        if offline() or any(i.manual for i in items):
            continue
        for item in items:
            dest = folder / item.file
            if not dest.is_file():
                log(f"downloading {item.url} -> {dest}")
                fetch_url(direct_url(item.url), dest, sha256=item.sha256)
        return [folder / i.file for i in items]
    why = "VRBENCH_OFFLINE is set" if offline() else "these hosts need a browser"
    steps = [f"variant '{v}': " + instructions(i, folder / i.file) for v, items in groups.items() for i in items]
    raise InputError(f"dataset files are not on this machine and {why}", dataset=card.name,
                     hint="Any one variant will do (the files of one variant are needed together):\n  "
                          + "\n  ".join(steps) + f"\nThen run `vrbench datasets prepare {card.name}` again, or "
                          "pass the files with --from (repeat it for several files)")
