"""Benchmark configs: YAML files or named configs shipped in `vrbench/configs/`, validated with pydantic.

Unknown keys are errors (with the key path), so a typo never silently falls back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vrbench.errors import InputError
from vrbench.paths import PACKAGE_DIR


class DatasetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    root: str | None = None
    clips: list[str] | None = None


class MethodEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    label: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    steps: list[int | None] = Field(default_factory=lambda: [None])

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
    protocol: str = "default"
    chunk: int = 8
    fast: bool = False
    # geometry policy (vrbench.data.geometry), recorded with every result and part of its cache key
    output_rule: Literal["scale", "seedvr2-area", "short-side-1024"] = "scale"
    geometry: Literal["error", "crop"] = "error"  # size mismatch with GT: error, or score the common area
    anchor: Literal["top-left", "center"] = "top-left"
    shift_search: bool = False  # integer-shift search up to the dataset card's max_shift
    device: str | None = None

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
