"""Imports the built-in method modules so their decorators register them, then the method catalog.

The catalog holds the YAML `command` cards of published methods and any adapter `.py` files, from
`method_adapters/` and the folders named in `VRBENCH_METHOD_ADAPTERS` (see `vrbench.methods.catalog`). The SATB
adapters register from `vrbench.satb.adapter`, which the METHODS registry imports beside this module, so
`vrbench.methods` depends on nothing in `vrbench.satb`.
"""

from vrbench.methods import folder, interp, sanity  # noqa: F401
from vrbench.methods.catalog import load_into
from vrbench.registry import METHODS

load_into(METHODS)
