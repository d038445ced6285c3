"""Registers the built-in datasets: every card in the catalog's `datasets/*.yaml`, with its loader."""

from __future__ import annotations

import functools
from pathlib import Path

from vrbench.data.base import DatasetCard
from vrbench.data.dataset import Dataset
from vrbench.data.demo import DemoDataset
from vrbench.paths import catalog_dir, data_root
from vrbench.registry import DATASETS

LOADERS: dict[str, type[Dataset]] = {"canonical": Dataset, "demo": DemoDataset}


def _make(card: DatasetCard, root: str | Path | None = None) -> Dataset:
    loader = LOADERS[card.loader]
    return loader(card, Path(root) if root else data_root() / card.name)


def _register() -> None:
    for file in sorted(catalog_dir("datasets").glob("*.yaml")):
        card = DatasetCard.from_yaml(file)
        DATASETS.add(card, functools.partial(_make, card), origin=str(file.name))


_register()
