"""SQLite results store (WAL): one row per (run, dataset, clip, method, config, steps, seed, metric).

Each row carries the clip value, the per-frame values (float64 bytes), the metric version, the protocol, a
content-addressed cache key and a pointer to the run's provenance. Every write is one transaction, so a run
killed at any moment leaves either the whole unit of work or none of it, and a re-run computes only what is
missing. Rows found under the same cache key in another run are reused instead of recomputed.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vrbench.errors import InputError

NO_STEPS = -1  # steps of methods without a step count (SQLite treats NULLs as distinct in keys)

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (run TEXT PRIMARY KEY, config TEXT, provenance TEXT, created REAL, updated REAL);
CREATE TABLE IF NOT EXISTS provenance (id TEXT PRIMARY KEY, data TEXT);
CREATE TABLE IF NOT EXISTS results (
    run TEXT, dataset TEXT, clip TEXT, method TEXT, config_hash TEXT, steps INTEGER, seed INTEGER, metric TEXT,
    value REAL, per_frame BLOB, frames INTEGER, metric_version TEXT, protocol TEXT, method_name TEXT,
    cache_key TEXT, provenance TEXT, created REAL,
    PRIMARY KEY (run, dataset, clip, method, config_hash, steps, seed, metric));
CREATE INDEX IF NOT EXISTS results_cache_key ON results (cache_key);
CREATE TABLE IF NOT EXISTS method_runs (
    run TEXT, dataset TEXT, clip TEXT, method TEXT, config_hash TEXT, steps INTEGER, seed INTEGER,
    seconds REAL, frames INTEGER, out_height INTEGER, out_width INTEGER, peak_rss_mb REAL, peak_gpu_mb REAL,
    device TEXT, config TEXT, output TEXT, created REAL, cost TEXT, warnings TEXT,
    PRIMARY KEY (run, dataset, clip, method, config_hash, steps, seed));
CREATE TABLE IF NOT EXISTS alignments (
    run TEXT, dataset TEXT, clip TEXT, method TEXT, config_hash TEXT, steps INTEGER, seed INTEGER, data TEXT,
    PRIMARY KEY (run, dataset, clip, method, config_hash, steps, seed));
CREATE TABLE IF NOT EXISTS unavailable (run TEXT, metric TEXT, reason TEXT, files TEXT, PRIMARY KEY (run, metric));
CREATE TABLE IF NOT EXISTS failures (
    run TEXT, dataset TEXT, clip TEXT, method TEXT, stage TEXT, error TEXT, created REAL,
    PRIMARY KEY (run, dataset, clip, method, stage));
CREATE TABLE IF NOT EXISTS snapshots (run TEXT, kind TEXT, name TEXT, data TEXT, PRIMARY KEY (run, kind, name));
"""
# PRAGMA user_version of the schema above. 1: snapshots of cards and manifests taken at run start. A store written by
# a newer vrbench is refused rather than misread.
SCHEMA_VERSION = 1
RESULT_COLUMNS = ("run", "dataset", "clip", "method", "config_hash", "steps", "seed", "metric", "value", "per_frame",
                  "frames", "metric_version", "protocol", "method_name", "cache_key", "provenance", "created")

@dataclass(frozen=True)
class UnitKey:
    """Where a unit's values live: one (run, dataset, clip, method, config, steps, seed)."""

    run: str
    dataset: str
    clip: str
    method: str
    config_hash: str
    steps: int
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


KEY = tuple(UnitKey.__dataclass_fields__)
# A frame metric's row (per-frame values stored) over 0 frames or without a value is not a result: older versions
# stored such rows as successes (a config with `chunk: -1`), so they are never reused, only recomputed.
USABLE = "NOT (per_frame IS NOT NULL AND (frames = 0 OR value IS NULL))"


def result_problem(value: float, per_frame: np.ndarray | None) -> str | None:
    """Why a value cannot be stored as a success, or None: a frame metric (per-frame values given) must have
    scored at least one frame and have a value."""
    if per_frame is None:
        return None  # a clip-level metric; its NaN (e.g. a 1-frame clip has no frame pair) is a recorded n/a
    if len(per_frame) == 0:
        return "a frame metric scored 0 frames"
    if value is None or np.isnan(value):
        return f"a frame metric has no value over {len(per_frame)} frames"
    return None


