"""A broken method card or adapter file fails `run` with the card file, the key path and the validation message,
not as an unknown method."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from vrbench.errors import UnknownNameError
from vrbench.methods.catalog import load_into
from vrbench.registry import Registry


def _broken_standin(standin_card, folder):
    """The stand-in card with one typo in a key: `argv` spelt `arvg`."""
    data = yaml.safe_load(standin_card.read_text())
    data["name"] = "my-method"
    data["command"]["arvg"] = data["command"].pop("argv")
    folder.mkdir(exist_ok=True)
    (folder / "my-method.yaml").write_text(yaml.safe_dump(data))
    return folder / "my-method.yaml"


def test_a_card_with_a_typo_is_named_with_its_key_path_when_looked_up(tmp_path, standin_card, monkeypatch):
    card = _broken_standin(standin_card, tmp_path / "adapters")
    (tmp_path / "adapters" / "renamed.yaml").write_text(card.read_text().replace("my-method", "other-name"))
    (tmp_path / "adapters" / "plugin.py").write_text("import not_a_module_anywhere\n")
    reg = Registry("method", "vrbench.tests-no-entry-points")
    monkeypatch.chdir(tmp_path)
    assert load_into(reg, [tmp_path / "adapters"]) == []
    with pytest.raises(UnknownNameError) as err:
        reg.entry("my-method")
    assert str(err.value) == ("unknown method 'my-method': method card adapters/my-method.yaml is invalid: "
                              "command.argv: Field required; command.arvg: Extra inputs are not permitted")
    # found under the card's name and under its file's stem
    assert "method card adapters/renamed.yaml is invalid: command.argv: Field required" in str(
        pytest.raises(UnknownNameError, reg.entry, "other-name").value)
    assert "adapters/renamed.yaml" in str(pytest.raises(UnknownNameError, reg.entry, "renamed").value)
    assert ("method adapter file adapters/plugin.py failed to load: ModuleNotFoundError: No module named "
            "'not_a_module_anywhere'") in str(pytest.raises(UnknownNameError, reg.entry, "plugin").value)
    assert str(pytest.raises(UnknownNameError, reg.entry, "unrelated").value) == (
        "unknown method 'unrelated'. Known methods: ")  # a name no file meant is not blamed on one


def test_run_records_the_broken_card_as_a_failure_and_exits_1(tmp_path, demo_root, standin_card):
    _broken_standin(standin_card, tmp_path / "adapters")
    config = tmp_path / "bench.yaml"
    config.write_text(yaml.safe_dump({"name": "broken-card", "datasets": [{"name": "demo", "clips": ["carphone"]}],
                                      "methods": ["bicubic", "my-method"], "metrics": ["psnr-rgb"]}))
    env = {**os.environ, "VRBENCH_METHOD_ADAPTERS": str(tmp_path / "adapters"), "COLUMNS": "400"}
    proc = subprocess.run([sys.executable, "-m", "vrbench.cli", "run", str(config), "--store",
                           str(tmp_path / "r.sqlite"), "--outputs", str(tmp_path / "out"), "--no-report"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())  # rich may wrap long lines
    assert "1 results computed" in out
    assert "failed */* my-method (setup):" in out
    assert ("unknown method 'my-method': method card adapters/my-method.yaml is invalid: command.argv: Field "
            "required; command.arvg: Extra inputs are not permitted") in out
