"""MUSIQ (Ke et al., ICCV 2021, arXiv 2108.05997) through pyiqa's network and KonIQ-10k weights."""

from __future__ import annotations

from vrbench.metrics.learned import PyiqaMetric


class MusiqMetric(PyiqaMetric):
    """pyiqa's MUSIQ, frame by frame on a CPU (see `CPU_FRAME_BY_FRAME`)."""
