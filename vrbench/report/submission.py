"""Submissions: a run as one versioned, self-describing JSON file that a leaderboard can merge with others.

A submission carries what a reader needs to trust (and a leaderboard needs to compare) its numbers without the
store: per-clip values and dataset means with coverage, the metric cards as snapshotted at run start (version and
weights digests), the protocol's conventions and their hash, each dataset's manifest hash and the hash of the LQ it
was scored on, the method cards and their cost, the environment, failures and unavailable metrics. Per-frame values
stay in the store (and in the report's results.json).

The LQ manifest hash pins the pixels a method was given, not how they were made: it hashes each clip's LQ frame
digests (seeded synthetic LQ), or the released LQ's record, or the source a real clip was cut from; two machines
that synthesised bit-identical LQ agree on it even though their degradation environments differ.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

from vrbench.errors import VrbenchError

FORMAT = "vrbench.submission"
VERSION = 1
VALUE_KEYS = ("dataset", "clip", "method", "steps", "seed", "metric", "value")


class SubmissionError(VrbenchError):
    """A submission file that cannot be merged; `problems` holds one line per bad entry (file and key named)."""

    def __init__(self, file: Path, problems: list[str]) -> None:
        self.file, self.problems = file, problems
        super().__init__(f"submission {file} is invalid ({len(problems)} problem{'s' * (len(problems) != 1)}):\n"
                         + "\n".join(f"  {p}" for p in problems))


def canonical_sha256(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def lq_identity(record: dict[str, Any], clips: list[str]) -> dict[str, Any]:
    """What pins the LQ of `clips` in a dataset snapshot record: frame digests of synthetic LQ, the released LQ's
    record, or the source of a real clip."""
    out = {}
    for clip in sorted(clips):
        rec = (record.get("clips") or {}).get(clip) or {}
        degradation = rec.get("degradation")
        if isinstance(degradation, dict) and isinstance(degradation.get("lq"), dict):
            out[clip] = {"lq": degradation["lq"]}
        elif isinstance(rec.get("lq"), dict):
            out[clip] = {"lq": rec["lq"]}
        else:
            out[clip] = {k: v for k, v in rec.items() if k not in ("degradation", "gt", "notes")}
    return {"lq_source": record.get("lq_source"), "clips": out}


def lq_manifest_sha256(record: dict[str, Any], clips: list[str]) -> str:
    """The hash of `lq_identity`; "" (unknown, never equal to another) for a run that recorded no clip manifest."""
    return canonical_sha256(lq_identity(record, clips)) if record.get("clips") else ""


def dataset_identities(info: dict[str, Any], planned: dict[str, dict[str, bool]]) -> dict[str, dict[str, Any]]:
    """dataset -> {manifest_sha256, lq_manifest_sha256, lq_source, scale, clips: {clip: has GT}} of a run."""
    out = {}
    for name, clips in planned.items():
        record = (info.get("datasets") or {}).get(name) or {}
        out[name] = {"manifest_sha256": record.get("manifest_sha256") or "",
                     "lq_manifest_sha256": lq_manifest_sha256(record, list(clips)),
                     "lq_source": record.get("lq_source") or "", "scale": record.get("scale"),
                     "clips": dict(sorted(clips.items()))}
    return out


def protocol_record(info: dict[str, Any], conventions: dict[str, Any]) -> dict[str, Any]:
    """The run's protocol: its name, the resolved conventions and their hash."""
    conv = conventions.get("run") or info.get("provenance", {}).get("conventions") or {}
    return {"name": conv.get("protocol") or info.get("config", {}).get("protocol") or "default",
            "conventions": conv, "sha256": canonical_sha256(conv)}


def metric_records(cards: dict[str, Any], provenance: dict[str, Any]) -> dict[str, Any]:
    """Metric card snapshots plus the weights digests the run used (what makes two values of a metric comparable)."""
    used = provenance.get("metrics") or {}
    out = {}
    for name in sorted(set(cards) | set(used)):
        card = dict(cards.get(name) or {})
        card["version"] = str(card.get("version") or (used.get(name) or {}).get("version") or "")
        card["weights_sha256"] = (used.get(name) or {}).get("weights_sha256") or {}
        out[name] = card
    return out


def metric_version(record: dict[str, Any]) -> str:
    """A metric's version with its weights digests: equal strings mean comparable values."""
    weights = record.get("weights_sha256") or {}
    digest = canonical_sha256(weights)[:12] if weights else "no weights"
    return f"v{record.get('version', '?')} ({digest})"


