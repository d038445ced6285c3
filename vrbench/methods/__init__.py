"""Method adapters: the protocol, its card, and the built-in adapters."""

from vrbench.methods.base import Method, MethodCard

__all__ = ["Method", "MethodCard"]
