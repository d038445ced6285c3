"""The YAML card of a `command` adapter: schema, placeholders, variables and the "can it run here?" check.

A card describes how to run a method's official inference code as an external process: the command as a list of
arguments (never a shell string), the working directory and environment, how the LQ clip is handed over (a PNG
folder or a lossless video), where the output lands, the flags for steps and seed, a timeout and the output
geometry to expect. Placeholders are `{name}` fields; each is replaced inside one argument, in one pass, so a
value containing spaces, quotes, `;` or `$(...)` stays one literal argument and is never parsed again.

Card variables (`vars:`, e.g. `repo`, `python`) are resolved from, in order: the method options of the benchmark
config, the environment variable `VRBENCH_<CARD>_<VAR>` (e.g. `VRBENCH_SEEDVR2_3B_REPO`), the card's default.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vrbench.errors import InputError
from vrbench.methods.base import MethodCard
from vrbench.weights import WeightFile

# Placeholders every template may use; their values are set for each clip by the adapter.
RUN_FIELDS = ("input", "input_dir", "output_dir", "run_dir", "clip", "scale", "steps", "seed", "out_height",
              "out_width", "in_height", "in_width", "num_frames", "fps")
# Known when the card is loaded: the folder holding the card (for wrapper scripts shipped beside it).
CARD_FIELDS = ("card_dir",)
# Method options that configure the adapter itself rather than fill a card variable.
ADAPTER_OPTIONS = ("timeout", "work_root", "keep")
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_IDENT = re.compile(r"[a-z_][a-z0-9_]*")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
IMPORT_PROBE_TIMEOUT_S = 120.0
_PROBE_DONE = "vrbench-import-probe-done"
# run by the card's interpreter as `python -c PROBE mod1 mod2 ...`: one line per module it cannot import
_IMPORT_PROBE = ("import importlib, sys\n"
                 "for m in sys.argv[1:]:\n"
                 "    try:\n"
                 "        importlib.import_module(m)\n"
                 "    except BaseException as e:\n"
                 "        print(f'{m} ({type(e).__name__}: {e})')\n"
                 f"print({_PROBE_DONE!r})\n")


def render(template: str, values: Mapping[str, Any], where: str = "template") -> str:
    """Replace `{name}` fields (and `{{`, `}}`) in one pass; substituted text is never expanded again."""

    def substitute(match: re.Match) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        if not _IDENT.fullmatch(name):
            raise InputError("malformed placeholder", file=where, expected="{name} with a lower-case identifier",
                             found=token)
        if name not in values:
            raise InputError("unknown placeholder", file=where, expected=sorted(values), found=token)
        if values[name] is None:
            raise InputError("placeholder has no value", file=where, expected=f"a value for {token}", found="none")
        return str(values[name])

    return _FIELD.sub(substitute, template)


def env_var_name(card: str, var: str) -> str:
    """`seedvr2-3b`, `repo` -> `VRBENCH_SEEDVR2_3B_REPO`."""
    return "VRBENCH_" + re.sub(r"[^A-Z0-9]", "_", f"{card}_{var}".upper())


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputSpec(_Strict):
    format: Literal["frames", "video"] = "frames"
    codec: Literal["ffv1", "libx264rgb"] = "ffv1"  # lossless either way; ffv1 -> .mkv, libx264rgb -> .mp4
    frame_name: str = "{:08d}.png"

    @property
    def extension(self) -> str:
        return ".mkv" if self.codec == "ffv1" else ".mp4"


class OutputSpec(_Strict):
    format: Literal["frames", "video"]
    path: str  # relative to {output_dir}; may hold glob wildcards; must match exactly one entry
    # frame names must number the frames 0..T-1 or 1..T (false: unnumbered names, taken in natural order)
    strict_names: bool = True


class Geometry(_Strict):
    frames: Literal["same", "any"] = "same"
    size: Literal["scale", "any"] = "scale"


class Requires(_Strict):
    gpu: bool = False
    files: list[str] = Field(default_factory=list)
    # modules the command's program (argv[0], then a Python interpreter) must import; tried before a run
    imports: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _module_names(self) -> Requires:
        bad = [m for m in self.imports if not _MODULE.fullmatch(m)]
        if bad:
            raise ValueError(f"requires.imports holds names that are not Python modules: {bad}")
        return self


class CommandSpec(_Strict):
    argv: list[str] = Field(min_length=1)
    workdir: str | None = None  # default: the run's own folder
    env: dict[str, str] = Field(default_factory=dict)
    inherit_env: bool = True
    input: InputSpec = Field(default_factory=InputSpec)
    output: OutputSpec
    steps_args: list[str] = Field(default_factory=list)  # appended only when a step count is asked for
    seed_args: list[str] = Field(default_factory=list)
    timeout: float = Field(default=7200.0, gt=0)
    geometry: Geometry = Field(default_factory=Geometry)
    requires: Requires = Field(default_factory=Requires)

    def templates(self) -> list[tuple[str, str]]:
        """(where, template) for every templated string of the command."""
        items = [(f"argv[{i}]", a) for i, a in enumerate(self.argv)]
        items += [(f"steps_args[{i}]", a) for i, a in enumerate(self.steps_args)]
        items += [(f"seed_args[{i}]", a) for i, a in enumerate(self.seed_args)]
        items += [(f"env.{k}", v) for k, v in self.env.items()] + [("output.path", self.output.path)]
        items += [(f"requires.files[{i}]", f) for i, f in enumerate(self.requires.files)]
        return items + ([("workdir", self.workdir)] if self.workdir is not None else [])


class WeightModel(_Strict):
    file: str
    url: str
    sha256: str = ""
    note: str = ""


class CommandCard(_Strict):
    """One YAML card: the method card fields, the command, and what was verified."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    summary: str
    paper: str = ""
    license: str = ""
    kind: Literal["external", "generative", "baseline"] = "external"
    supports_steps: bool = False
    default_steps: int | None = None
    scale: int | None = 4
    colour_fix: str = "none"
    deterministic: bool
    params: int | None = None
    repo: str = ""
    commit: str = ""
    verified: str = Field(min_length=1)
    setup: str = ""
    notes: str = ""
    weights: list[WeightModel] = Field(default_factory=list)
    status: Literal["ready", "needs-wrapper", "no-code"] = "ready"
    status_reason: str = ""
    vars: dict[str, str | None] = Field(default_factory=dict)
    command: CommandSpec

    @model_validator(mode="after")
    def _consistent(self) -> CommandCard:
        if self.supports_steps and not any("{steps}" in a for a in self.command.argv + self.command.steps_args):
            raise ValueError("supports_steps is true but neither argv nor steps_args uses {steps}")
        if self.status != "ready" and not self.status_reason:
            raise ValueError(f"status '{self.status}' needs a status_reason")
        for var in self.vars:
            if not _IDENT.fullmatch(var) or var in RUN_FIELDS + CARD_FIELDS + ADAPTER_OPTIONS:
                raise ValueError(f"variable name '{var}' is not an identifier or is reserved")
        dummy = dict.fromkeys((*RUN_FIELDS, *CARD_FIELDS, *self.vars), "x")
        for where, template in self.command.templates():
            render(template, dummy, f"command.{where}")
        return self

    @property
    def seeded(self) -> bool:
        return bool(self.command.seed_args)

    def method_card(self) -> MethodCard:
        notes = " ".join(x for x in (self.notes.strip(), f"(commit {self.commit})" if self.commit else "") if x)
        return MethodCard(
            name=self.name, summary=self.summary, paper=self.paper, license=self.license, kind=self.kind,
            supports_steps=self.supports_steps, default_steps=self.default_steps, scale=self.scale,
            colour_fix=self.colour_fix, deterministic=self.deterministic,
            seeded=self.seeded, weights=tuple(WeightFile.from_card(**w.model_dump()) for w in self.weights),
            params=self.params, repo=self.repo, verified=self.verified.strip(), notes=notes)


