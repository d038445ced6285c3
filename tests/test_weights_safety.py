"""Weights under hostile input: digests memoised by path, size, mtime_ns, inode and ctime_ns (a swapped file is
hashed again), pickles that would run code refused even with VRBENCH_ALLOW_UNVERIFIED_WEIGHTS, full sha256 or
structural checks on `weights import`, and error lines that never print an absent field as `None`."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vrbench.cli import app
from vrbench.errors import InputError
from vrbench.metrics.cli import known_weights
from vrbench.metrics.engine import build_metrics
from vrbench.registry import METRICS
from vrbench.weights import UnsafeWeights, WeightFile, digest, sha256_file

runner = CliRunner()


class _Plant:
    """A pickle that creates `marker` when unpickled by a full unpickler."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_swapped_weights_file_with_its_size_and_mtime_forced_equal_is_hashed_again(tmp_path):
    weight = WeightFile("swap-test.pth", "https://example.org/swap-test.pth", "vrbench-swap")
    weight.path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"w": torch.zeros(64)}, weight.path)
    before = digest(weight)
    st = os.stat(weight.path)
    other = tmp_path / weight.name  # same name inside the archive, same layout, other values
    torch.save({"w": torch.ones(64)}, other)
    assert os.path.getsize(other) == st.st_size
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, weight.path)  # swapped: another inode
    assert (os.stat(weight.path).st_size, os.stat(weight.path).st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    swapped = digest(weight)
    assert swapped == sha256_file(weight.path) != before
    torch.save({"w": torch.full((64,), 2.0)}, other)
    with open(weight.path, "r+b") as f:  # rewritten in place (same inode), then size and mtime forced back
        f.write(other.read_bytes())
    os.utime(weight.path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(weight.path).st_size == st.st_size
    assert digest(weight) == sha256_file(weight.path) != swapped
    weight.path.unlink()


def test_a_pickle_at_a_pyiqa_weights_path_never_runs_even_with_unverified_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("VRBENCH_ALLOW_UNVERIFIED_WEIGHTS", "1")
    (w,) = METRICS.card("musiq").weights
    marker = tmp_path / "marker"
    w.path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(_Plant(marker), w.path)
    try:
        metrics = build_metrics(["musiq"], "cpu")
        err = metrics.unavailable["musiq"]
        assert err.reason == "weights refused: loading them could run code"
        (line,) = err.files
        assert str(w.path) in line and "weights_only=True" in line and "\n" not in line
        result = runner.invoke(app, ["metrics", "list", "musiq", "--json"])
        assert "loading them could run code" in result.output
        assert not marker.exists()
    finally:
        w.path.unlink()


def test_the_unpickling_check_accepts_plain_tensors_mat_and_npz_and_refuses_code(tmp_path):
    from scipy.io import savemat

    from vrbench.weights import unpickling_problem

    torch.save({"a": torch.zeros(3), "meta": {"epoch": 3, "names": ["x"]}}, tmp_path / "plain.pth")
    savemat(tmp_path / "p.mat", {"mu": np.zeros((1, 36))})
    np.savez(tmp_path / "p.npz", a=np.zeros(3))
    for name in ("plain.pth", "p.mat", "p.npz"):
        assert unpickling_problem(tmp_path / name) is None, name
    with open(tmp_path / "legacy.pkl", "wb") as f:  # a plain pickle (no torch zip) that calls open()
        pickle.dump(_Plant(tmp_path / "marker"), f)
    torch.save(_Plant(tmp_path / "marker"), tmp_path / "evil.pth")
    (tmp_path / "random.bin").write_bytes(np.random.default_rng(0).bytes(5000))
    for name in ("legacy.pkl", "evil.pth", "random.bin"):
        assert unpickling_problem(tmp_path / name), name
    assert not (tmp_path / "marker").exists()


def _import(path):
    result = runner.invoke(app, ["weights", "import", str(path)], terminal_width=400)
    return result.exit_code, " ".join(result.output.split()), result.exception


def test_weights_import_refuses_a_random_file_as_dover(tmp_path):
    from vrbench.metrics.temporal_metrics import DOVER_PTH

    (tmp_path / "DOVER.pth").write_bytes(np.random.default_rng(0).bytes(5 * 1024))
    code, _, exc = _import(tmp_path / "DOVER.pth")
    assert code != 0 and isinstance(exc, InputError)
    assert "not a DOVER.pth checkpoint (no full sha256 is published for it" in str(exc)
    assert not DOVER_PTH.path.exists()
    torch.save({"technical_backbone.patch_embed.proj.weight": torch.zeros(8)}, tmp_path / "DOVER.pth")
    code, _, exc = _import(tmp_path / "DOVER.pth")
    assert code != 0 and "technical_backbone.patch_embed.proj.weight of shape (8,), expected (96, 3, 2, 4, 4)" in str(
        exc) and "no aesthetic_head.fc_last.bias" in str(exc)
    torch.save(_Plant(tmp_path / "marker"), tmp_path / "DOVER.pth")
    code, _, exc = _import(tmp_path / "DOVER.pth")
    assert code != 0 and not (tmp_path / "marker").exists() and not DOVER_PTH.path.exists()


def test_weights_import_accepts_a_file_with_the_networks_tensors_and_says_the_hash_is_unknown(tmp_path):
    from vrbench.metrics.dover import build_dover
    from vrbench.metrics.temporal_metrics import DOVER_PTH

    torch.save(build_dover().state_dict(), tmp_path / "DOVER.pth")
    code, text, exc = _import(tmp_path / "DOVER.pth")
    try:
        assert code == 0, (text, exc)
        assert "no published sha256 is known" in text and DOVER_PTH.path.is_file()
    finally:
        DOVER_PTH.path.unlink(missing_ok=True)


def test_weights_import_checks_the_full_sha256_where_it_is_known(tmp_path):
    from vrbench.metrics.learned import LPIPS_ALEX

    # the right structure and the right 8-digit prefix are not enough when the full digest is known
    torch.save({f"lin{i}.model.1.weight": torch.zeros(1, c, 1, 1) for i, c in enumerate((64, 192, 384, 256, 256))},
               tmp_path / LPIPS_ALEX.name)
    code, _, exc = _import(tmp_path / LPIPS_ALEX.name)
    assert code != 0 and f"expected sha256 {LPIPS_ALEX.sha256}" in str(exc) and not LPIPS_ALEX.path.exists()


def test_every_fetchable_weights_file_has_a_full_sha256_or_a_network_signature():
    weak = [w.name for w, _ in known_weights().values() if w.place == "hub" and not w.signature
            and len(w.sha256) != 64]
    assert weak == []
    full = {w.name for w, _ in known_weights().values() if len(w.sha256) == 64}
    assert {"RN50.pt", "ViT-L-14.pt", "LPIPS_v0.1_alex-df73285e.pth", "LPIPS_v0.1_vgg-a78928a0.pth",
            "DISTS_weights-f5e65c96.pth", "niqe_pris_params.npz"} <= full
    for w, _ in known_weights().values():
        assert not w.sha256 or not w.sha256_prefix or w.sha256.startswith(w.sha256_prefix), w.name


def test_the_signatures_match_the_networks_that_load_the_files(tmp_path):
    """Stand-ins with each network's own state dict pass the structural check (random values, real layout)."""
    import torchvision
    from pyiqa.archs.laion_aes_arch import MLP
    from pyiqa.archs.musiq_arch import MUSIQ
    from scipy.io import savemat

    from vrbench.metrics.dover import build_dover
    from vrbench.metrics.temporal_metrics import DOVER_PTH, RAFT_THINGS
    from vrbench.weights import structure_problem

    by_name = {w.name: w for w, _ in known_weights().values()}
    for name, net in (("alexnet-owt-7be5be79.pth", torchvision.models.alexnet()),
                      ("vgg16-397923af.pth", torchvision.models.vgg16())):
        torch.save(net.state_dict(), tmp_path / name)
        assert structure_problem(by_name[name], tmp_path / name) is None, name
    musiq = by_name["musiq_koniq_ckpt-e95806b9.pth"]
    torch.save(MUSIQ(pretrained=False).state_dict(), tmp_path / musiq.name)
    assert structure_problem(musiq, tmp_path / musiq.name) is None
    torch.save({"params": MUSIQ(pretrained=False).state_dict()}, tmp_path / musiq.name)  # a wrapper pyiqa unwraps
    assert structure_problem(musiq, tmp_path / musiq.name) is None
    head = by_name["sac+logos+ava1-l14-linearMSE.pth"]
    torch.save(MLP(768).state_dict(), tmp_path / head.name)
    assert structure_problem(head, tmp_path / head.name) is None
    torch.save(MLP(512).state_dict(), tmp_path / "b32-head.pth")  # the head of another CLIP (ViT-B/32)
    wrong = structure_problem(head, tmp_path / "b32-head.pth")
    assert wrong == "layers.0.weight of shape (1024, 512), expected (1024, 768)"
    mat = WeightFile("params.mat", "https://example.org/params.mat",
                     signature=(("mu_prisparam", None), ("cov_prisparam", (36, 36))))  # MAT variables as signature
    savemat(tmp_path / mat.name, {"mu_prisparam": np.zeros((1, 36)), "cov_prisparam": np.eye(36)})
    assert structure_problem(mat, tmp_path / mat.name) is None
    savemat(tmp_path / "bad.mat", {"mu_prisparam": np.zeros((1, 36))})
    assert structure_problem(mat, tmp_path / "bad.mat") == "no cov_prisparam"
    torch.save(torchvision.models.optical_flow.raft_large().state_dict(), tmp_path / "raft.pth")
    assert structure_problem(RAFT_THINGS, tmp_path / "raft.pth") is None
    torch.save({f"module.{k}": v for k, v in build_dover().state_dict().items()}, tmp_path / "dover.pth")
    assert structure_problem(DOVER_PTH, tmp_path / "dover.pth") is None
    assert structure_problem(DOVER_PTH, tmp_path / "alexnet-owt-7be5be79.pth")


@pytest.mark.parametrize(("kwargs", "text"), [
    ({"found": "seed: not an integer"}, "bad value (file f.yaml): found seed: not an integer"),
    ({"expected": "an integer"}, "bad value (file f.yaml): expected an integer"),
    ({"expected": "1 frame", "found": "2 frames"}, "bad value (file f.yaml): expected 1 frame, found 2 frames"),
    ({}, "bad value (file f.yaml)"),
])
def test_error_lines_leave_out_absent_fields(kwargs, text):
    message = str(InputError("bad value", file="f.yaml", **kwargs))
    assert message == text and "None" not in message


def test_unsafe_weights_error_is_one_line_naming_the_file(tmp_path):
    message = str(UnsafeWeights(tmp_path / "x.pth", "UnpicklingError: Weights only load failed"))
    assert str(tmp_path / "x.pth") in message and "None" not in message and "\n" not in message
