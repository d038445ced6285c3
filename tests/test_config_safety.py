"""Impossible configs are refused before anything runs, with one line and exit code 2; names are printed literally;
one run name holds one config; an output reused from an identical clip is found under every clip's name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from vrbench.config import load_config, parse_config
from vrbench.errors import InputError
from vrbench.run import run_benchmark
from vrbench.store import Store

BASE = {"name": "x", "datasets": [{"name": "demo", "clips": ["carphone"]}], "methods": ["bicubic"],
        "metrics": ["psnr-rgb"]}


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "60"}  # a narrow output: one-line messages must stay one line
    return subprocess.run([sys.executable, "-m", "vrbench.cli", *args], capture_output=True, text=True, timeout=900,
                          env=env)


@pytest.mark.parametrize("change, message", [
    ({"chunk": -1}, "chunk: Input should be greater than or equal to 1"),
    ({"chunk": 0}, "chunk: Input should be greater than or equal to 1"),
    ({"seed": 2**70}, "seed: Input should be less than 9223372036854775808"),
    ({"seeds": [0, -1]}, "seeds.1: Input should be greater than or equal to 0"),
    ({"name": "../victim"}, "a run name is 1-100 letters"),
    ({"name": "/abs/path"}, "a run name is 1-100 letters"),
    ({"name": "nul\x00name"}, "a run name is 1-100 letters"),
    ({"crop_border": -2}, "crop_border: Input should be greater than or equal to 0"),
    ({"methods": [{"name": "bicubic", "label": "tab\there"}]}, "a label must be printable text"),
    ({"methods": [{"name": "satb", "steps": [-1]}]}, "methods.0.steps.0: Input should be greater than or equal to 0"),
    ({"methods": [{"name": "bicubic", "label": "X"}, {"name": "nearest", "label": "X"}]}, "method 'X' listed twice"),
    ({"datasets": [{"name": "folder", "root": "a"}, {"name": "folder", "root": "b"}]}, "dataset 'folder' listed twice"),
])
def test_impossible_values_are_refused_with_the_key_path(change, message):
    with pytest.raises(InputError, match="invalid config") as err:
        parse_config({**BASE, **change})
    assert message in str(err.value)


def test_yaml_bombs_and_deep_nesting_are_refused_before_they_grow(tmp_path):
    levels = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(20))
    (tmp_path / "bomb.yaml").write_text("name: x\ndatasets: [demo]\nmethods: [bicubic]\n" + levels)
    with pytest.raises(InputError, match="more than 100 aliases"):
        load_config(tmp_path / "bomb.yaml")
    (tmp_path / "deep.yaml").write_text("name: x\nmethods: " + "[" * 10_000 + "]" * 10_000 + "\n")
    with pytest.raises(InputError, match="nesting deeper than 64 levels"):
        load_config(tmp_path / "deep.yaml")
    (tmp_path / "big.yaml").write_text("name: x\n#" + "x" * (2 << 20) + "\n")
    with pytest.raises(InputError, match="config file too large"):
        load_config(tmp_path / "big.yaml")


def test_steps_and_options_are_checked_against_the_method(tmp_path, demo_root):
    with pytest.raises(InputError, match="method 'bicubic' has no step count"):
        run_benchmark(parse_config({**BASE, "methods": [{"name": "bicubic", "steps": [1, 2]}]}), tmp_path / "r.sqlite")
    with pytest.raises(InputError, match="did you mean 'root'"):
        run_benchmark(parse_config({**BASE, "methods": [{"name": "folder", "options": {"roots": "x"}}]}),
                      tmp_path / "r.sqlite")
    with pytest.raises(InputError, match="unknown option for method 'satb'"):
        run_benchmark(parse_config({**BASE, "methods": [{"name": "satb", "options": {"sampler_x": 1}}]}),
                      tmp_path / "r.sqlite")
    with Store(tmp_path / "r.sqlite") as store:
        assert store.runs() == []  # refused before anything was written


def test_usage_errors_are_one_line_with_exit_code_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndatasets: [demo]\nmethods: [bicubic]\nseed: 1180591620717411303424\n")
    proc = _cli("run", str(bad), "--store", str(tmp_path / "r.sqlite"))
    last = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 2 and last.startswith("error: invalid config")
    assert "seed: Input should be less than" in last
    assert "Traceback" not in proc.stdout + proc.stderr
    proc = _cli("sweep", "--method", "satb", "--steps", "1", "--dataset", "demo", "--seeds", "",
                "--store", str(tmp_path / "r.sqlite"))
    last = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 2 and last.startswith("error:") and "seeds must be a non-empty list of distinct" in last
    assert "Traceback" not in proc.stdout + proc.stderr


def test_names_with_rich_markup_print_literally_and_the_report_is_written(tmp_path, demo_root):
    cfg = tmp_path / "markup.yaml"
    cfg.write_text(textwrap.dedent("""
        name: ablation
        datasets: [{name: demo, clips: [carphone]}]
        methods: [{name: bicubic, label: "ablation[/b]"}, {name: nearest, label: "Ours [v2]"}]
        metrics: [psnr-rgb]
    """))
    proc = _cli("run", str(cfg), "--store", str(tmp_path / "r.sqlite"), "--outputs", str(tmp_path / "out"),
                "--report-dir", str(tmp_path / "rep"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "ablation[/b]" in html and "Ours [v2]" in html


def test_dry_run_and_report_refuse_what_the_real_commands_refuse(tmp_path, demo_root):
    first = tmp_path / "one.yaml"
    first.write_text("name: same\ndatasets: [{name: demo, clips: [carphone]}]\nmethods: [bicubic]\n"
                     "metrics: [psnr-rgb]\n")
    assert _cli("run", str(first), "--store", str(tmp_path / "r.sqlite"), "--no-report").returncode == 0
    changed = tmp_path / "two.yaml"
    changed.write_text(first.read_text().replace("bicubic", "nearest"))
    proc = _cli("run", str(changed), "--store", str(tmp_path / "r.sqlite"), "--dry-run")
    assert proc.returncode == 2 and "already holds another config" in proc.stdout
    assert _cli("run", str(changed), "--store", str(tmp_path / "r.sqlite"), "--dry-run", "--replace").returncode == 0
    proc = _cli("report", "no-such-run", "--store", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "rep"))
    assert proc.returncode == 2 and "no run named 'no-such-run'" in proc.stdout and "same" in proc.stdout


def test_one_run_name_holds_one_config(tmp_path, demo_root):
    db = tmp_path / "r.sqlite"
    run_benchmark(parse_config(BASE), db, tmp_path / "out")
    assert run_benchmark(parse_config(BASE), db, tmp_path / "out").cached == 1  # the same config resumes
    other = parse_config({**BASE, "methods": ["nearest"]})
    with pytest.raises(InputError, match="already holds another config") as err:
        run_benchmark(other, db, tmp_path / "out")
    assert "different methods" in str(err.value) and "--replace" in str(err.value)
    summary = run_benchmark(other, db, tmp_path / "out", replace=True)
    assert summary.computed == 1 and summary.archived.startswith("x@")
    with Store(db) as store:
        runs = store.runs()
        assert "x" in runs and any(r.startswith("x@") for r in runs)
        assert set(store.results_frame("x")["method"]) == {"nearest"}  # never mixed


def test_a_study_finds_an_output_reused_from_an_identical_clip(tmp_path, demo_root):
    from vrbench.experiments.study import make_study

    root = tmp_path / "twins"
    for side in ("GT", "LQ"):
        for twin in ("a", "b"):  # the same frames under two clip names: one cached output serves both
            shutil.copytree(demo_root / side / "carphone", root / side / twin)
    cfg = parse_config({"name": "twins", "datasets": [{"name": "folder", "root": str(root)}],
                        "methods": ["bicubic", "nearest"], "metrics": ["psnr-rgb"]})
    summary = run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out")
    assert summary.failed == [] and summary.computed == 4
    with Store(tmp_path / "r.sqlite") as store:
        _, key = make_study(store, "twins", tmp_path / "study", max_frames=4)
    import json

    clips = {t["clip"] for t in json.loads(key.read_text())["trials"].values()}
    assert clips == {"a", "b"}
