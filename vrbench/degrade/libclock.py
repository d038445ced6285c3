"""Time spent inside the library calls every implementation of a manifest has to make.

Both the batched pipeline and the per-frame reference call the same video encoder and decoder, libjpeg and NumPy
noise generators (that is what makes the bytes reproducible); `vrbench bench degrade` reads this clock around the
reference run to say how much of the reference's time no faster implementation could remove (Amdahl's bound).
"""

from __future__ import annotations

import functools
import threading
import time

_LOCK = threading.Lock()
_SECONDS = [0.0]


def library_call(fn):
    """Count the wall time of fn's calls (nested calls are counted once, by the outermost)."""
    local = threading.local()

    @functools.wraps(fn)
    def timed(*args, **kwargs):
        if getattr(local, "inside", False):
            return fn(*args, **kwargs)
        local.inside = True
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            local.inside = False
            with _LOCK:
                _SECONDS[0] += elapsed

    return timed


def library_seconds() -> float:
    """Seconds counted so far (summed over threads)."""
    with _LOCK:
        return _SECONDS[0]
