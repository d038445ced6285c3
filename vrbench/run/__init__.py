"""Running a benchmark: `plan` (pure: config + read-only store -> typed jobs), `worker` (builds each method and
metric once per process, turns jobs into typed outcomes, owns the device), `executors` (in-process, local
processes / GPUs, Ray) and `runner` (resolves the config once, snapshots the cards, commits as the single writer).
"""

from vrbench.run.plan import content_hash
from vrbench.run.runner import RunSummary, dry_run, run_benchmark

__all__ = ["RunSummary", "content_hash", "dry_run", "run_benchmark"]
