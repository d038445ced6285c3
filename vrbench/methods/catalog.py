"""Method plugins from folders: YAML `command` cards and adapter `.py` files.

Searched: the shipped catalog (`method_adapters/` of a checkout, or its copy inside the wheel) and every folder
named in `VRBENCH_METHOD_ADAPTERS` (separated by the OS path separator). Only the top level of each folder is
read (so `method_adapters/examples/` is not loaded unless named). A broken file never breaks the registry: its
error is kept in `registry.load_errors` under the file's path and shown by `vrbench methods list`, and in
`registry.broken` under the method name it meant to register (the card's `name`, else the file's stem), so a
run naming that method fails with the card file, the key path and the validation message, not "unknown method".

An adapter `.py` file registers its methods when imported, like an entry-point plugin
(`@METHODS.register(MethodCard(...))`), or defines `register(registry)` to be called with the registry.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from vrbench.errors import InputError
from vrbench.methods.command_spec import CommandCard, checked_summary, readiness, resolve_vars
from vrbench.paths import catalog_dir

ENV_DIRS = "VRBENCH_METHOD_ADAPTERS"


def catalog_dirs() -> list[Path]:
    """The shipped catalog, then the user folders named in $VRBENCH_METHOD_ADAPTERS."""
    dirs = [catalog_dir("method_adapters")]
    dirs += [Path(p).expanduser() for p in os.environ.get(ENV_DIRS, "").split(os.pathsep) if p.strip()]
    return dirs


def load_into(registry: Any, dirs: list[Path] | None = None) -> list[str]:
    """Register every card and adapter file found in `dirs`; returns the names registered."""
    added: list[str] = []
    for folder in catalog_dirs() if dirs is None else dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith((".", "_")):
                continue
            loader = {".yaml": load_card_file, ".yml": load_card_file, ".py": load_adapter_file}.get(path.suffix)
            if loader is None:
                continue
            try:
                added += loader(registry, path)
            except Exception as e:  # noqa: BLE001 - a broken plugin file must not break the registry; kept, shown
                registry.load_errors[str(path)] = f"{type(e).__name__}: {e}"
                for name in _meant_names(path):
                    registry.broken.setdefault(name, _why_broken(path, e))
    return added


def _meant_names(path: Path) -> list[str]:
    """The method names a file that failed to load meant to register: its stem and, for a card, its `name`."""
    names = [path.stem]
    if path.suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            data = None
        if isinstance(data, dict) and isinstance(data.get("name"), str) and data["name"] != path.stem:
            names.append(data["name"])
    return names


def _why_broken(path: Path, error: Exception) -> str:
    shown = _shown(path)
    if path.suffix == ".py":
        return f"method adapter file {shown} failed to load: {type(error).__name__}: {error}"
    if isinstance(error, InputError):  # the validation message with its key paths, or why it is not a card
        detail = error.found if error.problem == "invalid method card" else f"{error.problem} ({error.found})"
    else:
        detail = f"{type(error).__name__}: {error}"
    return f"method card {shown} is invalid: {detail}"


def _shown(path: Path) -> str:
    """A path as the user typed it: relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse_card(path: Path) -> CommandCard:
    """Read and validate one YAML card; errors name the file and the key path."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise InputError("method card is not valid YAML", file=path, found=str(e)) from e
    if not isinstance(data, dict):
        raise InputError("method card must be a YAML mapping", file=path, expected="mapping",
                         found=type(data).__name__)
    try:
        return CommandCard.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(card)'}: {err['msg']}"
                             for err in e.errors())
        raise InputError("invalid method card", file=path, found=problems) from e


def load_card_file(registry: Any, path: Path) -> list[str]:
    spec = parse_card(path)
    card = spec.method_card()
    if card.name in registry and getattr(registry.entry(card.name).factory, "card_file", None) == str(path.resolve()):
        return []  # the same file loaded twice (e.g. named in two folders)
    registry.add(card, command_factory(spec, card, path), origin=f"card {path}")
    return [card.name]


def command_factory(spec: CommandCard, card: Any, path: Path) -> Callable[..., Any]:
    """The registry factory of a YAML card; it also answers `runnable()` without building anything."""

    def factory(**options: Any) -> Any:
        from vrbench.methods.command import CommandMethod

        return CommandMethod(spec, card, options, path.resolve().parent)

    def runnable() -> tuple[bool, str]:
        from vrbench.methods.profiling import nvidia_driver_present

        reasons = readiness(spec, resolve_vars(spec, {}, os.environ, path.resolve().parent), nvidia_driver_present())
        return (not reasons, "; ".join(reasons) or checked_summary(spec))

    factory.runnable = runnable  # type: ignore[attr-defined]
    factory.card_file = str(path.resolve())  # type: ignore[attr-defined]
    factory.command_card = spec  # type: ignore[attr-defined]
    return factory


def load_adapter_file(registry: Any, path: Path) -> list[str]:
    """Import an adapter file under a private module name; it registers through decorators or `register()`."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    module_name = f"vrbench_method_adapters.{path.stem}_{digest}"
    if module_name in sys.modules:
        return []
    before = set(registry.names())
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InputError("cannot import adapter file", file=path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up while it executes
    # the registry records `_origin` on what decorators register meanwhile, as it does for entry points
    previous = getattr(registry, "_origin", None)
    if previous is not None:
        registry._origin = f"file {path}"
    try:
        spec.loader.exec_module(module)
        if callable(getattr(module, "register", None)):
            module.register(registry)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    finally:
        if previous is not None:
            registry._origin = previous
    return sorted(set(registry.names()) - before)
