"""Benchmark configs: YAML files or named configs shipped in `vrbench/configs/`, validated with pydantic.

Unknown keys are errors (with the key path), so a typo never silently falls back to a default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vrbench.errors import InputError
from vrbench.paths import PACKAGE_DIR

# a run name becomes a folder (reports/<run>) and a key: letters, digits and . _ + - only, no separators
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
Seed = Annotated[int, Field(ge=0, lt=2**63)]  # what every generator we seed accepts
MAX_YAML_BYTES = 1 << 20
MAX_YAML_DEPTH = 64
MAX_YAML_ALIASES = 100


class DatasetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    root: str | None = None
    clips: list[str] | None = None


Geometry = Literal["error", "crop", "resize"]  # output size != GT size: error, score the common area, resize to GT
OutputRule = Literal["scale", "seedvr2-area", "short-side-1024"]
Anchor = Literal["top-left", "center"]
ResizeFilter = Literal["bicubic", "bilinear", "area", "lanczos"]


class MethodEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    label: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    steps: list[Annotated[int, Field(ge=0, le=10_000)] | None] = Field(default_factory=lambda: [None])
    # per-method geometry of published outputs (None: the run's); part of the cache key of this method's values
    output_rule: OutputRule | None = None
    geometry: Geometry | None = None
    anchor: Anchor | None = None
    resize_filter: ResizeFilter | None = None

    def geometry_overrides(self) -> dict[str, Any]:
        return {k: v for k in ("output_rule", "geometry", "anchor", "resize_filter")
                if (v := getattr(self, k)) is not None}

    @property
    def display(self) -> str:
        return self.label or self.name

    @field_validator("label")
    @classmethod
    def _printable_label(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in value)):
            raise ValueError(f"a label must be printable text, found {value!r}")
        return value


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    datasets: list[DatasetEntry]
    methods: list[MethodEntry]
    metrics: list[str] = Field(default_factory=list)  # empty: the protocol's metric set
    seed: Seed = 0
    seeds: list[Seed] | None = None  # several seeds: one run record holding every seed (a plan axis, like steps)
    protocol: str = "default"
    chunk: int = Field(8, ge=1, le=4096)  # frames per chunk on the device
    fast: bool = False
    # conventions (vrbench.data.geometry, vrbench.protocols): None = the protocol card's value; the resolved values
    # are recorded with the run and are part of every value's cache key
    crop_border: Annotated[int, Field(ge=0)] | None = None
    output_rule: OutputRule | None = None
    geometry: Geometry | None = None  # size mismatch with GT: error, score the common area, or resize to GT
    anchor: Anchor | None = None
    resize_filter: ResizeFilter | None = None  # for geometry: resize (default bicubic)
    shift_search: bool = False  # integer-shift search up to the dataset card's max_shift
    device: str | None = None

    @field_validator("name")
    @classmethod
    def _name_is_an_identifier(cls, value: str) -> str:
        if not RUN_NAME.fullmatch(value):
            raise ValueError(f"a run name is 1-100 letters, digits, '.', '_', '+' or '-' (it names the report folder), "
                             f"starting with a letter or digit; found {value!r}")
        return value

    @model_validator(mode="after")
    def _one_row_per_name(self) -> RunConfig:
        """Values are stored under the dataset's name and the method's display name: two entries sharing one would
        overwrite or average each other in one leaderboard row."""
        named = (("dataset", [d.name for d in self.datasets]), ("method", [m.display for m in self.methods]))
        for what, names in named:
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                hint = "give each method entry its own label" if what == "method" else "use one run per dataset root"
                raise ValueError(f"{what} {', '.join(map(repr, twice))} listed twice: {hint}")
        return self

    @model_validator(mode="after")
    def _one_way_to_give_seeds(self) -> RunConfig:
        if self.seeds is not None:
            if not self.seeds or len(set(self.seeds)) != len(self.seeds):
                raise ValueError(f"seeds must be a non-empty list of distinct integers, found {self.seeds}")
            if "seed" in self.model_fields_set and self.seed not in self.seeds:
                raise ValueError(f"give either seed ({self.seed}) or seeds ({self.seeds}), not both")
        return self

    @property
    def seed_list(self) -> list[int]:
        return list(self.seeds) if self.seeds is not None else [self.seed]

    @field_validator("datasets", "methods", mode="before")
    @classmethod
    def _names_as_entries(cls, value: Any) -> Any:
        """Allow the short form `methods: [bicubic, lanczos]` besides full mappings."""
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value


def named_configs() -> list[str]:
    return sorted(p.stem for p in (PACKAGE_DIR / "configs").glob("*.yaml"))


def load_config(name_or_path: str | Path) -> RunConfig:
    """A named shipped config (`demo`) or a YAML file path."""
    path = Path(name_or_path)
    if not path.is_file():
        shipped = PACKAGE_DIR / "configs" / f"{name_or_path}.yaml"
        if not shipped.is_file():
            raise InputError("config not found", file=name_or_path,
                             expected=f"a YAML file or one of the named configs {named_configs()}", found="neither")
        path = shipped
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise InputError("config must be a YAML mapping", file=path, expected="mapping", found=type(data).__name__)
    return parse_config(data, source=str(path))


def load_yaml(path: Path) -> Any:
    """Safe YAML with bounds: a config is small, shallow and has few aliases, so a file that is not (an alias bomb,
    10,000 nested lists) is refused before it can take memory or the stack."""
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise InputError("config file too large", file=path, expected=f"at most {MAX_YAML_BYTES} bytes",
                         found=f"{size} bytes")
    try:
        loader = _BoundedLoader(path.read_text())
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        raise InputError("config is not valid YAML", file=path, found=str(e).replace("\n", " ")) from e
    except RecursionError as e:
        raise InputError("config nests too deeply", file=path, expected=f"at most {MAX_YAML_DEPTH} levels",
                         found="deeper") from e


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases and nesting while composing the document."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} aliases (an alias bomb?)")
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.YAMLError(f"nesting deeper than {MAX_YAML_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _problem(err: Any) -> str:
    """`key.path: message` of one validation error (pydantic's "Value error, " prefix dropped)."""
    msg = str(err["msg"]).removeprefix("Value error, ")
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {msg}" if where else msg


def parse_config(data: dict[str, Any], source: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(_problem(err) for err in e.errors())
        raise InputError("invalid config", file=source, found=problems) from e