def build_submission(store: Any, run: str) -> dict[str, Any]:
    """The submission of `run`, from the store alone."""
    import vrbench
    from vrbench.report import html, sources
    from vrbench.report.export import json_number, leaderboard_rows

    rt = html.run_tables(store, run)
    info, df = rt.info, rt.df
    runs = sources.method_runs(store, run, df) if not df.empty else None
    values = [{"dataset": r["dataset"], "clip": r["clip"], "method": r["method"], "steps": int(r["steps"]),
               "seed": int(r["seed"]), "metric": r["metric"], "value": json_number(r["value"]),
               "frames": int(r["frames"])}
              for r in df.drop(columns=["per_frame"]).to_dict(orient="records")] if not df.empty else []
    coverage = {b.dataset: {m: {k: list(b.coverage[k][m]) for k in b.metrics} for m in b.methods} for b in rt.boards}
    return {
        "format": FORMAT, "version": VERSION, "name": run, "vrbench": vrbench.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "description": info.get("config", {}).get("description", ""),
        "protocol": protocol_record(info, store.snapshot(run, "conventions")),
        "datasets": dataset_identities(info, rt.planned),
        "metrics": metric_records(store.snapshot(run, "metric"), info.get("provenance", {})),
        "methods": store.snapshot(run, "method"),
        "method_order": rt.order,
        "cost": [] if runs is None else html.cost_rows(runs, rt.order),
        "environment": info.get("provenance", {}), "config": info.get("config", {}),
        "leaderboard": leaderboard_rows(rt.boards), "coverage": coverage, "values": values,
        "failures": store.failures(run), "unavailable": store.unavailable(run),
    }


def write_submission(store: Any, run: str, file: Path) -> Path:
    from vrbench.fsutil import atomic_write_text

    """Write the submission of `run` to `file`, atomically; an existing file is replaced only if it is a submission
    (vrbench never overwrites what it did not write)."""
    from vrbench.errors import InputError

    exists = file.exists() or file.is_symlink()
    if exists and (not file.is_file() or file.is_symlink() or not _is_submission(file)):
        raise InputError("refusing to overwrite a file that is not a vrbench submission", file=file,
                         expected="a new path, or a submission file vrbench wrote", found=_describe(file),
                         hint="choose another --submission path")
    file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(file, json.dumps(build_submission(store, run), indent=1, default=str) + "\n")
    return file


def _is_submission(file: Path) -> bool:
    try:
        with open(file, encoding="utf-8") as f:
            head = f.read(200)
    except (OSError, UnicodeDecodeError):
        return False
    return f'"format": "{FORMAT}"' in head


def _describe(file: Path) -> str:
    if file.is_symlink():
        return "a link"
    return "a folder" if file.is_dir() else f"a file of {file.stat().st_size} bytes"


def _number_or_none(v: Any) -> bool:
    if v is None or v in ("inf", "-inf"):
        return True
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


def check_submission(data: Any, file: Path) -> list[str]:
    """One line per entry a leaderboard cannot use (empty: the submission is usable)."""
    if not isinstance(data, dict):
        return [f"top level: expected a JSON object, found {type(data).__name__}"]
    if data.get("format") != FORMAT:
        return [f"format: expected {FORMAT!r}, found {data.get('format')!r}"]
    problems = []
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
        problems.append(f"version: expected a submission version <= {VERSION}, found {version!r} (upgrade vrbench "
                        "to read newer files)")
    if not isinstance(data.get("name"), str) or not data["name"]:
        problems.append(f"name: expected the run name, found {data.get('name')!r}")
    protocol = data.get("protocol")
    if not isinstance(protocol, dict) or not isinstance(protocol.get("sha256"), str):
        problems.append("protocol.sha256: missing (the hash of the protocol's conventions)")
    datasets = data.get("datasets") if isinstance(data.get("datasets"), dict) else {}
    if not datasets:
        problems.append("datasets: expected {dataset: {lq_manifest_sha256, clips, ...}}")
    for name, d in datasets.items():
        if not isinstance(d, dict) or not isinstance(d.get("lq_manifest_sha256"), str) \
                or not isinstance(d.get("clips"), dict):
            problems.append(f"datasets.{name}: expected lq_manifest_sha256 and clips")
    metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
    for name, m in metrics.items():
        if not isinstance(m, dict) or "version" not in m:
            problems.append(f"metrics.{name}.version: missing (the metric card snapshot)")
    values = data.get("values")
    if not isinstance(values, list):
        return [*problems, f"values: expected a list of per-clip values, found {type(values).__name__}"]
    for i, v in enumerate(values):
        missing = [k for k in VALUE_KEYS if not isinstance(v, dict) or k not in v]
        if missing:
            problems.append(f"values[{i}]: missing {', '.join(missing)}")
        elif not all(isinstance(v[k], int) and not isinstance(v[k], bool) for k in ("steps", "seed")):
            problems.append(f"values[{i}]: steps and seed must be integers, found {v['steps']!r}, {v['seed']!r}")
        elif not _number_or_none(v["value"]):
            problems.append(f"values[{i}].value: expected a number, null, 'inf' or '-inf', found {v['value']!r}")
        elif v["dataset"] not in datasets:
            problems.append(f"values[{i}].dataset: {v['dataset']!r} is not under datasets")
        elif v["metric"] not in metrics:
            problems.append(f"values[{i}].metric: {v['metric']!r} is not under metrics")
        if len(problems) >= 20:
            problems.append("... (first 20 problems shown)")
            break
    return problems


def read_submission(file: Path) -> dict[str, Any]:
    """A submission file, checked; `SubmissionError` lists every bad entry."""
    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise SubmissionError(file, [f"file: not readable as JSON: {' '.join(str(e).split())}"]) from e
    if problems := check_submission(data, file):
        raise SubmissionError(file, problems)
    return data
