"""The `command` adapter end to end with the stand-in script: success, failures, timeouts, verification, security."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from processes import alive as _alive

from vrbench.errors import InputError, MethodError
from vrbench.methods.command import safe_name
from vrbench.methods.command_spec import CommandCard, readiness, render


def test_success_gives_verified_x4_output_and_honours_steps_and_seed(make_standin, lq_clip):
    method = make_standin()
    out = method.restore(lq_clip, scale=4, steps=None, seed=0)
    frames = out.read()
    assert frames.shape == (6, 96, 128, 3) and out.conversions == ()
    run_dir = method.last_run_dir
    assert out.path.is_relative_to(run_dir / "output") and not (run_dir / "input").exists()
    argv = json.loads((run_dir / "argv.json").read_text())
    assert "--steps" not in argv and argv[argv.index("--seed") + 1] == "0"  # steps=None: the tool's default
    # same seed twice: identical; another seed or step count: different
    again = make_standin().restore(lq_clip, scale=4, steps=None, seed=0).read()
    other_seed = make_standin().restore(lq_clip, scale=4, steps=None, seed=1).read()
    more_steps = make_standin().restore(lq_clip, scale=4, steps=4, seed=0).read()
    assert np.array_equal(frames, again)
    assert not np.array_equal(frames, other_seed) and not np.array_equal(frames, more_steps)


def test_video_in_and_video_out(make_standin, lq_clip, standin_data):
    data = standin_data(input={"format": "video", "codec": "ffv1"}, output={"format": "video", "path": "{clip}.mkv"})
    method = make_standin(data, format="video")
    out = method.restore(lq_clip, scale=4, steps=1, seed=3)
    assert out.path.suffix == ".mkv" and out.pix_fmt == "bgr0" and out.conversions == ()
    assert out.read().shape == (6, 96, 128, 3)
    frames_run = make_standin().restore(lq_clip, scale=4, steps=1, seed=3).read()
    np.testing.assert_array_equal(out.read(), frames_run)  # lossless both ways: same pixels as the PNG route


def test_nonzero_exit_reports_status_and_log_tail(make_standin, lq_clip):
    method = make_standin(mode="fail")
    with pytest.raises(MethodError, match="exited with status 3") as err:
        method.restore(lq_clip, scale=4, steps=None, seed=0)
    assert "simulated CUDA out of memory" in str(err.value)
    log = Path(str(err.value).split("log ")[1].split(")")[0])
    assert log.is_file() and "mode=fail" in log.read_text()
    assert not (log.parent / "output").exists()  # partial output dropped, log kept


def test_timeout_kills_the_whole_process_group(make_standin, lq_clip):
    method = make_standin(mode="hang", timeout=1.5)
    # the tool never returns by itself: getting the error at all means it was stopped
    with pytest.raises(MethodError, match=r"timed out after 1.5 s and its process group was killed") as err:
        method.restore(lq_clip, scale=4, steps=None, seed=0)
    log_text = Path(str(err.value).split("log ")[1].split(")")[0]).read_text()
    grandchild = int(log_text.split("grandchild ")[1].split()[0])
    time.sleep(0.2)
    assert not _alive(grandchild), "a grandchild of the timed-out tool survived"


@pytest.mark.parametrize(("mode", "error", "message"), [
    ("wrong-count", InputError, "wrong number of output frames (clip 'bunny'"),
    ("wrong-size", InputError, "wrong output size (clip 'bunny'"),
    ("garbage", InputError, "cannot decode image"),
    ("silent", MethodError, "expected exactly one output frame folder matching 'bunny' for clip 'bunny', found 0"),
    ("escape", InputError, "output links outside the run folder"),
])
def test_bad_outputs_are_refused(make_standin, lq_clip, mode, error, message):
    with pytest.raises(error) as err:
        make_standin(mode=mode).restore(lq_clip, scale=4, steps=None, seed=0)
    assert message in str(err.value)
    if mode == "wrong-count":
        assert "expected 6 frames, found 5 frames" in str(err.value)
    if mode == "wrong-size":
        assert "expected 128x96, found 124x96" in str(err.value)


def test_output_pattern_cannot_escape_the_run_folder(make_standin, lq_clip, standin_data):
    data = standin_data(output={"format": "frames", "path": "../../{clip}"})
    with pytest.raises(InputError, match="output path escapes the run folder"):
        make_standin(data).restore(lq_clip, scale=4, steps=None, seed=0)
    data = standin_data(output={"format": "frames", "path": "/tmp/*"})
    with pytest.raises(InputError, match="output path escapes the run folder"):
        make_standin(data).restore(lq_clip, scale=4, steps=None, seed=0)


def test_arguments_reach_the_tool_literally(make_standin, lq_clip, tmp_path, monkeypatch):
    """No shell ever sees the arguments: spaces, quotes, ';', '$(...)' and backticks arrive unchanged."""
    monkeypatch.chdir(tmp_path)
    nasty = "a b; touch PWNED1 $(touch PWNED2) `touch PWNED3` 'single' \"double\" {seed} > out.txt"
    lq_clip.name = "clip with spaces; $(rm -rf x)"
    method = make_standin(tag=nasty)
    method.restore(lq_clip, scale=4, steps=3, seed=7)
    argv = json.loads((method.last_run_dir / "argv.json").read_text())
    assert argv[argv.index("--tag") + 1] == nasty  # one argument, '{seed}' inside a value is not expanded
    assert argv[argv.index("--steps") + 1] == "3" and argv[argv.index("--seed") + 1] == "7"
    assert argv[argv.index("--name") + 1] == safe_name(lq_clip.name)
    assert safe_name(lq_clip.name).startswith("clip_with_spaces____rm_-rf_x_-")
    assert not list(tmp_path.rglob("PWNED*")) and not list(tmp_path.rglob("out.txt"))


def test_render_is_single_pass_and_strict():
    assert render("{a}-{{b}}", {"a": "{b}", "b": "x"}) == "{b}-{b}"
    with pytest.raises(InputError, match="unknown placeholder"):
        render("--x {nope}", {"a": 1}, "argv[1]")
    with pytest.raises(InputError, match="malformed placeholder"):
        render("{a.__class__}", {"a": 1})


def test_card_validation_names_the_problem(standin_data):
    bad = standin_data(argv="python tool.py --input {input}")  # a shell string, not a list
    with pytest.raises(ValueError, match="Input should be a valid list"):
        CommandCard.model_validate(bad)
    bad = standin_data(argv=["{python}", "--out", "{outptu_dir}"])
    with pytest.raises(ValueError, match="unknown placeholder"):
        CommandCard.model_validate(bad)
    bad = standin_data(steps_args=[])
    with pytest.raises(ValueError, match="supports_steps is true but neither argv nor steps_args uses"):
        CommandCard.model_validate(bad)
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        CommandCard.model_validate({**standin_data(), "sede": 1})


def test_step_count_is_refused_when_the_tool_has_no_flag(make_standin, lq_clip, standin_data):
    data = standin_data(steps_args=[])
    data.update(supports_steps=False, default_steps=1)
    with pytest.raises(InputError, match="has no step-count flag"):
        make_standin(data).restore(lq_clip, scale=4, steps=4, seed=0)


def test_readiness_reasons(tmp_path, standin_data):
    data = standin_data(workdir="{repo}", requires={"gpu": True, "files": ["weights/model.pt"]})
    data["vars"] = {**data["vars"], "repo": None}
    spec = CommandCard.model_validate(data)
    values = {"python": "python3", "mode": "ok", "tag": "", "alloc_mb": "0", "format": "frames", "repo": None,
              "card_dir": str(tmp_path)}
    assert readiness(spec, values, gpu_present=False) == ["set repo= (method option) or $VRBENCH_STANDIN_X4_REPO"]
    values["repo"] = str(tmp_path)
    assert readiness(spec, values, gpu_present=False) == [
        "missing file: weights/model.pt", "needs an NVIDIA GPU (no driver found)"]
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.pt").write_bytes(b"w")
    assert readiness(spec, values, gpu_present=True) == []


def test_variables_come_from_options_then_environment_then_card(make_standin, monkeypatch, lq_clip):
    monkeypatch.setenv("VRBENCH_STANDIN_X4_TAG", "from-env")
    method = make_standin()
    assert method.vars["tag"] == "from-env" and method.vars["mode"] == "ok"
    assert make_standin(tag="from-option").vars["tag"] == "from-option"
    with pytest.raises(InputError, match="unknown option for method 'standin-x4'"):
        make_standin(colour="blue")
    assert method.config() != make_standin(tag="other").config()  # variables are part of the cache key
