"""`vrbench calibrate` against the official implementations: run once through the CLI, every check judged.

The test setup fetches what CI can reach (PyPI only): pyiqa's ResultsCalibra set from the pyiqa sdist and the real
NIQE parameters from the basicsr sdist (`vrbench weights fetch`). The DOVER reference numbers were produced by the
authors' code outside the repository (see vrbench/calibrate/dover_reference.json).
"""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from vrbench.cli import app

pytestmark = pytest.mark.calibration
runner = CliRunner()

# checks that must run and pass wherever the tests run (no weights outside PyPI needed)
MUST_PASS = {
    ("psnr-rgb", "skimage"), ("psnr-rgb", "pyiqa results_official.csv"),
    ("ssim-matlab", "MATLAB ssim.m (results_official.csv)"), ("lpips-alex", "lpips 0.1.4"),
    ("niqe", "pyiqa 0.1.16 (calibration_summary.csv)"), ("vmaf", "libvmaf"),
    ("vmaf-libvmaf", "libvmaf on the video files"), ("dover", "DOVER authors' code"),
}


@pytest.fixture(scope="module")
def calibra_cache(tmp_path_factory):
    """ResultsCalibra and the NIQE parameters, fetched from PyPI by the suite's own fetchers."""
    from vrbench.calibrate.inputs import calibra_present, fetch_calibra

    root = tmp_path_factory.mktemp("calibration")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("VRBENCH_OFFLINE", raising=False)
        fetch_calibra(root)
        fetched = runner.invoke(app, ["weights", "fetch", "niqe_pris_params.npz"])
    assert calibra_present(root)
    assert fetched.exit_code == 0, fetched.output
    return root


@pytest.fixture(scope="module")
def calibration(calibra_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("calibration-out") / "calibration.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VRBENCH_CALIBRATION", str(calibra_cache))
        result = runner.invoke(app, ["calibrate", "--json", str(out)], terminal_width=250)
    return result, json.loads(out.read_text())


def test_every_official_comparison_passes(calibration):
    result, report = calibration
    assert result.exit_code == 0, result.output
    status = {(s["metric"], s["reference"]): s["status"] for s in report["summary"]}
    assert set(status) >= MUST_PASS, sorted(MUST_PASS - set(status))
    assert {k: status[k] for k in MUST_PASS} == {k: "pass" for k in MUST_PASS}
    assert "FAIL" not in status.values()
    # the printed table names every metric with its verdict
    for metric, _ in MUST_PASS:
        assert metric in result.output
    for row in report["rows"]:
        if row["status"] == "pass":
            assert row["diff"] is not None and row["diff"] <= 0.1


def test_each_metric_is_compared_on_every_input(calibration):
    _, report = calibration
    cases = {}
    for row in report["rows"]:
        cases.setdefault((row["metric"], row["reference"]), []).append(row["case"])
    for key in [("psnr-rgb", "skimage"), ("ssim-matlab", "MATLAB ssim.m (results_official.csv)"),
                ("lpips-alex", "lpips 0.1.4"), ("niqe", "pyiqa 0.1.16 (calibration_summary.csv)")]:
        assert sorted(cases[key]) == ["I03", "I04", "I06", "I08", "I19"], key
    assert len(cases[("vmaf", "libvmaf")]) == 2
    assert sorted(cases[("dover", "DOVER authors' code")]) == ["bikes aesthetic_raw", "bikes technical_raw"]


def test_vmaf_reads_the_coded_luma_and_libvmaf_path_is_exact(calibration):
    _, report = calibration
    vmaf = [r for r in report["rows"] if r["metric"] in ("vmaf", "vmaf-libvmaf")]
    assert vmaf and all(r["note"] == "luma: output coded Y plane, ground truth coded Y plane" for r in vmaf)
    assert all(r["diff"] < 1e-6 for r in vmaf if r["metric"] == "vmaf-libvmaf")
    # vmaf-torch is a float re-implementation: close to libvmaf, not equal to it
    assert all(0 < r["diff"] < 0.1 for r in vmaf if r["metric"] == "vmaf")


def test_lpips_says_which_trunk_it_used(calibration):
    _, report = calibration
    rows = [r for r in report["rows"] if r["reference"] == "lpips 0.1.4"]
    assert all("random AlexNet trunk" in r["note"] for r in rows)  # the ImageNet trunk is never fetched in tests
    assert len({round(r["ours"], 6) for r in rows}) == 5  # five different images, five different distances


def test_metrics_without_their_weights_are_unavailable_not_failed(calibration):
    _, report = calibration
    status = {s["metric"]: s for s in report["summary"]}
    for metric in ("dists", "musiq", "laion-aes"):
        assert status[metric]["status"] == "unavailable"
        assert "weights" in status[metric]["note"]


def test_every_loose_tolerance_says_why(calibration):
    from vrbench.calibrate.suite import TOLERANCES

    _, report = calibration
    for (metric, reference), tol in TOLERANCES.items():
        if tol.atol > 1e-9 or tol.rtol:
            assert len(tol.why) > 20, (metric, reference)
    assert set(report["tolerances"]) == {f"{m} vs {r}" for m, r in TOLERANCES}


def test_a_failed_comparison_exits_1(calibra_cache, monkeypatch):
    from vrbench.calibrate import suite

    monkeypatch.setenv("VRBENCH_CALIBRATION", str(calibra_cache))
    monkeypatch.setitem(suite.TOLERANCES, ("psnr-rgb", "skimage"), suite.Tolerance(0.0))  # 2e-7 dB is now too much
    result = runner.invoke(app, ["calibrate", "--metrics", "psnr-rgb", "--detail"], terminal_width=250)
    assert result.exit_code == 1
    assert "FAIL" in result.output and "psnr-rgb vs skimage" in result.output


def test_unknown_check_is_one_line_with_a_suggestion():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "vrbench.cli", "calibrate", "--metrics", "psnr"],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 2
    assert done.stdout.strip().count("\n") == 0 and "did you mean psnr-rgb" in done.stdout


def test_offline_without_the_images_is_unavailable(tmp_path, monkeypatch):
    from vrbench.calibrate.suite import run_calibration

    monkeypatch.setenv("VRBENCH_CALIBRATION", str(tmp_path))
    monkeypatch.setenv("VRBENCH_OFFLINE", "1")
    rows = run_calibration(["ssim-matlab"])
    assert [r.status for r in rows] == ["unavailable"]
    assert "VRBENCH_OFFLINE" in rows[0].note
    assert not any(tmp_path.iterdir())  # nothing written
