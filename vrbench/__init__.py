"""vrbench: a benchmark and evaluation suite for generative video restoration.

Importing the package is cheap: torch, pyiqa and the other heavy dependencies load lazily where they are used.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
