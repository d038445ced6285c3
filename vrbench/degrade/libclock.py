"""Time spent inside the library calls every implementation of a manifest has to make.

Both the batched pipeline and the per-frame reference call the same video encoder and decoder, libjpeg and NumPy
noise generators (that is what makes the bytes reproducible); `vrbench bench degrade` reads this clock around the
reference run to say how much of the reference's time no faster implementation could remove (Amdahl's bound).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

_LOCK = threading.Lock()
_SECONDS = [0.0]
_INSIDE = threading.local()  # one flag per thread shared by every decorated function: nested calls count once


def library_call(fn=None, *, clock: Callable[[], float] = time.perf_counter):
    """Count the wall time of fn's calls on `clock` (nested calls of any decorated functions are counted once, by
    the outermost). Use as `@library_call` or `@library_call(clock=...)`."""
    if fn is None:
        return functools.partial(library_call, clock=clock)

    @functools.wraps(fn)
    def timed(*args, **kwargs):
        if getattr(_INSIDE, "inside", False):
            return fn(*args, **kwargs)
        _INSIDE.inside = True
        start = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            elapsed = clock() - start
            _INSIDE.inside = False
            with _LOCK:
                _SECONDS[0] += elapsed

    return timed


def library_seconds() -> float:
    """Seconds counted so far (summed over threads)."""
    with _LOCK:
        return _SECONDS[0]
