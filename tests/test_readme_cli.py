"""The README and the command line cannot drift: every `vrbench ...` line of the README's code blocks names a
command that exists, and every flag on it is an option of that command. Nothing is executed: the lines are
resolved against the click objects Typer builds (what `--help` prints)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from vrbench.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```.*?$(.*?)^```", re.S | re.M)


def readme_commands(text: str) -> list[str]:
    """Every `vrbench ...` invocation inside fenced code blocks; `a | b` on one line gives both."""
    found = []
    for block in FENCE.findall(text):
        for line in block.splitlines():
            for part in re.split(r"\s\|\s", line):  # alternatives on one line: `vrbench x | vrbench y`
                part = part.strip()
                if part.startswith("vrbench "):
                    found.append(part)
    return found


def words(command: str) -> list[str]:
    """The words of one invocation without its trailing comment, optional-brackets, `...` and `FILE` shapes."""
    out = []
    for w in shlex.split(command, comments=True):
        w = w.strip("[]")
        if w and w != "...":
            out.append(w)
    return out


def _is_group(cmd) -> bool:
    return hasattr(cmd, "commands")  # Typer's groups subclass the click it ships, not always `click.Group`


def resolve(command: str):
    """The click command a line names (sub-commands followed) and the flags it uses; ValueError if none."""
    root = typer.main.get_command(app)
    cmd, path = root, ["vrbench"]
    rest = words(command)[1:]
    while _is_group(cmd) and rest and not rest[0].startswith("-"):
        sub = cmd.commands.get(rest[0])
        if sub is None:
            raise ValueError(f"{' '.join(path)} has no command {rest[0]!r}")
        cmd, path, rest = sub, [*path, rest[0]], rest[1:]
    if _is_group(cmd):
        raise ValueError(f"{' '.join(path)} needs a sub-command")
    flags = [w.split("=", 1)[0] for w in rest if re.match(r"^--?[A-Za-z]", w)]
    return cmd, flags


def options_of(cmd) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")} | {"--help"}


COMMANDS = readme_commands(README.read_text())


def test_the_readme_shows_the_commands_it_should():
    assert len(COMMANDS) > 30
    shown = [words(c) for c in COMMANDS]
    assert ["vrbench", "methods", "list"] in shown and ["vrbench", "metrics", "list"] in shown  # split at `|`
    assert any(c.startswith("vrbench run CONFIG --workers 2") for c in COMMANDS)


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_command_and_flags_exist(line):
    cmd, flags = resolve(line)
    unknown = [f for f in flags if f not in options_of(cmd)]
    assert not unknown, f"`{line}`: {cmd.name} has no option {unknown} (it has {sorted(options_of(cmd))})"


def test_the_checker_rejects_what_does_not_exist():
    with pytest.raises(ValueError, match="has no command 'lst'"):
        resolve("vrbench metrics lst")
    with pytest.raises(ValueError, match="needs a sub-command"):
        resolve("vrbench weights   # what is there")
    cmd, flags = resolve("vrbench degrade --replay OUT/manifest.json [--gt GT] OUT2   # comment --not-a-flag")
    assert flags == ["--replay", "--gt"] and set(flags) <= options_of(cmd)
    cmd, flags = resolve("vrbench datasets list --jsn")
    assert "--jsn" not in options_of(cmd) and "--json" in options_of(cmd)
