"""One typed registry for datasets, methods and metrics, filled by decorators, built-in modules and entry points.

Entries are (card, factory) pairs: listing reads the cards without building anything; `create` calls the
factory. Built-in modules are imported on first use so `import vrbench` stays cheap, and third-party packages
plug in through the entry-point groups `vrbench.methods`, `vrbench.metrics` and `vrbench.datasets`.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Generic, TypeVar

from vrbench.errors import UnknownNameError, VrbenchError

T = TypeVar("T")
CARD_ATTR = "__vrbench_card__"


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered thing: its card and the factory that builds it (called with keyword options)."""

    card: Any
    factory: Callable[..., T]
    origin: str = "builtin"


class Registry(Generic[T]):
    """Name -> Entry map for one kind of thing, with "did you mean" on misses."""

    def __init__(self, kind: str, entry_point_group: str, builtin_modules: tuple[str, ...] = (),
                 loader: Callable[[Registry], None] | None = None) -> None:
        """`builtin_modules` register their entries when imported; `loader(registry)`, if given, adds entries read
        from card files on first use."""
        self.kind, self.group, self.builtin_modules, self.loader = kind, entry_point_group, builtin_modules, loader
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}
        self._loaded = False
        self._origin = "builtin"  # what `register` records while an entry point is being imported
        self.load_errors: dict[str, str] = {}
        self.broken: dict[str, str] = {}  # name -> why the card or plugin file meant to register it did not load

    # ---- filling ------------------------------------------------------------------------------------------
    def register(self, card: Any, *, aliases: tuple[str, ...] = (), origin: str | None = None) -> Callable:
        """Decorator: register `factory` under `card.name`. A name may be registered only once."""

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            self.add(card, factory, aliases=aliases, origin=origin or self._origin)
            setattr(factory, CARD_ATTR, card)
            return factory

        return decorate

    def add(self, card: Any, factory: Callable[..., T], *, aliases: tuple[str, ...] = (), origin: str = "builtin"):
        name = card.name
        existing = self._entries.get(name)
        if existing is not None and existing.factory is not factory:
            raise VrbenchError(f"{self.kind} '{name}' is registered twice ({existing.origin} and {origin})")
        self._entries[name] = Entry(card, factory, origin)
        for alias in aliases:
            self._aliases[alias] = name

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self.builtin_modules:
            importlib.import_module(module)
        if self.loader is not None:
            self.loader(self)
        for ep in metadata.entry_points(group=self.group):
            self._origin = f"entry point {ep.value}"
            try:
                obj = ep.load()
            except Exception as e:  # noqa: BLE001 - a broken plugin must not break the rest of the registry
                self.load_errors[ep.name] = f"{type(e).__name__}: {e}"
                continue
            finally:
                self._origin = "builtin"
            card = getattr(obj, CARD_ATTR, None)
            if card is not None and card.name not in self._entries:
                self.add(card, obj, origin=f"entry point {ep.value}")

    # ---- lookup -------------------------------------------------------------------------------------------
    def names(self, pattern: str = "*") -> list[str]:
        self._ensure_loaded()
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def entry(self, name: str) -> Entry[T]:
        self._ensure_loaded()
        name = self._aliases.get(name, name)
        if name in self._entries:
            return self._entries[name]
        if name in self.broken:
            raise UnknownNameError(f"unknown {self.kind} '{name}': {self.broken[name]}")
        close = difflib.get_close_matches(name, list(self._entries) + list(self._aliases), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(self.names())
        raise UnknownNameError(f"unknown {self.kind} '{name}'.{hint} Known {self.kind}s: {known}")

    def card(self, name: str) -> Any:
        return self.entry(name).card

    def create(self, name: str, **options: Any) -> T:
        return self.entry(name).factory(**options)

    def __contains__(self, name: str) -> bool:
        self._ensure_loaded()
        return self._aliases.get(name, name) in self._entries

    def cards(self, pattern: str = "*") -> list[Any]:
        return [self._entries[n].card for n in self.names(pattern)]


DATASETS: Registry = Registry("dataset", "vrbench.datasets", ("vrbench.data.builtin",))
# the SATB restorer registers its own adapters, so `vrbench.methods` never imports `vrbench.satb`
METHODS: Registry = Registry("method", "vrbench.methods", ("vrbench.satb.adapter", "vrbench.methods.builtin"))
METRICS: Registry = Registry("metric", "vrbench.metrics", ("vrbench.metrics.builtin",))
