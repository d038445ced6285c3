"""The registry: cards, "did you mean", duplicate protection, entry-point plugins."""

from __future__ import annotations

import sys
import textwrap

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


def test_entry_point_plugin_is_discovered(tmp_path, monkeypatch):
    """A plugin package installed beside vrbench registers a method through the `vrbench.methods` group."""
    pkg = tmp_path / "site"
    (pkg / "myplugin").mkdir(parents=True)
    (pkg / "myplugin" / "__init__.py").write_text(textwrap.dedent("""
        from vrbench.methods.base import MethodCard
        from vrbench.registry import METHODS

        @METHODS.register(MethodCard(name="plugin-identity", summary="returns its input", scale=1))
        def plugin_identity():
            return "built"
    """))
    dist = pkg / "myplugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[vrbench.methods]\nidentity = myplugin:plugin_identity\n")
    monkeypatch.syspath_prepend(str(pkg))
    reg = Registry("method", "vrbench.methods")
    monkeypatch.setattr("vrbench.registry.METHODS", reg)
    sys.modules.pop("myplugin", None)
    assert "plugin-identity" in reg.names()
    assert reg.create("plugin-identity") == "built"
    assert reg.entry("plugin-identity").origin == "entry point myplugin:plugin_identity"
