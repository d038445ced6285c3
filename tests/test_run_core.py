"""The run core: each method and metric built once per process, seeds as a plan axis, the harness owning the device,
executors and `--dry-run` from the CLI, conventions from the protocol card, a versioned store and reports that are
pure functions of the store."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest

from vrbench.config import parse_config
from vrbench.errors import InputError, UnknownNameError
from vrbench.registry import METRICS
from vrbench.report.html import write_report
from vrbench.run import run_benchmark
from vrbench.run.executors import worker_devices
from vrbench.run.plan import resolve_conventions
from vrbench.store import SCHEMA_VERSION, Store

PLUGIN = '''
import os
from pathlib import Path

import numpy as np

from vrbench.methods.base import MethodCard
from vrbench.registry import METHODS
from vrbench.video import Video

LOG = Path(os.environ["COUNTING_LOG"])


class Counting:
    card = MethodCard(name="counting-x4", summary="repeats pixels; logs every construction and restore", scale=4)

    def __init__(self):
        with LOG.open("a") as f:
            f.write(f"built {os.getpid()}\\n")

    def config(self):
        return {"impl": "np.repeat"}

    def restore(self, lq, *, scale, steps=None, seed=0, device=None):
        with LOG.open("a") as f:
            f.write(f"restore {os.getpid()} {device}\\n")
        frames = lq.read().repeat(scale, axis=1).repeat(scale, axis=2)
        return Video.from_array(np.ascontiguousarray(frames), fps=lq.fps, name=lq.name)


METHODS.register(Counting.card)(Counting)
'''


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vrbench.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=900)


def _write_config(tmp_path, name: str, body: str):
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def _values(db, run):
    with Store(db) as store:
        df = store.results_frame(run)
    return {(r.dataset, r.clip, r.method, r.seed, r.metric): (r.value, r.per_frame.tobytes())
            for r in df.itertuples()}


def test_a_plugin_method_is_built_once_per_process_and_handed_the_device(tmp_path, demo_root):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "counting.py").write_text(PLUGIN)
    log = tmp_path / "log.txt"
    cfg = _write_config(tmp_path, "count", """
        name: count
        datasets: [{name: demo, clips: [carphone]}]
        methods: [counting-x4]
        metrics: [psnr-rgb, ssim-y]
        device: cpu
    """)
    env = {"VRBENCH_METHOD_ADAPTERS": str(tmp_path / "plugins"), "COUNTING_LOG": str(log)}
    proc = _cli("run", str(cfg), "--store", str(tmp_path / "r.sqlite"), "--outputs", str(tmp_path / "out"),
                "--no-report", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = log.read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == ["built", "restore"], lines
    assert lines[1].split()[2] == "cpu"  # the harness's device, handed to restore


def test_a_metric_is_built_and_set_up_once_per_process(tmp_path, demo_root):
    from vrbench.metrics.fidelity import FidelityMetric

    calls = {"built": 0, "setup": 0}
    psnr = METRICS.create("psnr-rgb")
    card = replace(psnr.card, name="counting-metric")

    class CountingPsnr(FidelityMetric):
        def setup(self, device):
            calls["setup"] += 1
            return super().setup(device)

    def factory():
        calls["built"] += 1
        return CountingPsnr(card, psnr.spec)

    if "counting-metric" not in METRICS:
        METRICS.add(card, factory)
    cfg = parse_config({"name": "mcount", "datasets": [{"name": "demo", "clips": ["carphone"]}],
                        "methods": ["bicubic"], "metrics": ["counting-metric"]})
    summary = run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out")
    assert summary.computed == 1 and summary.failed == []
    assert calls == {"built": 1, "setup": 1}


def test_the_door_each_weights_file_came_through_is_kept_in_the_run_record(tmp_path, demo_root):
    from vrbench.metrics.fidelity import FidelityMetric

    psnr = METRICS.create("psnr-rgb")
    card = replace(psnr.card, name="sourced-metric")

    class SourcedPsnr(FidelityMetric):
        def provenance(self):
            return {**super().provenance(), "weights_sha256": {"params.npz": "ab" * 32},
                    "weights_source": {"params.npz": "PyPI basicsr==1.4.2 (sdist)"},
                    "implementation": "vrbench CPU (OpenCV)"}

    if "sourced-metric" not in METRICS:
        METRICS.add(card, lambda: SourcedPsnr(card, psnr.spec))
    cfg = parse_config({"name": "msource", "datasets": [{"name": "demo", "clips": ["carphone"]}],
                        "methods": ["bicubic"], "metrics": ["sourced-metric", "psnr-y"]})
    run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out")
    store = Store(tmp_path / "r.sqlite")
    pids = set(store.results_frame("msource")["provenance"])
    assert len(pids) == 1
    record = store.provenance(pids.pop())["metrics"]
    assert record["sourced-metric"]["weights_source"] == {"params.npz": "PyPI basicsr==1.4.2 (sdist)"}
    assert "weights_source" not in record["psnr-y"]  # no weights, no door
    assert record["sourced-metric"]["implementation"] == "vrbench CPU (OpenCV)"  # which code computed the values
    assert "implementation" not in record["psnr-y"]


def test_cli_workers_ray_and_dry_run_give_the_in_process_values(tmp_path, demo_root):
    body = """
        name: {name}
        datasets: [{{name: demo, clips: [carphone, bbb-bunny]}}]
        methods: [bicubic, nearest]
        metrics: [psnr-rgb, ssim-y]
    """
    one = run_benchmark(parse_config({"name": "inproc", "datasets": [{"name": "demo",
                                      "clips": ["carphone", "bbb-bunny"]}], "methods": ["bicubic", "nearest"],
                                      "metrics": ["psnr-rgb", "ssim-y"]}), tmp_path / "a.sqlite", tmp_path / "oa")
    assert one.computed == 8
    reference = {k[1:]: v for k, v in _values(tmp_path / "a.sqlite", "inproc").items()}
    for name, extra in (("workers", ["--workers", "2"]), ("ray", ["--executor", "ray"])):
        cfg = _write_config(tmp_path, name, body.format(name=name))
        db = tmp_path / f"{name}.sqlite"
        dry = _cli("run", str(cfg), "--store", str(db), "--dry-run", *extra)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert "8 to compute" in dry.stdout and not db.exists()  # the plan is printed, nothing is written
        proc = _cli("run", str(cfg), "--store", str(db), "--outputs", str(tmp_path / f"o-{name}"), "--no-report",
                    *extra)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        got = {k[1:]: v for k, v in _values(db, name).items()}
        assert got == reference, name
        again = _cli("run", str(cfg), "--store", str(db), "--dry-run")
        assert "8 values cached, 0 to compute" in again.stdout


def test_the_device_of_each_worker():
    assert worker_devices(2, 2, None, visible_gpus=2) == ["cuda:0", "cuda:1"]
    assert worker_devices(4, 2, None, visible_gpus=8) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert worker_devices(2, 0, None, visible_gpus=0) == ["cpu", "cpu"]
    assert worker_devices(2, 0, None, visible_gpus=2) == ["cuda:0", "cuda:1"]
    assert worker_devices(3, 0, "cpu", visible_gpus=2) == ["cpu"] * 3
    with pytest.raises(InputError, match="more GPUs than this machine shows"):
        worker_devices(1, 2, None, visible_gpus=0)


@pytest.mark.slow
def test_worker_processes_each_hold_the_device_they_were_handed(tmp_path, demo_root):
    from vrbench.run.executors import ProcessExecutor
    from vrbench.run.runner import Runner

    cfg = parse_config({"name": "dev", "datasets": [{"name": "demo", "clips": ["carphone", "bbb-bunny",
                                                                              "bikes-railing"]}],
                        "methods": ["bicubic"], "metrics": ["psnr-rgb"]})
    handed = ["cpu:0", "cpu:1"]  # a fake device list: worker k is handed handed[k]
    with Store(tmp_path / "r.sqlite") as store:
        runner = Runner(cfg, store, tmp_path / "out")
        _, plan = runner.prepare()
        with ProcessExecutor(cfg, tmp_path / "out", handed) as ex:
            outcomes = [o for _, o in ex.map(plan.tasks)]
    devices = [run.fields["device"] for o in outcomes for run in o.method_runs]
    assert len(devices) == 3 and set(devices) <= set(handed)
    assert all(not o.failures for o in outcomes)


def test_seeds_are_a_plan_axis_of_one_run_record(tmp_path, demo_root):
    from vrbench.experiments.sweep import run_sweep

    run, _ = run_sweep(["satb"], [1], "demo", ["psnr-y"], seeds=[0, 1], clips=["carphone"],
                       store_path=tmp_path / "r.sqlite", outputs=tmp_path / "out")
    with Store(tmp_path / "r.sqlite") as store:
        info = store.run_info(run)
        seeds = sorted(store.results_frame(run)["seed"].unique())
    assert seeds == [0, 1]
    assert info["config"]["seeds"] == [0, 1] and info["provenance"]["seeds"]["benchmark"] == [0, 1]


def test_seed_options_are_checked():
    base = {"name": "s", "datasets": ["demo"], "methods": ["bicubic"]}
    assert parse_config({**base, "seeds": [0, 1, 2]}).seed_list == [0, 1, 2]
    assert parse_config(base).seed_list == [0]
    with pytest.raises(InputError, match="either seed"):
        parse_config({**base, "seed": 5, "seeds": [0, 1]})
    with pytest.raises(InputError, match="distinct"):
        parse_config({**base, "seeds": [1, 1]})


def test_protocol_conventions_apply_unless_the_config_sets_them():
    from vrbench.protocols import PROTOCOLS

    base = {"name": "p", "datasets": ["demo"], "methods": ["bicubic"]}
    dove = resolve_conventions(parse_config({**base, "protocol": "dove"}), PROTOCOLS.create("dove"))
    assert (dove.geometry, dove.anchor, dove.output_rule) == ("crop", "top-left", "scale")
    strict = resolve_conventions(parse_config({**base, "protocol": "dove", "geometry": "error"}),
                                 PROTOCOLS.create("dove"))
    assert strict.geometry == "error"
    satb = resolve_conventions(parse_config({**base, "protocol": "satb-vr", "crop_border": 4}),
                               PROTOCOLS.create("satb-vr"))
    assert (satb.output_rule, satb.colour_fix, satb.crop_border) == ("short-side-1024", "wavelet", 4)
    with pytest.raises(UnknownNameError, match="Did you mean .seedvr2."):
        PROTOCOLS.create("seedvr")


def test_a_store_from_a_newer_vrbench_is_refused(tmp_path):
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        store.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(InputError, match="newer vrbench") as err:
        Store(db)
    assert str(db) in str(err.value)
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    proc = _cli("report", "x", "--store", str(tmp_path / "junk.sqlite"))
    assert proc.returncode == 2 and "cannot open the results store" in proc.stdout and "Traceback" not in proc.stderr


def _tables(html: str) -> list[str]:
    """The leaderboard and per-clip tables of a report page."""
    return re.findall(r"<table.*?</table>", html, flags=re.S)


def test_an_old_runs_report_does_not_change_when_its_dataset_is_deleted(tmp_path, demo_root):
    root = tmp_path / "mine"
    shutil.copytree(demo_root, root)
    cfg = parse_config({"name": "old", "datasets": [{"name": "demo", "root": str(root),
                                                     "clips": ["carphone", "bbb-bunny"]}],
                        "methods": ["bicubic", "nearest"], "metrics": ["psnr-rgb", "ssim-y"]})
    assert run_benchmark(cfg, tmp_path / "r.sqlite", tmp_path / "out").computed == 8
    with Store(tmp_path / "r.sqlite") as store:
        before = write_report(store, "old", tmp_path / "rep1").read_text()
        snap = store.snapshot("old", "dataset")["demo"]
        metric_cards = store.snapshot("old", "metric")
    assert snap["manifest_sha256"] and snap["lq_source"] and metric_cards["ssim-y"]["higher_is_better"] is True
    shutil.rmtree(root)
    with Store(tmp_path / "r.sqlite") as store:
        after = write_report(store, "old", tmp_path / "rep2").read_text()
    assert _tables(before) and _tables(after) == _tables(before)
    assert json.loads((tmp_path / "rep2" / "results.json").read_text())["results"]


def test_a_method_whose_configuration_changed_under_the_same_run_config_never_mixes_into_one_row(tmp_path, demo_root):
    """A new checkpoint or sampling version changes a method's resolved configuration while the run's YAML stays the
    same: the stored values of the old configuration must not be averaged with the new ones in one leaderboard row."""
    import numpy as np

    from vrbench.methods.base import MethodCard
    from vrbench.registry import METHODS
    from vrbench.video import Video

    state = {"version": "1", "shift": 0}

    class Versioned:
        card = MethodCard(name="versioned-x4", summary="repeats pixels, brightened by a configurable shift", scale=4)

        def config(self):
            return {"version": state["version"]}

        def restore(self, lq, *, scale, steps=None, seed=0, device=None):
            frames = lq.read().repeat(scale, axis=1).repeat(scale, axis=2).astype(np.int16) + state["shift"]
            return Video.from_array(np.clip(frames, 0, 255).astype(np.uint8), fps=lq.fps, name=lq.name)

    if "versioned-x4" not in METHODS:
        METHODS.register(Versioned.card)(Versioned)
    cfg = parse_config({"name": "mver", "datasets": [{"name": "demo", "clips": ["carphone"]}],
                        "methods": ["versioned-x4"], "metrics": ["psnr-y"]})
    db = tmp_path / "r.sqlite"
    run_benchmark(cfg, db, tmp_path / "out")
    state.update(version="2", shift=40)
    with pytest.raises(InputError, match=r"another configuration of its methods.*versioned-x4 \("):
        run_benchmark(cfg, db, tmp_path / "out")
    with Store(db) as store:  # refused before anything was written
        assert store.method_configs("mver") and len(store.method_configs("mver")["versioned-x4"]) == 1
    summary = run_benchmark(cfg, db, tmp_path / "out", replace=True)
    assert summary.archived.startswith("mver@") and summary.computed == 1
    with Store(db) as store:
        assert len(store.method_configs("mver")["versioned-x4"]) == 1  # only the new configuration in the run
        assert len(store.method_configs(summary.archived)["versioned-x4"]) == 1  # the old one kept, archived
        new, old = store.results_frame("mver"), store.results_frame(summary.archived)
    assert len(new) == len(old) == 1 and new.value[0] != old.value[0]


def test_process_worker_limits_opencv_threads_as_well_as_torch(monkeypatch, tmp_path):
    """Worker processes each get a share of the cores: OpenCV's pool (SSIM, VMAF, NIQE filters on CPU) as well as
    PyTorch's, or N workers would each start one OpenCV thread per core."""
    import cv2
    import torch

    from vrbench.run import executors

    class _Queue:
        def get(self):
            return "cpu"

    monkeypatch.setattr(executors, "Worker", lambda config, outputs, device: (config, outputs, device))
    monkeypatch.setattr(executors, "RunConfig", type("C", (), {"model_validate_json": staticmethod(lambda s: s)}))
    monkeypatch.setattr(executors, "_WORKER", executors._WORKER)  # restored after the test
    before_cv, before_torch = cv2.getNumThreads(), torch.get_num_threads()
    try:
        executors._init_process("{}", str(tmp_path), _Queue(), 1)
        assert cv2.getNumThreads() == 1 and torch.get_num_threads() == 1
    finally:
        cv2.setNumThreads(before_cv)
        torch.set_num_threads(before_torch)
