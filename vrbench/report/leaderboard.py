"""A static leaderboard merged from submissions (`vrbench leaderboard build A.json B.json ... --out DIR`).

Submissions are grouped per dataset; two join one table only when their protocol hash, their LQ manifest hash and
the version (with weights digests) of every metric they share are equal. Otherwise they go into separate tables, and
a note names the hash that differs. Each table is built by the report machinery (`tables.build_boards`: clip means,
bootstrap intervals, ranks only among methods complete on every clip) from the submissions' per-clip values, and
rendered like a report's leaderboard; the page is self-contained (inline CSS/JS, a Content-Security-Policy that
forbids any request).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from vrbench.report import tables
from vrbench.report.cards import MetricCards
from vrbench.report.submission import metric_version, read_submission


@dataclass
class Member:
    source: str  # the name rows carry: the file's stem, made unique
    file: Path
    submission: dict[str, Any]


@dataclass
class Group:
    """Submissions on one dataset that can be ranked together."""

    dataset: str
    protocol: str
    protocol_sha256: str
    lq_manifest_sha256: str
    versions: dict[str, str]  # metric -> version with weights digest
    members: list[Member] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.protocol} · LQ {self.lq_manifest_sha256[:12]}"


def _sources(files: list[Path]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for f in files:
        stem = f.stem
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return out


def _versions(sub: dict[str, Any], dataset: str) -> dict[str, str]:
    used = {v["metric"] for v in sub["values"] if v["dataset"] == dataset}
    return {m: metric_version(sub["metrics"][m]) for m in sorted(used)}


def _why_apart(group: Group, member: Member, dataset: str) -> str | None:
    """The first hash that keeps `member` out of `group`, as one line; None if it may join."""
    sub, first = member.submission, group.members[0]
    name, other = f"{member.file.name}", f"{first.file.name}"
    protocol = sub["protocol"]["sha256"]
    if protocol != group.protocol_sha256:
        return (f"{name} on {dataset}: protocol hash {protocol[:12]} ({sub['protocol'].get('name')}) differs from "
                f"{other}'s {group.protocol_sha256[:12]} ({group.protocol})")
    lq = sub["datasets"][dataset]["lq_manifest_sha256"]
    if not lq or not group.lq_manifest_sha256:  # a run without a dataset manifest: its LQ cannot be compared
        return (f"{name} on {dataset}: lq_manifest_sha256 unknown (no dataset manifest recorded) in "
                f"{name if not lq else other}")
    if lq != group.lq_manifest_sha256:
        return (f"{name} on {dataset}: lq_manifest_sha256 {lq[:12]} differs from {other}'s "
                f"{group.lq_manifest_sha256[:12]}")
    for metric, version in _versions(sub, dataset).items():
        if metric in group.versions and version != group.versions[metric]:
            return (f"{name} on {dataset}: metric {metric} {version} differs from {other}'s "
                    f"{group.versions[metric]}")
    return None


def merge(files: list[Path]) -> tuple[list[Group], list[str]]:
    """Groups of submissions that rank together (per dataset, in file order) and one line per submission kept apart,
    naming the hash that differs."""
    members = [Member(src, f, read_submission(f)) for src, f in zip(_sources(files), files, strict=True)]
    groups: list[Group] = []
    notes: list[str] = []
    for member in members:
        sub = member.submission
        for dataset in sub["datasets"]:
            candidates = [g for g in groups if g.dataset == dataset]
            reasons = [_why_apart(g, member, dataset) for g in candidates]
            home = next((g for g, why in zip(candidates, reasons, strict=True) if why is None), None)
            if home is None:
                notes.extend(f"kept apart: {why}" for why in reasons[:1])
                home = Group(dataset, sub["protocol"].get("name", "?"), sub["protocol"]["sha256"],
                             sub["datasets"][dataset]["lq_manifest_sha256"], {})
                groups.append(home)
            home.versions.update(_versions(sub, dataset))
            home.members.append(member)
    return groups, notes


def group_frame(group: Group) -> pd.DataFrame:
    """The group's per-clip values as the tidy results table the report machinery reads (one row per value)."""
    rows = []
    for m in group.members:
        for v in m.submission["values"]:
            if v["dataset"] != group.dataset:
                continue
            value = {"inf": float("inf"), "-inf": float("-inf"), None: float("nan")}.get(v["value"], v["value"])
            rows.append({"dataset": v["dataset"], "clip": v["clip"], "seed": int(v["seed"]), "metric": v["metric"],
                         "value": float(value), "protocol": group.label, "steps": tables.STEPS_NONE,
                         "method": f"{tables.method_label(v['method'], int(v['steps']))} · {m.source}"})
    return pd.DataFrame(rows, columns=["dataset", "clip", "seed", "metric", "value", "protocol", "steps", "method"])


