"""The study: rows, mean ± std over training seeds, reuse of finished checkpoints, the two recipes."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from vrbench.satb.study import markdown, study_rows, summarise, train_all
from vrbench.satb.train import RECIPES


def test_rows_cover_the_step_sweep_the_largest_start_and_the_guidance_ablation():
    rows = study_rows("satb", "ckpt", main=True)
    assert [r.steps for r in rows[:6]] == [0, 1, 2, 3, 4, 5]
    assert all(r.sampling["sampler"] == "dpmpp-2m-sde" for r in rows if "ddim" not in r.label)
    one = next(r for r in rows if "from t=" in r.label)
    assert one.steps == 1 and one.sampling["timesteps"] == "uniform"
    guided = {r.label: r.sampling for r in rows if "guidance" in r.sampling}
    assert sorted(g["guidance"] for g in guided.values()) == ["cfg", "dtg", "dtg"]
    assert sorted(g.get("dtg_delta", -1) for g in guided.values()) == [-1, 0.0, 0.15]
    assert len(study_rows("naive", "ckpt", main=False)) == 7


def test_summary_is_the_mean_and_sample_std_over_seeds():
    results = [{"method": "bicubic", "psnr-y": 20.0, "fps": 1.0}]
    values = [21.0, 21.5, 23.0]
    results += [{"method": "satb N=1", "psnr-y": v, "fps": 2.0} for v in values]
    table = summarise(results, ("psnr-y",))
    assert table[0]["psnr-y"] == (20.0, 0.0) and table[0]["seeds"] == 1
    mean, std = table[1]["psnr-y"]
    assert mean == pytest.approx(np.mean(values)) and std == pytest.approx(np.std(values, ddof=1))
    text = markdown(table, ("psnr-y",))
    assert text.splitlines()[0] == "| method | psnr-y ↑ |"
    assert "| bicubic | 20.00 |" in text and f"| satb N=1 | {np.mean(values):.2f} ± {std:.2f} |" in text


def test_finished_checkpoints_are_reused_not_retrained(tmp_path):
    for variant in ("satb", "naive"):
        (tmp_path / f"{variant}-seed3.safetensors").write_bytes(b"done")
    said = []
    files = train_all("cpu", ("satb", "naive"), [3], tmp_path, log=said.append)
    assert files[("naive", 3)] == tmp_path / "naive-seed3.safetensors"
    assert said == ["satb-seed3.safetensors: already trained", "naive-seed3.safetensors: already trained"]


def test_the_gpu_recipe_has_the_sizes_it_promises():
    from vrbench.satb.nets import Denoiser, NetConfig, Predictor, count_params

    gpu, cpu = RECIPES["gpu"], RECIPES["cpu"]
    net = NetConfig(**gpu.net)
    assert 4e6 <= count_params(Denoiser(net)) <= 8e6 and 1e6 <= count_params(Predictor(net)) <= 2e6
    assert net.window == 5 and gpu.bf16 and gpu.batch >= 32 and gpu.device == "cuda"
    small = NetConfig(**cpu.net)
    assert count_params(Denoiser(small)) + count_params(Predictor(small)) < 1e6 and cpu.device == "cpu"


def test_an_unknown_recipe_is_one_clear_line(tmp_path):
    from vrbench.satb.cli import satb_app

    result = CliRunner().invoke(satb_app, ["study", "--recipe", "tpu", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "unknown SATB training recipe" in str(result.exception)
    assert "cpu | gpu" in str(result.exception)


def test_the_gpu_recipe_is_refused_without_cuda_in_one_line(tmp_path, monkeypatch):
    from dataclasses import replace

    import torch

    from vrbench.errors import InputError
    from vrbench.satb.train import train

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the refusal, whatever this machine has
    with pytest.raises(InputError, match="no CUDA device is available"):
        train(replace(RECIPES["gpu"], steps=1), tmp_path / "g.safetensors", log=lambda m: None)
