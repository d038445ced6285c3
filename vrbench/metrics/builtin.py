"""Imports the built-in metric modules so they register themselves."""

from vrbench.metrics import fidelity, learned, perception, temporal_metrics, video  # noqa: F401