def _labels(member: Member, dataset: str) -> list[str]:
    """Row labels of a member in its config's order (methods without any value keep a 0/m row)."""
    sub = member.submission
    planned = [r["method"] for r in sub.get("leaderboard", []) if r.get("dataset") == dataset]
    seen = [tables.method_label(v["method"], int(v["steps"])) for v in sub["values"] if v["dataset"] == dataset]
    return [f"{label} · {member.source}" for label in dict.fromkeys([*planned, *seen])]


def group_board(group: Group, *, seed: int = 0) -> tables.Board | None:
    df = group_frame(group)
    if df.empty:
        return None
    cards = MetricCards({k: v for m in group.members for k, v in m.submission["metrics"].items()})
    first = group.members[0].submission["datasets"][group.dataset]["clips"]
    planned = {c: bool(gt) for c, gt in first.items()}
    labels = [label for m in group.members for label in _labels(m, group.dataset)]
    expected = sorted({k for m in group.members for k in m.submission["metrics"]})
    boards = tables.build_boards(df, seed=seed, order=labels, cards=cards, planned={group.dataset: planned},
                                 expected=expected, methods=labels)
    return boards[0] if boards else None


def _member_rows(group: Group) -> list[dict[str, Any]]:
    out = []
    for m in group.members:
        sub, env = m.submission, m.submission.get("environment", {})
        cost = {c["method"]: c for c in sub.get("cost", [])}
        out.append({"source": m.source, "file": m.file.name, "run": sub["name"], "created": sub.get("created", ""),
                    "vrbench": sub.get("vrbench", ""), "device": env.get("device", ""),
                    "git": str(env.get("git", ""))[:12],
                    "manifest": sub["datasets"][group.dataset].get("manifest_sha256", "")[:12],
                    "cost": [f"{k}: {v['spf']:.3g} s/frame" for k, v in cost.items() if v.get("spf") is not None]})
    return out


def _measured(built: list[tuple[Group, tables.Board]]) -> dict[str, dict[str, Any]]:
    """Per dataset, the first table's protocol, LQ hash and complete means (what reported rows are checked against)."""
    out: dict[str, dict[str, Any]] = {}
    for g, b in built:
        out.setdefault(g.dataset, {"protocol": g.protocol, "lq_manifest_sha256": g.lq_manifest_sha256,
                                   "means": {m: {k: b.mean(m, k) for k in b.metrics if b.complete(m, k)}
                                             for m in b.methods}})
    return out


def leaderboard_context(files: list[Path], *, level: float = 0.95, reported: list[str] | None = None
                        ) -> dict[str, Any]:
    from vrbench.report.html import leaderboard_tables
    from vrbench.report.reported import reported_view

    groups, notes = merge(files)
    built = [(g, group_board(g)) for g in groups]
    built = [(g, b) for g, b in built if b is not None]
    boards = [b for _, b in built]
    rendered = leaderboard_tables(boards, level)
    block = reported_view(reported or [], _measured(built))
    sections = []
    for (g, _), board in zip(built, rendered, strict=True):
        sections.append({"board": board, "dataset": g.dataset, "protocol": g.protocol,
                         "protocol_sha256": g.protocol_sha256, "lq": g.lq_manifest_sha256,
                         "versions": g.versions, "members": _member_rows(g),
                         "apart": sum(1 for h in groups if h.dataset == g.dataset) > 1})
    return {"sections": sections, "notes": notes, "boards": boards, "level": int(level * 100),
            "files": [f.name for f in files], "groups": groups, "reported": block}


def build_site(files: list[Path], out: Path, *, reported: list[str] | None = None) -> tuple[Path, list[str]]:
    """index.html (self-contained), leaderboard.csv / .md / .tex and merged.json in `out`; returns the page and the
    kept-apart notes. `out` must be new, empty or a leaderboard folder vrbench made. `reported`: reported-result
    cards shown in a block of their own."""
    from vrbench.fsutil import atomic_write_text, claim_folder, remove_stale
    from vrbench.report.export import write_tables
    from vrbench.report.html import render

    context = leaderboard_context(files, reported=reported)
    out = claim_folder(out, "leaderboard")
    remove_stale(out)
    page = out / "index.html"
    atomic_write_text(page, render({k: v for k, v in context.items() if k not in ("boards", "groups")},
                                   "leaderboard.html.j2"))
    write_tables(context["boards"], out, reported=context["reported"]["tables"])
    merged = {"submissions": context["files"], "kept_apart": context["notes"],
              "tables": [{"dataset": g.dataset, "protocol": g.protocol, "protocol_sha256": g.protocol_sha256,
                          "lq_manifest_sha256": g.lq_manifest_sha256, "metric_versions": g.versions,
                          "members": [m.file.name for m in g.members]} for g in context["groups"]]}
    atomic_write_text(out / "merged.json", json.dumps(merged, indent=1))
    return page, context["notes"]
