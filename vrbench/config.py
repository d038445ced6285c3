"""Benchmark configs: YAML files or named configs shipped in `vrbench/configs/`, validated with pydantic.

Unknown keys are errors (with the key path), so a typo never silently falls back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vrbench.errors import InputError
from vrbench.paths import PACKAGE_DIR


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
    steps: list[int | None] = Field(default_factory=lambda: [None])
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


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    datasets: list[DatasetEntry]
    methods: list[MethodEntry]
    metrics: list[str] = Field(default_factory=list)  # empty: the protocol's metric set
    seed: int = 0
    seeds: list[int] | None = None  # several seeds: one run record holding every seed (a plan axis, like steps)
    protocol: str = "default"
    chunk: int = 8
    fast: bool = False
    # conventions (vrbench.data.geometry, vrbench.protocols): None = the protocol card's value; the resolved values
    # are recorded with the run and are part of every value's cache key
    crop_border: int | None = None
    output_rule: OutputRule | None = None
    geometry: Geometry | None = None  # size mismatch with GT: error, score the common area, or resize to GT
    anchor: Anchor | None = None
    resize_filter: ResizeFilter | None = None  # for geometry: resize (default bicubic)
    shift_search: bool = False  # integer-shift search up to the dataset card's max_shift
    device: str | None = None

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
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise InputError("config is not valid YAML", file=path, found=str(e)) from e
    if not isinstance(data, dict):
        raise InputError("config must be a YAML mapping", file=path, expected="mapping", found=type(data).__name__)
    return parse_config(data, source=str(path))


def parse_config(data: dict[str, Any], source: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
        raise InputError("invalid config", file=source, found=problems) from e
