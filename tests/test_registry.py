"""The registry: cards, "did you mean", duplicate protection, entry-point plugins."""

from __future__ import annotations

import pytest

from vrbench.errors import UnknownNameError, VrbenchError
from vrbench.methods.base import MethodCard
from vrbench.registry import DATASETS, METHODS, METRICS, Registry


def test_builtin_entries_are_listed_with_cards():
    assert {"bicubic", "lanczos", "nearest", "folder"} <= set(METHODS.names())
    assert {"psnr-rgb", "psnr-y", "ssim-y", "ssim-rgb", "ssim-yiq", "lpips-alex", "musiq"} <= set(METRICS.names())
    assert {"demo", "folder"} <= set(DATASETS.names())
    assert METRICS.card("lpips-alex").higher_is_better is False
    assert METRICS.names("psnr-*") == ["psnr-rgb", "psnr-y"]


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownNameError, match=r"unknown metric 'psnr_y'\. Did you mean 'psnr-y'"):
        METRICS.card("psnr_y")
    with pytest.raises(UnknownNameError, match="Did you mean 'bicubic'"):
        METHODS.create("bicubik")


def test_double_registration_is_refused():
    reg = Registry("thing", "vrbench.tests-none")
    card = MethodCard(name="x", summary="x")
    reg.add(card, lambda: 1)
    with pytest.raises(VrbenchError, match="registered twice"):
        reg.add(card, lambda: 2)


# Entry-point plugin discovery is tested end to end with a plugin package in tests/methods/test_plugins.py.
