"""Imports the built-in method modules so their decorators register them, then the method catalog.

The catalog holds the YAML `command` cards of published methods and any adapter `.py` files, from
`method_adapters/` and the folders named in `VRBENCH_METHOD_ADAPTERS` (see `vrbench.methods.catalog`).
"""

import vrbench.satb.adapter  # noqa: F401  (satb, satb-dtg, satb-naive, satb-no-ddc)
from vrbench.methods import folder, interp, sanity  # noqa: F401
from vrbench.methods.catalog import load_into
from vrbench.registry import METHODS

load_into(METHODS)
