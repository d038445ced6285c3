"""Reported-result cards: a published table kept as data, with its source, the protocol as far as it is known, its
metric and dataset names mapped to our ids, its method names mapped to our method cards, and its values exactly as
printed (the text is kept, so a value's rounding is the paper's).

One card per paper table (`reports/reported/*.yaml`). A card is checked entry by entry when it is read; every bad
entry is one line naming the file and the key, and a card with any bad entry is refused as a whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vrbench.errors import VrbenchError

TOP_KEYS = {"name", "title", "source", "protocol", "datasets", "metrics", "methods", "columns", "rows", "notes"}
SOURCE_KEYS = {"paper", "authors", "arxiv", "table"}
PROTOCOL_KEYS = {"lq", "resolution", "colour_fix", "aggregation", "vrbench_protocol", "lq_manifest_sha256"}
METRIC_KEYS = {"id", "exact", "note", "higher_is_better"}
METHOD_KEYS = {"card", "note"}
NOT_PRINTED = (None, "–", "-")


class ReportedCardError(VrbenchError):
    """A reported-result card with bad entries; `problems` holds one line per entry (file and key named)."""

    def __init__(self, file: Path, problems: list[str]) -> None:
        self.file, self.problems = file, problems
        super().__init__(f"reported card {file} is invalid ({len(problems)} problem{'s' * (len(problems) != 1)}):\n"
                         + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class MetricMap:
    """A metric as printed, our id for it (None: we have none) and whether the conventions are known to match."""

    printed: str
    id: str | None
    higher_is_better: bool | None
    exact: bool
    note: str = ""

    @property
    def key(self) -> str:
        """What identifies the metric across papers: our id, else the printed name."""
        return self.id or self.printed


@dataclass(frozen=True)
class MethodMap:
    printed: str
    card: str | None
    note: str = ""

    @property
    def key(self) -> str:
        return self.card or self.printed


@dataclass(frozen=True)
class ReportedValue:
    dataset: str  # our dataset id
    metric: str  # as printed
    method: str  # as printed
    text: str  # exactly as printed
    value: float


@dataclass(frozen=True)
class ReportedCard:
    name: str
    title: str
    file: Path
    source: dict[str, str]
    protocol: dict[str, Any]
    datasets: dict[str, str]  # printed -> our id
    metrics: dict[str, MetricMap]  # printed -> map
    methods: dict[str, MethodMap]  # printed -> map
    columns: list[str]
    values: list[ReportedValue]
    notes: list[str] = field(default_factory=list)

    @property
    def citation(self) -> str:
        s = self.source
        arxiv = f", arXiv {s['arxiv']}" if s.get("arxiv") else ""
        return f"{s.get('authors', '')}, \"{s.get('paper', '')}\"{arxiv}, {s.get('table', '')}".lstrip(", ")

    def dataset_names(self) -> list[str]:
        """Our ids of the card's datasets, in the card's order."""
        return list(dict.fromkeys(v.dataset for v in self.values))

    def printed_dataset(self, dataset: str) -> str:
        return next((p for p, d in self.datasets.items() if d == dataset), dataset)


def _known(kind: str) -> set[str]:
    from vrbench.registry import DATASETS, METHODS, METRICS

    return set({"metric": METRICS, "dataset": DATASETS, "method": METHODS}[kind].names())


def _number(text: Any) -> float | None:
    """A printed value as a float, or None if it is not a finite number."""
    if isinstance(text, bool) or not isinstance(text, (int, float, str)):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _mapping(data: dict[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    raw = data.get(key) or {}
    if not isinstance(raw, dict):
        problems.append(f"{key}: expected a mapping, found {type(raw).__name__}")
        return {}
    return raw


def _unknown_keys(data: dict[str, Any], allowed: set[str], where: str, problems: list[str]) -> None:
    for key in sorted(set(data) - allowed):
        problems.append(f"{where}.{key}: unknown key (expected one of {', '.join(sorted(allowed))})")


def _metric_map(printed: str, raw: Any, known: set[str], problems: list[str]) -> MetricMap | None:
    where = f"metrics.{printed}"
    if isinstance(raw, str):
        raw = {"id": raw}
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a metric id or {{id, exact, note}}, found {raw!r}")
        return None
    _unknown_keys(raw, METRIC_KEYS, where, problems)
    mid = raw.get("id")
    higher = raw.get("higher_is_better")
    if mid is not None and mid not in known:
        problems.append(f"{where}.id: unknown metric id {mid!r} (see `vrbench metrics list`; null if we have none)")
        return None
    if mid is None and not isinstance(higher, bool):
        problems.append(f"{where}: a metric without our id needs higher_is_better: true|false, found {higher!r}")
        return None
    if mid is not None:
        from vrbench.registry import METRICS

        card_higher = bool(METRICS.card(mid).higher_is_better)
        if higher is not None and higher != card_higher:
            problems.append(f"{where}.higher_is_better: {higher} contradicts metric card {mid} ({card_higher})")
        higher = card_higher
    exact = raw.get("exact", False)
    if not isinstance(exact, bool):
        problems.append(f"{where}.exact: expected true or false, found {exact!r}")
        exact = False
    return MetricMap(printed, mid, higher, exact and mid is not None, str(raw.get("note") or ""))


def _method_map(printed: str, raw: Any, known: set[str], problems: list[str]) -> MethodMap | None:
    where = f"methods.{printed}"
    if raw is None or isinstance(raw, str):
        raw = {"card": raw}
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a method card name, null or {{card, note}}, found {raw!r}")
        return None
    _unknown_keys(raw, METHOD_KEYS, where, problems)
    card = raw.get("card")
    if card is not None and card not in known:
        problems.append(f"{where}.card: unknown method card {card!r} (see `vrbench methods list`; null if none)")
        return None
    return MethodMap(printed, card, str(raw.get("note") or ""))


def _values(data: dict[str, Any], card: dict[str, Any], problems: list[str]) -> list[ReportedValue]:
    columns, rows = data.get("columns"), data.get("rows")
    if not isinstance(columns, list) or not columns:
        problems.append(f"columns: expected the list of printed method names, found {columns!r}")
        return []
    if not isinstance(rows, dict) or not rows:
        problems.append(f"rows: expected {{dataset: {{metric: [values]}}}}, found {type(rows).__name__}")
        return []
    problems.extend(f"columns: {c!r} has no entry under methods" for c in columns if c not in card["methods"])
    out = []
    for dataset, metrics in rows.items():
        if dataset not in card["datasets"]:
            problems.append(f"rows.{dataset}: dataset not mapped under datasets")
            continue
        if not isinstance(metrics, dict):
            problems.append(f"rows.{dataset}: expected {{metric: [values]}}, found {metrics!r}")
            continue
        for metric, cells in metrics.items():
            where = f"rows.{dataset}.{metric}"
            if metric not in card["metrics"]:
                problems.append(f"{where}: metric not mapped under metrics")
                continue
            if not isinstance(cells, list) or len(cells) != len(columns):
                problems.append(f"{where}: expected {len(columns)} values (one per column), found "
                                f"{len(cells) if isinstance(cells, list) else repr(cells)}")
                continue
            for method, cell in zip(columns, cells, strict=True):
                if cell in NOT_PRINTED:
                    continue
                value = _number(cell)
                if value is None:
                    problems.append(f"{where}.{method}: expected a number as printed, found {cell!r}")
                    continue
                out.append(ReportedValue(card["datasets"][dataset], metric, method, str(cell), value))
    return out


def parse_card(data: Any, file: Path) -> ReportedCard:
    """A card from its YAML mapping; `ReportedCardError` lists every bad entry (one line each)."""
    if not isinstance(data, dict):
        raise ReportedCardError(file, [f"top level: expected a mapping, found {type(data).__name__}"])
    problems: list[str] = []
    _unknown_keys(data, TOP_KEYS, "card", problems)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"name: expected the card name, found {name!r}")
    elif name != file.stem:
        problems.append(f"name: {name!r} differs from the file name {file.stem!r}")
    source = _mapping(data, "source", problems)
    _unknown_keys(source, SOURCE_KEYS, "source", problems)
    if not source.get("paper") or not source.get("table"):
        problems.append("source: expected paper and table (the citation shown beside every reported row)")
    protocol = _mapping(data, "protocol", problems)
    _unknown_keys(protocol, PROTOCOL_KEYS, "protocol", problems)
    if not protocol.get("lq"):
        problems.append("protocol.lq: expected where the LQ comes from (e.g. 'the paper's own degradations, seed "
                        "unpublished')")
    known_datasets = _known("dataset")
    datasets = {}
    raw_datasets, raw_metrics, raw_methods = (_mapping(data, k, problems) for k in ("datasets", "metrics", "methods"))
    for printed, ours in raw_datasets.items():
        if ours not in known_datasets:
            problems.append(f"datasets.{printed}: unknown dataset id {ours!r} (see `vrbench datasets list`)")
        else:
            datasets[str(printed)] = ours
    known_metrics, known_methods = _known("metric"), _known("method")
    metrics = {str(k): m for k, v in raw_metrics.items()
               if (m := _metric_map(str(k), v, known_metrics, problems)) is not None}
    methods = {str(k): m for k, v in raw_methods.items()
               if (m := _method_map(str(k), v, known_methods, problems)) is not None}
    values = _values(data, {"datasets": {**dict.fromkeys(raw_datasets, None), **datasets},
                            "metrics": raw_metrics, "methods": raw_methods}, problems)
    if problems:
        raise ReportedCardError(file, problems)
    notes = data.get("notes") or []
    return ReportedCard(name, str(data.get("title") or name), file, {k: str(v) for k, v in source.items() if v},
                        protocol, datasets, metrics, methods, list(data["columns"]), values,
                        [str(n) for n in notes] if isinstance(notes, list) else [str(notes)])


def read_card(file: Path) -> ReportedCard:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ReportedCardError(file, [f"file: not readable as YAML: {' '.join(str(e).split())}"]) from e
    return parse_card(data, file)


def catalog_folder() -> Path:
    from vrbench.paths import catalog_dir

    return catalog_dir("reports") / "reported"


def load_catalog(folder: Path | None = None) -> tuple[dict[str, ReportedCard], dict[str, ReportedCardError]]:
    """(name -> card, file stem -> why it was refused) of every card in the catalog folder."""
    cards, broken = {}, {}
    for file in sorted((folder or catalog_folder()).glob("*.yaml")):
        try:
            card = read_card(file)
        except ReportedCardError as e:
            broken[file.stem] = e
            continue
        cards[card.name] = card
    return cards, broken


def load_cards(names: list[str], folder: Path | None = None) -> list[ReportedCard]:
    """The named cards (a name or a path to a YAML file); an unknown or invalid one is refused."""
    import difflib

    from vrbench.errors import UnknownNameError

    cards, broken = load_catalog(folder)
    out = []
    for name in names:
        path = Path(name)
        if path.suffix in (".yaml", ".yml") and path.is_file():
            out.append(read_card(path))
        elif name in cards:
            out.append(cards[name])
        elif name in broken:
            raise broken[name]
        else:
            close = difflib.get_close_matches(name, list(cards), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise UnknownNameError(f"unknown reported card '{name}'.{hint} Known: {', '.join(cards) or 'none'}")
    return out
