"""Import hygiene: `vrbench.methods` never pulls in the SATB restorer, `import vrbench` never pulls in torch, and
the SATB adapters still register through the METHODS registry."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path


def _modules_after(code: str) -> set[str]:
    """The names in `sys.modules` after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _satb(loaded: set[str]) -> set[str]:
    return {m for m in loaded if m == "vrbench.satb" or m.startswith("vrbench.satb.")}


def test_import_vrbench_methods_does_not_import_satb():
    assert "vrbench.methods" in _modules_after("import vrbench.methods")
    assert not _satb(_modules_after("import vrbench.methods"))


def test_no_module_of_vrbench_methods_imports_satb():
    """Read every module's import statements (functions included): none names `vrbench.satb`."""
    import vrbench.methods

    files = sorted(Path(vrbench.methods.__file__).parent.glob("*.py"))
    assert {"builtin.py", "interp.py", "catalog.py"} <= {f.name for f in files}
    offenders = []
    for file in files:
        for node in ast.walk(ast.parse(file.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{file.name}: {n}" for n in names if n == "vrbench.satb" or n.startswith("vrbench.satb.")]
    assert offenders == []


def test_import_vrbench_stays_free_of_torch():
    loaded = _modules_after("import vrbench")
    assert "vrbench" in loaded
    assert "torch" not in loaded


def test_satb_methods_register_through_the_registry():
    loaded = _modules_after("from vrbench.registry import METHODS\n"
                            "names = METHODS.names()\n"
                            "assert {'satb', 'satb-dtg', 'bicubic'} <= set(names), names")
    assert "vrbench.satb.adapter" in loaded
    assert "torch" not in loaded  # listing methods builds no network