def resolve_vars(card: CommandCard, options: Mapping[str, Any], environ: Mapping[str, str],
                 card_dir: Path | None = None) -> dict[str, str | None]:
    """Card variables from options, then `VRBENCH_<CARD>_<VAR>`, then the card default (None: still unset)."""
    unknown = sorted(set(options) - set(card.vars) - set(ADAPTER_OPTIONS))
    if unknown:
        raise InputError(f"unknown option for method '{card.name}'", expected=sorted(card.vars) + list(ADAPTER_OPTIONS),
                         found=", ".join(unknown))
    values: dict[str, str | None] = {}
    for var, default in card.vars.items():
        given = options.get(var, environ.get(env_var_name(card.name, var), default))
        values[var] = None if given is None else str(given)
    return {**values, "card_dir": str(card_dir) if card_dir is not None else None}


def readiness(card: CommandCard, values: Mapping[str, str | None], gpu_present: bool) -> list[str]:
    """Reasons the card cannot run here (empty: it can).

    Checked: the card's status, its variables, the working directory, the program, the required files, the GPU
    and, when the card lists `requires.imports`, that the program imports them (it is started once for that).
    The tool's own inference is never run here.
    """
    if card.status != "ready":
        return [card.status_reason]
    missing = [v for v, x in values.items() if x is None and v not in CARD_FIELDS]
    if missing:
        return [f"set {v}= (method option) or ${env_var_name(card.name, v)}" for v in missing]
    known = {**dict.fromkeys(RUN_FIELDS), **values}
    reasons = []
    workdir = _try_render(card.command.workdir, known)
    if workdir is not None and not Path(workdir).expanduser().is_dir():
        reasons.append(f"workdir not found: {workdir}")
    exe = _try_render(card.command.argv[0], known)
    found = exe is not None and _executable(exe, workdir)
    if exe is not None and not found:
        reasons.append(f"program not found: {exe}")
    for template in card.command.requires.files:
        file = _try_render(template, known)
        if file is not None and not _resolve(file, workdir).exists():
            reasons.append(f"missing file: {file}")
    if card.command.requires.gpu and not gpu_present:
        reasons.append("needs an NVIDIA GPU (no driver found)")
    if found and card.command.requires.imports and not reasons:
        reasons += _import_problems(card, exe, workdir, known)
    return reasons


