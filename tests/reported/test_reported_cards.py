"""Reported-result cards: the shipped cards load and hold the papers' values as printed; a bad card is refused with
one line per bad entry naming the file and the key; `vrbench reported list|show`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.registry import DATASETS, METHODS, METRICS
from vrbench.reported.cards import ReportedCardError, load_cards, load_catalog, read_card
from vrbench.reported.compare import disagreements, reported_tables

runner = CliRunner()
SHIPPED = ["dtg-restore-table1", "dtg-restore-table2", "seedvr2-table1", "seedvr2-table4"]


@pytest.fixture(scope="module")
def catalog():
    cards, broken = load_catalog()
    assert broken == {}, {k: e.problems for k, e in broken.items()}
    return cards


def _value(card, dataset: str, metric: str, method: str) -> str:
    return next(v.text for v in card.values if (v.dataset, v.metric, v.method) == (dataset, metric, method))


def test_the_four_tables_load_with_known_ids(catalog):
    assert sorted(catalog) == SHIPPED
    for card in catalog.values():
        assert card.source["paper"] and card.source["table"] and card.protocol["lq"]
        assert set(card.datasets.values()) <= set(DATASETS.names())
        assert {m.id for m in card.metrics.values() if m.id} <= set(METRICS.names())
        assert {m.card for m in card.methods.values() if m.card} <= set(METHODS.names())
        assert all(m.higher_is_better is not None for m in card.metrics.values())
    # the tables' sizes: the excerpt's 6 x 4 cells + the text's LPIPS, 7 methods x 5, 8 x 24 rows, 9 x 24
    assert [len(catalog[n].values) for n in SHIPPED] == [6 * 4 + 1, 7 * 5, 8 * 24, 9 * 24]


def test_values_are_kept_as_printed(catalog):
    t1, t4 = catalog["seedvr2-table1"], catalog["seedvr2-table4"]
    assert _value(t1, "spmcs", "PSNR", "SeedVR2-7B") == "22.90"  # the trailing zero of the paper survives
    assert _value(t4, "spmcs", "DOVER", "Bicubic") == "0.9490"
    assert _value(catalog["dtg-restore-table1"], "spmcs", "PSNR", "SeedVR2-7B") == "20.66"
    assert _value(catalog["dtg-restore-table2"], "genwarp480", "LAION AP", "DTG-Restore") == "4.642"
    assert t1.metrics["DOVER"].id == "dover-tech100" and t4.metrics["E*warp"].id == "ewarp-gt"
    assert t4.metrics["E*warp"].higher_is_better is False  # printed with an up arrow; lower is better (A.2)
    laion = catalog["dtg-restore-table2"].metrics["LAION AP"]
    assert laion.id == "laion-aes" and laion.higher_is_better is True and not laion.exact and laion.note
    assert not any(m.exact for c in catalog.values() for m in c.metrics.values())  # no paper states its conventions


def test_papers_that_disagree_are_found(catalog):
    found = {(d.method, d.dataset, d.metric): d.values for d in disagreements([catalog["seedvr2-table1"]],
                                                                              list(catalog.values()))}
    spmcs = found[("SeedVR2-7B (seedvr2-7b)", "spmcs", "psnr-rgb")]
    assert {(name, text) for name, _, text in spmcs} == {("seedvr2-table1", "22.90"), ("dtg-restore-table1", "20.66")}
    assert ("SeedVR2-7B (seedvr2-7b)", "spmcs", "ssim-yiq") in found
    # RealViformer has no method card: matched by its printed name
    assert {t for _, _, t in found[("RealViformer", "udm10", "psnr-rgb")]} == {"26.70", "26.78"}
    # equal values are no disagreement, and a cell only one paper prints is none either
    assert not any(k[0].startswith("MGLD") for k in found)


def test_reported_tables_mark_best_among_their_own_rows_and_stay_apart(catalog):
    tables = reported_tables([catalog["seedvr2-table1"]], list(catalog.values()))
    spmcs = next(t for t in tables if t.dataset == "spmcs")
    assert spmcs.marks["PSNR"] == {"RealViformer": "best", "MGLD-VSR": "second"}
    assert spmcs.marks["LPIPS"] == {"SeedVR2-3B": "best", "SeedVR2-7B": "second"}  # lower is better
    assert not spmcs.ranked_with_run and spmcs.apart_because == ["no measured results on this dataset"]
    assert [t.dataset for t in tables] == ["spmcs", "udm10", "reds30", "youhq40", "videolq", "aigc28"]


GOOD = {
    "name": "mine", "title": "t", "source": {"paper": "P", "table": "Table 9"},
    "protocol": {"lq": "own degradations"}, "datasets": {"SPMCS": "spmcs"},
    "metrics": {"PSNR": "psnr-y", "User score": {"id": None, "higher_is_better": True, "note": "no metric of ours"}},
    "methods": {"A": None, "B": "bicubic"}, "columns": ["A", "B"],
    "rows": {"SPMCS": {"PSNR": ["24.10", None], "User score": ["4.40", "–"]}},
}


def _write(tmp_path: Path, data: dict, name: str = "mine") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_good_card_from_a_file(tmp_path):
    card = load_cards([str(_write(tmp_path, GOOD))])[0]
    # None and – are cells the paper does not print
    assert [(v.method, v.metric, v.text, v.value) for v in card.values] == [("A", "PSNR", "24.10", 24.1),
                                                                            ("A", "User score", "4.40", 4.4)]
    assert card.methods["B"].card == "bicubic" and card.metrics["PSNR"].higher_is_better is True
    user = card.metrics["User score"]
    assert user.id is None and user.key == "User score" and user.higher_is_better is True and not user.exact


def test_a_bad_card_is_refused_with_one_line_per_entry(tmp_path):
    bad = json.loads(json.dumps(GOOD))
    bad["metrics"] = {"PSNR": "psnr-yy", "NIQE": {"id": None}}
    bad["datasets"]["REDS"] = "reds31"
    bad["methods"]["B"] = "bicubik"
    bad["rows"] = {"SPMCS": {"PSNR": ["24.1O", "1"], "SSIM": ["0.5", "0.6"]}, "REDS": {"PSNR": ["1"]}}
    bad["colour"] = "red"
    path = _write(tmp_path, bad)
    with pytest.raises(ReportedCardError) as e:
        read_card(path)
    problems = e.value.problems
    expected_keys = ["card.colour", "datasets.REDS", "metrics.PSNR.id", "metrics.NIQE", "methods.B.card",
                     "rows.REDS", "rows.SPMCS.PSNR.A", "rows.SPMCS.SSIM"]
    for key in expected_keys:
        assert sum(p.startswith(key) for p in problems) == 1, (key, problems)
    assert len(problems) == len(expected_keys)
    assert "'24.1O'" in next(p for p in problems if p.startswith("rows.SPMCS.PSNR.A"))
    assert "psnr-yy" in next(p for p in problems if p.startswith("metrics.PSNR.id"))
    assert str(path) in str(e.value) and all("\n" not in p for p in problems)


def test_cli_list_and_show(tmp_path):
    out = runner.invoke(app, ["reported", "list", "--json"])
    assert out.exit_code == 0
    assert [r["name"] for r in json.loads(out.output)] == SHIPPED
    out = runner.invoke(app, ["reported", "show", "seedvr2-table1"], terminal_width=200)
    assert out.exit_code == 0 and "reported, not measured here" in out.output and "arXiv 2506.05301" in out.output
    assert "20.66 in dtg-restore-table1; 22.90 in seedvr2-table1" in out.output
    out = runner.invoke(app, ["reported", "show", "seedvr2-table4", "--json"])
    rows = json.loads(out.output)
    assert {"dataset": "spmcs", "metric": "E*warp", "metric_id": "ewarp-gt", "method": "Bicubic",
            "method_card": "bicubic", "value": "0.395"} in rows and len(rows) == 216


def test_cli_refuses_an_unknown_or_bad_card_in_one_line_each(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "vrbench.cli", "reported", "show", "seedvr2-tabel1"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "Did you mean 'seedvr2-table1'" in out.stdout
    bad = dict(GOOD, rows={"SPMCS": {"PSNR": ["x", "1"]}})
    out = subprocess.run([sys.executable, "-m", "vrbench.cli", "reported", "show", str(_write(tmp_path, bad))],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stdout + out.stderr
    assert "rows.SPMCS.PSNR.A: expected a number as printed, found 'x'" in out.stdout
