"""Imports the built-in method modules so their decorators register them."""

from vrbench.methods import folder, interp  # noqa: F401
