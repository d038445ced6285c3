"""Step-count sweeps: every step count (and seed) of a method through the normal cached pipeline.

The table and figures of a sweep live in `vrbench.report.step_sweep`; this module only plans and runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vrbench.config import RunConfig, parse_config
from vrbench.errors import InputError
from vrbench.registry import METHODS


def check_supports_steps(method: str) -> None:
    """Refuse a method whose card does not declare a step count, naming those that do."""
    card = METHODS.card(method)
    if not card.supports_steps:
        able = [c.name for c in METHODS.cards() if c.supports_steps]
        raise InputError(f"method '{method}' has no step count to sweep",
                         expected="a method whose card has supports_steps=True"
                                  + (f" ({', '.join(able)})" if able else ""),
                         found="supports_steps=False")


def sweep_config(methods: list[str], steps: list[int], dataset: str, metrics: list[str], *,
                 seeds: Sequence[int] = (0,),
                 clips: list[str] | None = None, root: str | None = None, run: str | None = None,
                 options: dict[str, Any] | None = None, device: str | None = None) -> RunConfig:
    """The benchmark config of a sweep: one method entry per method with every step count; seeds as a plan axis."""
    if not steps or any(s < 0 for s in steps):
        raise InputError("bad step counts", expected="step counts >= 0, e.g. 0,1,2,4,8 (0: a method's one-pass "
                         "output, such as SATB's predictor)", found=steps)
    for m in methods:
        check_supports_steps(m)
    return parse_config({
        "name": run or f"sweep-{'-'.join(methods)}-{dataset}",
        "description": f"step sweep of {', '.join(methods)} over {sorted(steps)} steps on {dataset}",
        "datasets": [{"name": dataset, "root": root, "clips": clips}],
        "methods": [{"name": m, "options": dict(options or {}), "steps": sorted(set(steps))} for m in methods],
        "metrics": metrics, "seeds": list(seeds), "device": device}, source="vrbench sweep")


def run_sweep(methods: list[str], steps: list[int], dataset: str, metrics: list[str], *, seeds: Sequence[int] = (0,),
              store_path: Path | None = None, outputs: Path | None = None,
              on_progress: Callable[[str], None] | None = None,
              progress: Callable[[int, int], None] | None = None, replace: bool = False,
              **config: Any) -> tuple[str, Any]:
    """Every step count and seed of the sweep as one run; returns (run name, run summary)."""
    from vrbench.run import run_benchmark

    cfg = sweep_config(methods, steps, dataset, metrics, seeds=seeds, **config)
    return cfg.name, run_benchmark(cfg, store_path, outputs, on_progress=on_progress, progress=progress,
                                   replace=replace)
