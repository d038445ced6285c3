"""Plugins: entry-point packages, YAML cards and adapter files from folders, the shipped catalog, `methods list`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import vrbench.methods.builtin  # noqa: F401 - built-ins registered before any test swaps the global registry
from vrbench.cli import app
from vrbench.methods.catalog import catalog_dirs, load_into, parse_card
from vrbench.methods.cli import method_rows
from vrbench.registry import Registry
from vrbench.video import Video

SHIPPED = ("seedvr2-3b", "seedvr2-7b", "seedvr-7b", "star", "upscale-a-video", "mgld-vsr", "dove", "flashvsr",
           "infvsr", "vivid-vr", "satb-vr-official")


def _fresh() -> Registry:
    return Registry("method", "vrbench.tests-no-entry-points")


def test_entry_point_plugin_package_is_discovered_listed_and_run(tmp_path, monkeypatch, lq_clip):
    site = tmp_path / "site"
    (site / "vsrplug").mkdir(parents=True)
    (site / "vsrplug" / "__init__.py").write_text(textwrap.dedent("""
        import numpy as np
        from vrbench.methods.base import MethodCard
        from vrbench.registry import METHODS
        from vrbench.video import Video

        class Repeat:
            card = None
            def config(self):
                return {"impl": "np.repeat"}
            def restore(self, lq, *, scale, steps=None, seed=0, device=None):
                x = lq.read().repeat(scale, axis=1).repeat(scale, axis=2)
                return Video.from_array(x, fps=lq.fps, name=lq.name)

        @METHODS.register(MethodCard(name="plug-repeat", summary="pixel repeat", kind="generative", scale=None))
        def plug_repeat():
            return Repeat()
        plug_repeat.runnable = lambda: (False, "needs weights plug.pt")
    """))
    dist = site / "vsrplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: vsrplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[vrbench.methods]\nrepeat = vsrplug:plug_repeat\n")
    monkeypatch.syspath_prepend(str(site))
    reg = Registry("method", "vrbench.methods")
    monkeypatch.setattr("vrbench.registry.METHODS", reg)
    sys.modules.pop("vsrplug", None)
    assert "plug-repeat" in reg.names()
    assert reg.entry("plug-repeat").origin == "entry point vsrplug:plug_repeat"
    row = next(r for r in method_rows(reg) if r[0] == "plug-repeat")
    assert row[5] == "no: needs weights plug.pt"
    out = reg.create("plug-repeat").restore(lq_clip, scale=2)
    np.testing.assert_array_equal(out.read()[:, ::2, ::2], lq_clip.read())


def test_cards_and_adapter_files_load_from_a_folder(tmp_path, monkeypatch, lq_clip, examples_dir,
                                                    standin_card):
    folder = tmp_path / "adapters"
    folder.mkdir()
    (folder / "mine.yaml").write_text(standin_card.read_text().replace("name: standin-x4", "name: my-standin")
                                      .replace("{card_dir}", str(examples_dir)))
    (folder / "broken.yaml").write_text("name: broken\nsummary: x\ncommand: {argv: [python]}\n")
    (folder / "notyaml.yaml").write_text("name: [unclosed\n")
    (folder / "adapter.py").write_text((examples_dir / "example_adapter.py").read_text())
    (folder / "_private.py").write_text("raise RuntimeError('never imported')\n")
    reg = _fresh()
    monkeypatch.setattr("vrbench.registry.METHODS", reg)  # adapter files register through the global name
    added = load_into(reg, [folder])
    assert sorted(added) == ["example-sharpened-bicubic", "my-standin"]
    assert reg.entry("my-standin").origin == f"card {folder / 'mine.yaml'}"
    assert reg.entry("example-sharpened-bicubic").origin == f"file {folder / 'adapter.py'}"
    errors = reg.load_errors
    assert "deterministic: Field required" in errors[str(folder / "broken.yaml")]
    assert "command.output: Field required" in errors[str(folder / "broken.yaml")]
    assert "not valid YAML" in errors[str(folder / "notyaml.yaml")]
    assert set(errors) == {str(folder / "broken.yaml"), str(folder / "notyaml.yaml")}
    out = reg.create("example-sharpened-bicubic").restore(lq_clip, scale=4, steps=2)
    assert out.read().shape == (6, 96, 128, 3)
    made = reg.create("my-standin", python=sys.executable, work_root=str(tmp_path / "runs"))
    assert made.restore(lq_clip, scale=4, steps=None, seed=0).num_frames == 6


def test_user_folder_from_the_environment_reaches_the_command_line(tmp_path, examples_dir, standin_card):
    folder = tmp_path / "adapters"
    folder.mkdir()
    (folder / "mine.yaml").write_text(standin_card.read_text().replace("name: standin-x4", "name: my-standin")
                                      .replace("{card_dir}", str(examples_dir)))
    env = {**os.environ, "VRBENCH_METHOD_ADAPTERS": str(folder), "COLUMNS": "250",
           "VRBENCH_MY_STANDIN_PYTHON": sys.executable}
    proc = subprocess.run([sys.executable, "-m", "vrbench.cli", "methods", "list"], capture_output=True, text=True,
                          env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split("│")[1].strip(): line for line in proc.stdout.splitlines() if line.count("│") > 3}
    assert "│ yes " in lines["my-standin"]
    assert "no: set repo= (method option) or $VRBENCH_SEEDVR2_3B_REPO" in lines["seedvr2-3b"]
    assert "no: the official script takes no arguments" in lines["flashvsr"]
    assert set(SHIPPED) <= set(lines)


def test_shipped_cards_are_complete_and_say_why_they_cannot_run(tmp_path, monkeypatch):
    cards = {p.stem: parse_card(p) for p in catalog_dirs()[0].glob("*.yaml")}
    assert set(cards) == set(SHIPPED)
    for name, card in cards.items():
        assert card.name == name and card.repo.startswith("https://github.com/") and len(card.commit) == 40
        assert card.license and card.paper and card.default_steps and card.command.requires.gpu
        assert "Not verified here" in card.verified and "Read here" in card.verified
        assert card.kind == "external" and card.command.timeout >= 3600
    reg = _fresh()
    load_into(reg, catalog_dirs()[:1])
    assert set(reg.names()) == set(SHIPPED) and reg.load_errors == {}
    monkeypatch.setenv("VRBENCH_DOVE_REPO", str(tmp_path))
    ok, why = reg.entry("dove").factory.runnable()
    assert not ok and why.startswith("missing file: inference_script.py; missing file: pretrained_models/DOVE")
    assert reg.card("star").seeded is False and reg.card("star").deterministic
    assert reg.card("seedvr2-3b").seeded and not reg.card("seedvr2-3b").supports_steps


def test_methods_show_prints_the_card_and_command():
    out = CliRunner().invoke(app, ["methods", "show", "upscale-a-video"], terminal_width=200)
    assert out.exit_code == 0, out.output
    assert "--save_image" in out.output and "S-Lab License 1.0" in out.output
    assert "runnable here: 'no: set repo=" in out.output and "Not verified here" in out.output


def test_global_registry_lists_builtins_and_the_catalog():
    from vrbench.registry import METHODS

    assert {"nearest", "bicubic", "lanczos", "folder", "gt-oracle", *SHIPPED} <= set(METHODS.names())
    rows = {r[0]: r for r in method_rows(METHODS)}
    assert rows["bicubic"][5] == "yes" and rows["star"][4] == "fixed" and rows["seedvr2-3b"][4] == "seed"
    gt = Video.from_array(np.zeros((2, 8, 8, 3), np.uint8), name="g")
    assert METHODS.create("gt-oracle").restore(gt, scale=4, gt=gt) is gt
    with pytest.raises(ValueError, match="gt-oracle needs the ground truth"):
        METHODS.create("gt-oracle").restore(gt, scale=4)


def test_catalog_dirs_include_the_environment_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("VRBENCH_METHOD_ADAPTERS", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    dirs = catalog_dirs()
    assert dirs[0].name == "method_adapters" and dirs[1:] == [tmp_path / "a", tmp_path / "b"]
    assert Path(dirs[0], "README.md").is_file()
