"""Registers the YAML cards bundled in `vrbench/degrade/cards/` in `PRESETS` (the registry imports this module the
first time it is read, as it does `vrbench.methods.builtin` for methods)."""

from __future__ import annotations

from vrbench.degrade.presets import cards_folder, register_card_file

for _file in sorted(cards_folder().glob("*.yaml")):
    register_card_file(_file)
