"""The calibration suite points torch.hub at its own folder for a while; afterwards torch.hub must follow
$TORCH_HOME again (a pinned hub made a later bench with stand-in weights try to download the real ones)."""

import torch.hub

from vrbench.calibrate.images import _hub_dir


def test_the_hub_folder_is_handed_back_unpinned(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "first"))
    with _hub_dir(tmp_path / "calibration"):
        assert torch.hub.get_dir() == str(tmp_path / "calibration")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "later"))
    assert torch.hub.get_dir() == str(tmp_path / "later" / "hub")


def test_a_hub_set_by_the_caller_is_restored(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "set-by-caller"))
    with _hub_dir(tmp_path / "calibration"):
        pass
    assert torch.hub.get_dir() == str(tmp_path / "set-by-caller")
