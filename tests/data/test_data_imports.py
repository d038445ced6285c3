"""The modules of `vrbench.data` depend on each other one way: no import circle, not even through an import inside a
function (cards and clips at the bottom, then checks, then the loader, preparation and the CLI)."""

from __future__ import annotations

import ast
from pathlib import Path

import vrbench.data

PACKAGE = "vrbench.data"


def _imports(file: Path) -> set[str]:
    """Modules of the package that `file` imports anywhere (module level or inside a function)."""
    found = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from vrbench.data import base`
    return {m.removeprefix(PACKAGE + ".") for m in found if m.startswith(PACKAGE + ".")}


def _circle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of `graph` as the list of its modules, or [] if there is none."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_modules_of_vrbench_data_import_each_other_one_way():
    files = sorted(Path(vrbench.data.__file__).parent.glob("*.py"))
    names = {f.stem for f in files} - {"__init__"}
    graph = {f.stem: _imports(f) & names for f in files if f.stem in names}
    assert {"base", "checks", "dataset", "layouts", "prepare"} <= names
    assert "checks" in graph["dataset"] and "base" in graph["checks"]  # the graph is read, not empty
    assert _circle(graph) == []


def test_a_circle_is_found():
    assert _circle({"base": {"checks"}, "checks": {"base", "layouts"}, "layouts": set()}) == ["base", "checks", "base"]
    assert _circle({"base": {"layouts"}, "checks": {"base"}, "layouts": set()}) == []