def checked_summary(card: CommandCard) -> str:
    """What `readiness` verified when it found nothing wrong, and what it leaves unchecked."""
    req = card.command.requires
    found = ["program"] + ([f"{len(req.files)} required file(s)"] if req.files else []) + (["GPU"] if req.gpu else [])
    imports = (f"it imports {', '.join(req.imports)}" if req.imports
               else "imports not checked (the card lists none under requires.imports)")
    return f"{', '.join(found)} found; {imports}; the tool itself is not run until a benchmark does"


def _import_problems(card: CommandCard, exe: str, workdir: str | None, known: Mapping[str, Any]) -> list[str]:
    """Start the card's program as a Python interpreter and try each module of `requires.imports`."""
    program = str(_resolve(exe, workdir)) if "/" in exe else (shutil.which(exe) or exe)
    env = dict(os.environ) if card.command.inherit_env else {k: os.environ[k] for k in ("PATH", "HOME", "LANG")
                                                            if k in os.environ}
    env.update({k: v for k, v in ((k, _try_render(t, known)) for k, t in card.command.env.items()) if v is not None})
    with tempfile.TemporaryDirectory(prefix="vrbench-probe-") as empty:  # a run starts in an empty run folder
        cwd = str(Path(workdir).expanduser()) if workdir is not None else empty
        try:
            proc = subprocess.run([program, "-c", _IMPORT_PROBE, *card.command.requires.imports], cwd=cwd, env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=IMPORT_PROBE_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return [f"{exe} did not finish importing {', '.join(card.command.requires.imports)} within "
                    f"{IMPORT_PROBE_TIMEOUT_S:g} s"]
        except OSError as e:
            return [f"cannot start {exe}: {e.strerror or e}"]
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or lines[-1] != _PROBE_DONE:
        tail = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
        return [f"{exe} did not run as a Python interpreter to check imports (exit {proc.returncode}: {tail})"]
    return [f"{exe} cannot import {line}" for line in lines[:-1]]


def _try_render(template: str | None, values: Mapping[str, Any]) -> str | None:
    """Render with what is known before a run; None when the template needs per-clip values."""
    if template is None:
        return None
    try:
        return render(template, values)
    except InputError:
        return None


def _resolve(path: str, workdir: str | None) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() or workdir is None else Path(workdir).expanduser() / p


def _executable(program: str, workdir: str | None) -> bool:
    if "/" in program:
        return _resolve(program, workdir).is_file()
    return shutil.which(program) is not None
