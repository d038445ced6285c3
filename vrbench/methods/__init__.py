"""Method adapters: the protocol, its card, and the built-in adapters."""

from vrbench.methods.base import Method, MethodCard, cache_policy

__all__ = ["Method", "MethodCard", "cache_policy"]
