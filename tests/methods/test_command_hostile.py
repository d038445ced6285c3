"""The `command` adapter against hostile clips and tools: option-like clip names, floods of log output, and
daemons that leave the tool's session (all with the stand-in script, as real processes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from processes import alive as _alive

from vrbench.errors import MethodError
from vrbench.methods.command import LOG_KEEP_BYTES, safe_name


def _log(err: pytest.ExceptionInfo) -> Path:
    return Path(str(err.value).split("log ")[1].split(")")[0])


def test_a_clip_named_like_an_option_reaches_the_tool_as_a_value(make_standin, lq_clip):
    lq_clip.name = "-o"
    method = make_standin()
    out = method.restore(lq_clip, scale=4, steps=None, seed=0)  # argparse would stop at `--name -o`
    argv = json.loads((method.last_run_dir / "argv.json").read_text())
    name = argv[argv.index("--name") + 1]
    assert name == safe_name("-o") and name.startswith("_-o-") and out.read().shape == (6, 96, 128, 3)
    assert all(not safe_name(n).startswith(("-", ".")) for n in ("-", "--help", "-rf", ".-x", "..", "-"))


def test_a_flooding_tool_keeps_only_the_head_and_tail_of_its_log(make_standin, lq_clip, standin_data):
    data = standin_data()
    data["command"]["argv"] += ["--spam-mb", "5"]
    with pytest.raises(MethodError, match="exited with status 3") as err:
        make_standin(data, mode="fail").restore(lq_clip, scale=4, steps=None, seed=0)
    assert "simulated CUDA out of memory" in str(err.value)  # the tail still ends the error message
    log = _log(err)
    text = log.read_bytes()
    assert 2 * LOG_KEEP_BYTES < 5 * 2**20 and len(text) <= 2 * LOG_KEEP_BYTES + 100
    assert text.startswith(b"stand-in: mode=fail") and text.rstrip().endswith(b"simulated CUDA out of memory")
    assert b"bytes of output left out here]" in text


@pytest.mark.parametrize("mode", ["ok", "fail"])
def test_a_setsid_daemon_of_the_tool_does_not_survive_the_run(make_standin, lq_clip, standin_data, mode):
    data = standin_data()
    data["command"]["argv"] += ["--spawn-daemon"]
    method = make_standin(data, mode=mode, keep=True)
    if mode == "ok":
        method.restore(lq_clip, scale=4, steps=None, seed=0)
        log = method.last_run_dir / "log.txt"
    else:
        with pytest.raises(MethodError, match="exited with status 3") as err:
            method.restore(lq_clip, scale=4, steps=None, seed=0)
        log = _log(err)
    daemon = int(log.read_text().split("daemon ")[1].split()[0])
    assert not _alive(daemon), "a setsid daemon started by the tool survived the run"


def test_a_setsid_daemon_of_a_hanging_tool_is_ended_on_timeout(make_standin, lq_clip, standin_data):
    data = standin_data()
    data["command"]["argv"] += ["--spawn-daemon"]
    with pytest.raises(MethodError, match="timed out after 1.5 s") as err:
        make_standin(data, mode="hang", timeout=1.5).restore(lq_clip, scale=4, steps=None, seed=0)
    text = _log(err).read_text()
    for pid in (int(text.split("daemon ")[1].split()[0]), int(text.split("grandchild ")[1].split()[0])):
        assert not _alive(pid)
