"""Checkpoints: round trip, provenance, and clear errors for another scale, another config or a corrupt file."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import save_file

from vrbench.errors import InputError
from vrbench.satb.checkpoint import load_checkpoint, read_metadata, save_checkpoint, shipped_checkpoints
from vrbench.satb.nets import Denoiser, NetConfig, Predictor

TINY = NetConfig(channels=16, predictor_channels=16, predictor_blocks=1)


def _save(path, net=TINY, half=True, meta=None):
    torch.manual_seed(0)
    p, d = Predictor(net), Denoiser(net)
    with torch.no_grad():
        p.out.weight.normal_(std=0.05)
    save_checkpoint(path, p, d, net.to_dict(), meta or {"variant": "test", "command": "vrbench satb train ..."},
                    half=half)
    return p, d


@pytest.mark.parametrize("half", [False, True])
def test_round_trip(tmp_path, half):
    p, d = _save(tmp_path / "c.safetensors", half=half)
    p2, d2, net, meta = load_checkpoint(tmp_path / "c.safetensors", scale=4)
    assert net == TINY and meta["variant"] == "test" and meta["command"].startswith("vrbench satb train")
    z, t = torch.randn(1, 3, 48, 6, 6), torch.full((1,), 0.3)
    with torch.no_grad():
        tol = 1e-2 if half else 0.0
        assert torch.allclose(p2(z), p(z), atol=tol, rtol=0) and torch.allclose(d2(z, t, z), d(z, t, z), atol=tol,
                                                                                 rtol=0)
    assert not any(q.requires_grad for q in d2.parameters())


def test_checkpoint_for_another_scale_is_refused(tmp_path):
    _save(tmp_path / "x2.safetensors", net=replace(TINY, scale=2))
    with pytest.raises(InputError, match=r"another scale.*expected x4, found x2"):
        load_checkpoint(tmp_path / "x2.safetensors", scale=4)


def test_checkpoint_whose_tensors_do_not_match_its_config_is_refused(tmp_path):
    file = tmp_path / "c.safetensors"
    _save(file)
    with open(file, "rb") as f:  # rewrite the metadata to claim a wider denoiser than the tensors hold
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
        body = f.read()
    header["__metadata__"]["net"] = json.dumps({**TINY.to_dict(), "channels": 32})
    blob = json.dumps(header).encode()
    file.write_bytes(len(blob).to_bytes(8, "little") + blob + body)
    with pytest.raises(InputError, match="does not match its architecture.*wrong shapes"):
        load_checkpoint(file)


def test_checkpoint_with_an_unknown_architecture_field_is_refused(tmp_path):
    file = tmp_path / "c.safetensors"
    save_checkpoint(file, Predictor(TINY), Denoiser(TINY), {**TINY.to_dict(), "heads": 8}, {})
    with pytest.raises(InputError, match="unknown architecture"):
        load_checkpoint(file)


def test_corrupt_and_foreign_files_give_clear_errors(tmp_path):
    good = tmp_path / "good.safetensors"
    _save(good)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(InputError, match="cannot read SATB checkpoint.*truncated.safetensors"):
        read_metadata(truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match="cannot read SATB checkpoint"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign), metadata={"format": "pt"})
    with pytest.raises(InputError, match="not a SATB checkpoint.*expected metadata format 'vrbench-satb'"):
        load_checkpoint(foreign)


def test_unknown_checkpoint_name_lists_the_shipped_ones():
    with pytest.raises(InputError, match="no such SATB checkpoint") as e:
        load_checkpoint("no-such-variant")
    assert str(shipped_checkpoints()) in str(e.value)


def test_shipped_checkpoints_are_small_and_carry_their_provenance():
    from vrbench.satb.adapter import ABLATIONS, DEFAULT_CHECKPOINT
    from vrbench.satb.checkpoint import checkpoint_path

    assert {DEFAULT_CHECKPOINT, *(checkpoint for checkpoint, _ in ABLATIONS.values())} <= set(shipped_checkpoints())
    for name in shipped_checkpoints():
        file = checkpoint_path(name)
        assert file.stat().st_size < 4_000_000, name
        _, _, net, meta = load_checkpoint(name, scale=4)
        assert meta["command"].startswith("vrbench satb train --recipe cpu --data demo-photos --preset realbasicvsr-x4")
        assert f"--variant {meta['variant']}" in meta["command"] and meta["variant"] == name
        assert net.space == "haar" and len(net.band_rms) == 48 and len(net.sigma_data) == 48
        assert "CPU" in meta["hardware"] or "GPU" in meta["hardware"] or "NVIDIA" in meta["hardware"]
        assert meta["wall_time_s"] > 0 and meta["steps_done"] == meta["train"]["steps"]
        manifest = meta["data_manifest"]
        assert manifest["preset"] == "realbasicvsr-x4" and manifest["data"] == "demo-photos" and manifest["val"]
        # unseen content: no frame of any video, so none of the demo's evaluation clips
        assert all(c["source"].startswith("skimage.data.") for c in manifest["clips"].values())