@dataclass(frozen=True)
class ResultRow:
    run: str
    dataset: str
    clip: str
    method: str
    config_hash: str
    steps: int
    seed: int
    metric: str
    value: float
    per_frame: np.ndarray | None
    metric_version: str
    protocol: str
    method_name: str
    cache_key: str
    provenance: str


class Store:
    """Thin, transactional wrapper over the results database."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        """`read_only`: never write (a missing store reads as an empty one), e.g. for `vrbench run --dry-run`."""
        self.path = Path(path)
        try:
            if read_only and not self.path.exists():
                self.db = sqlite3.connect(":memory:", isolation_level=None)
                self.db.executescript(SCHEMA)
            elif read_only:
                self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=60,
                                          isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
                self._initialise()
            self._check_version()
        except sqlite3.DatabaseError as e:
            raise InputError("cannot open the results store", file=self.path,
                             expected="a vrbench SQLite store (or a path where one can be created)",
                             found=f"{type(e).__name__}: {e}") from e

    def _check_version(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            self.db.close()
            raise InputError("results store written by a newer vrbench", file=self.path,
                             expected=f"store schema version <= {SCHEMA_VERSION}", found=f"version {version}",
                             hint="upgrade vrbench, or pass another --store")

    def _initialise(self, patience: float = 60.0) -> None:
        """WAL mode + schema. Switching the journal mode does not wait on SQLite's busy timeout, so a second process
        opening a brand-new store at the same moment retries instead of failing with "database is locked"."""
        deadline = time.monotonic() + patience
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(SCHEMA)
                self._migrate()
                if self.db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _migrate(self) -> None:
        """Add columns that newer versions write to tables made by older ones."""
        have = {r[1] for r in self.db.execute("PRAGMA table_info(method_runs)")}
        for column in ("cost", "warnings"):
            if column not in have:
                try:
                    self.db.execute(f"ALTER TABLE method_runs ADD COLUMN {column} TEXT")
                except sqlite3.OperationalError as e:  # another process added it first
                    if "duplicate column" not in str(e):
                        raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self, statements: Iterable[tuple[str, tuple]]) -> None:
        try:
            cur = self.db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    cur.execute(sql, args)
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        except sqlite3.OperationalError as e:
            if "locked" in str(e):
                raise
            raise InputError("cannot write to the results store", file=self.path,
                             expected="a writable SQLite store", found=str(e)) from e

    # ---- runs and provenance ---------------------------------------------------------------------------------
    def start_run(self, run: str, config: dict[str, Any], provenance: dict[str, Any], provenance_id: str,
                  snapshot: dict[str, dict[str, Any]] | None = None) -> None:
        """Record the run (config, provenance) and the snapshot of what its report needs: {kind: {name: data}}
        for metric and method cards, dataset manifests and conventions, as they are at run start."""
        now = time.time()
        self._tx([
            ("INSERT OR IGNORE INTO provenance (id, data) VALUES (?, ?)",
             (provenance_id, json.dumps(provenance, sort_keys=True))),
            ("INSERT INTO runs (run, config, provenance, created, updated) VALUES (?, ?, ?, ?, ?) "
             "ON CONFLICT(run) DO UPDATE SET config=excluded.config, provenance=excluded.provenance, "
             "updated=excluded.updated", (run, json.dumps(config, sort_keys=True), provenance_id, now, now)),
            ("DELETE FROM unavailable WHERE run = ?", (run,)),
            *(("INSERT OR REPLACE INTO snapshots (run, kind, name, data) VALUES (?, ?, ?, ?)",
               (run, kind, name, json.dumps(data, sort_keys=True, default=str)))
              for kind, entries in (snapshot or {}).items() for name, data in entries.items()),
        ])

    def archive_run(self, run: str) -> str:
        """Rename a run everywhere to `<run>@<its last update, UTC>`; its values stay in the store (and reusable)."""
        info = self.run_info(run)
        if not info:
            return run
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(info["updated"] or time.time()))
        new = f"{run}@{stamp}"
        while self.run_info(new):
            new += "+"
        tables = ("runs", "results", "method_runs", "alignments", "unavailable", "failures", "snapshots")
        self._tx([(f"UPDATE {t} SET run = ? WHERE run = ?", (new, run)) for t in tables])
        return new

    def snapshot(self, run: str, kind: str) -> dict[str, Any]:
        """{name: data} of one kind of snapshot taken at run start (metric, method, dataset, conventions)."""
        rows = self.db.execute("SELECT name, data FROM snapshots WHERE run = ? AND kind = ?", (run, kind))
        return {name: json.loads(data) for name, data in rows}

    def provenance(self, provenance_id: str) -> dict[str, Any]:
        row = self.db.execute("SELECT data FROM provenance WHERE id = ?", (provenance_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def runs(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT run FROM runs ORDER BY created")]

    def run_info(self, run: str) -> dict[str, Any]:
        row = self.db.execute("SELECT config, provenance, created, updated FROM runs WHERE run = ?", (run,)).fetchone()
        if row is None:
            return {}
        return {"config": json.loads(row[0]), "provenance": self.provenance(row[1]), "created": row[2],
                "updated": row[3]}

    def method_configs(self, run: str) -> dict[str, set[str]]:
        """{method label: config hashes} of everything the run holds (values and method runs)."""
        rows = self.db.execute("SELECT method, config_hash FROM results WHERE run = ? UNION "
                               "SELECT method, config_hash FROM method_runs WHERE run = ?", (run, run))
        out: dict[str, set[str]] = {}
        for method, digest in rows:
            out.setdefault(method, set()).add(digest)
        return out

    # ---- results --------------------------------------------------------------------------------------------
    def stored_metrics(self, run: str, dataset: str, clip: str, method: str, config_hash: str, steps: int,
                       seed: int) -> dict[str, str]:
        """{metric: cache key} of the values stored for one unit; a value whose key no longer matches (the input
        clip, the metric version or its weights changed) is stale and gets recomputed."""
        rows = self.db.execute(
            "SELECT metric, cache_key FROM results WHERE run=? AND dataset=? AND clip=? AND method=? "
            f"AND config_hash=? AND steps=? AND seed=? AND {USABLE}", (run, dataset, clip, method, config_hash, steps,
                                                                      seed))
        return dict(rows.fetchall())

    def cached(self, cache_key: str) -> tuple[float, np.ndarray | None, int] | None:
        """A (value, per_frame, frames) stored under `cache_key` by any run, if there is one (a 0-frame or NULL
        row of a frame metric is not one)."""
        row = self.db.execute(f"SELECT value, per_frame, frames FROM results WHERE cache_key = ? AND {USABLE} "
                              "LIMIT 1", (cache_key,)).fetchone()
        if row is None:
            return None
        value, blob, frames = row
        return (float("nan") if value is None else value,
                None if blob is None else np.frombuffer(blob, dtype=np.float64).copy(), frames)

    def put_results(self, rows: list[ResultRow]) -> None:
        """Insert (or replace) a unit of work's rows in one transaction; a row that is not a result (see
        `result_problem`) refuses the whole unit, so nothing is stored as a success that a later run would reuse."""
        for r in rows:
            if problem := result_problem(r.value, r.per_frame):
                raise InputError(f"refusing to store a result: {problem}", clip=r.clip, dataset=r.dataset,
                                 expected=f"a value of {r.metric} over at least one frame",
                                 found=f"value {r.value}, {0 if r.per_frame is None else len(r.per_frame)} frames",
                                 hint=f"method {r.method}, run {r.run}")
        now = time.time()
        self._tx([(
            f"INSERT OR REPLACE INTO results ({', '.join(RESULT_COLUMNS)}) VALUES ({', '.join('?' * 17)})",
            (r.run, r.dataset, r.clip, r.method, r.config_hash, r.steps, r.seed, r.metric,
             None if np.isnan(r.value) else float(r.value),
             None if r.per_frame is None else np.asarray(r.per_frame, np.float64).tobytes(),
             0 if r.per_frame is None else len(r.per_frame), r.metric_version, r.protocol, r.method_name,
             r.cache_key, r.provenance, now)) for r in rows])

    def put_method_run(self, key: dict[str, Any], **fields: Any) -> None:
        cols = [*KEY, "seconds", "frames", "out_height", "out_width", "peak_rss_mb", "peak_gpu_mb", "device",
                "config", "output", "created", "cost", "warnings"]
        values = {**key, **fields, "created": time.time()}
        values["config"] = json.dumps(values.get("config", {}), sort_keys=True)
        self._tx([(f"INSERT OR REPLACE INTO method_runs ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                   tuple(values.get(c) for c in cols))])

    def put_alignment(self, key: dict[str, Any], alignment: dict[str, Any]) -> None:
        """How an output was aligned to its GT (boxes, shift, warnings) under a crop / shift-search policy."""
        self._tx([(f"INSERT OR REPLACE INTO alignments ({', '.join(KEY)}, data) VALUES (?,?,?,?,?,?,?,?)",
                   (*(key[k] for k in KEY), json.dumps(alignment, default=str)))])

    def alignments(self, run: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT dataset, clip, method, steps, data FROM alignments WHERE run = ?", (run,))
        return [{"dataset": d, "clip": c, "method": m, "steps": s, **json.loads(a)} for d, c, m, s, a in rows]

    def record_unavailable(self, run: str, metric: str, reason: str, files: tuple[str, ...]) -> None:
        self._tx([("INSERT OR REPLACE INTO unavailable (run, metric, reason, files) VALUES (?,?,?,?)",
                   (run, metric, reason, json.dumps(files)))])

    def record_failure(self, run: str, dataset: str, clip: str, method: str, stage: str, error: str) -> None:
        self._tx([("INSERT OR REPLACE INTO failures (run, dataset, clip, method, stage, error, created) "
                   "VALUES (?,?,?,?,?,?,?)",
                   (run, dataset, clip, method, stage, error, time.time()))])

    def drop_values(self, run: str, dataset: str = "*", clip: str = "*", method: str = "*",
                    key: UnitKey | None = None) -> None:
        """Remove a failed scope's values from `run` (one unit, or every unit of a dataset / clip / method: `*` matches
        anything), so a unit that fails now never keeps the numbers of an earlier success. Other runs keep theirs."""
        if key is not None:
            where, args = " AND ".join(f"{k} = ?" for k in KEY), tuple(key.as_dict().values())
        else:
            scope = {"run": run, "dataset": dataset, "clip": clip, "method": method}
            where = " AND ".join(f"{k} = ?" for k, v in scope.items() if v != "*")
            args = tuple(v for v in scope.values() if v != "*")
        self._tx([(f"DELETE FROM {t} WHERE {where}", args) for t in ("results", "method_runs", "alignments")])

    def clear_failure(self, run: str, dataset: str, clip: str, method: str) -> None:
        self._tx([("DELETE FROM failures WHERE run=? AND dataset=? AND clip=? AND method=?",
                   (run, dataset, clip, method))])

    # ---- reading back as tidy tables --------------------------------------------------------------------------
    def results_frame(self, run: str):
        """Tidy pandas table: one row per value, with per-frame arrays in a `per_frame` column."""
        import pandas as pd

        df = pd.read_sql_query("SELECT * FROM results WHERE run = ?", self.db, params=(run,))
        df["per_frame"] = [None if b is None else np.frombuffer(b, np.float64) for b in df["per_frame"]]
        df["value"] = df["value"].astype(float)
        return df

    def method_runs_frame(self, run: str):
        import pandas as pd

        return pd.read_sql_query("SELECT * FROM method_runs WHERE run = ?", self.db, params=(run,))

    def method_run_elsewhere(self, dataset: str, clip: str, config_hash: str, steps: int, seed: int,
                             columns: list[str]) -> dict[str, Any] | None:
        """The newest method run of any run for the same clip, method config, steps and seed (the output cache is
        keyed by those, not by run), as {column: value}."""
        allowed = {r[1] for r in self.db.execute("PRAGMA table_info(method_runs)")}
        bad = [c for c in columns if c not in allowed]
        if bad:
            raise ValueError(f"unknown method_runs columns {bad}")
        row = self.db.execute(
            f"SELECT {', '.join(columns)} FROM method_runs WHERE dataset=? AND clip=? AND config_hash=? AND steps=? "
            "AND seed=? ORDER BY created DESC LIMIT 1", (dataset, clip, config_hash, steps, seed)).fetchone()
        return None if row is None else dict(zip(columns, row, strict=True))

    def unavailable(self, run: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT metric, reason, files FROM unavailable WHERE run = ? ORDER BY metric", (run,))
        return [{"metric": m, "reason": r, "files": json.loads(f)} for m, r, f in rows]

    def failures(self, run: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT dataset, clip, method, stage, error FROM failures WHERE run = ? "
                               "ORDER BY dataset, clip, method", (run,))
        return [dict(zip(("dataset", "clip", "method", "stage", "error"), r, strict=True)) for r in rows]
