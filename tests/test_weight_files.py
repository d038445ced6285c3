"""One WeightFile type for metrics and methods: places, card entries, and `vrbench weights status` listing both."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.errors import InputError
from vrbench.registry import METHODS
from vrbench.weights import WeightFile, fetch, sha256_file


def test_a_method_card_entry_becomes_an_external_weight_file():
    w = WeightFile.from_card(file="ckpts/seedvr2_ema_3b.pth", url="https://example.org/x", note="n")
    assert (w.name, w.subdir, w.place, w.managed) == ("seedvr2_ema_3b.pth", "ckpts", "external", False)
    assert w.file == "ckpts/seedvr2_ema_3b.pth" and w.note == "n" and not w.present()
    with pytest.raises(InputError, match="external method's checkout"):
        fetch(w)
    with pytest.raises(ValueError, match="place must be one of"):
        WeightFile("x", "u", place="cloud")


def test_the_shipped_satb_checkpoint_is_a_package_weight_file_that_is_present():
    (w,) = METHODS.card("satb").weights
    assert isinstance(w, WeightFile) and w.place == "package" and w.present()
    assert w.path.name == "no-ddc.safetensors" and fetch(w) == w.path and len(sha256_file(w.path)) == 64


def test_weights_status_lists_method_weights_beside_metric_weights():
    result = CliRunner().invoke(app, ["weights", "status", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    text = json.dumps(rows)
    assert "no-ddc.safetensors" in text and "satb-dtg" in text  # a method's weights, with the methods using them
    assert "alexnet-owt-7be5be79.pth" in text  # a metric's weights in the same table
    assert "seedvr2_ema_3b.pth" in text and "in the method's checkout" in text  # an external method's, listed only
