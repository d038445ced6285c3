"""Dataset loaders: the `Clip` and `Dataset` types, dataset cards, and the built-in loaders."""

from vrbench.data.base import Clip, ClipProblem, DatasetCard
from vrbench.data.dataset import Dataset

__all__ = ["Clip", "ClipProblem", "Dataset", "DatasetCard"]
