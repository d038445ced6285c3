"""Keep freed host memory in the process while the engine scores a clip (glibc's malloc only).

On a CPU, one 720p frame's VGG16 activations take a few hundred megabytes a layer. glibc's malloc serves every block
over its mmap threshold (at most 32 MiB) with a fresh `mmap` and unmaps it on `free`, so each layer of each chunk
faults its pages in again and the kernel zeroes them: measured on a 2-core Xeon at 720p, a third of LPIPS-VGG's,
DISTS's, CLIP-IQA's and DOVER's CPU time went to the kernel (system time 11-13 s of a 19-27 s run), and
`GLIBC_TUNABLES=glibc.malloc.mmap_max=0` took it to 0.1 s. While `retained_heap()` is held, large blocks come from
the heap and what is freed stays there for the next chunk; when the last holder leaves, the free memory goes back
to the kernel (`malloc_trim`) if it is over 1 GiB. No value changes: only where the memory comes from. A run
holds it from its first clip to its last (`LocalExecutor`, worker processes), so clips do not fault it in anew.

Any `mallopt` call stops glibc's dynamic thresholds for the rest of the process, so leaving sets about the values
that rule converges to after large blocks are freed (malloc.c: the mmap threshold rises to the freed size, up to
DEFAULT_MMAP_THRESHOLD_MAX = 32 MiB on 64-bit, and the trim threshold to twice it; we keep 256 MiB). Elsewhere
(musl, macOS, Windows) the context does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import platform
import threading
from collections.abc import Iterator

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4
DEFAULT_MMAP_MAX = 65536  # glibc's default number of simultaneous mmapped blocks
STEADY_MMAP_THRESHOLD = 32 * 1024 * 1024  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
STEADY_TRIM_THRESHOLD = 8 * STEADY_MMAP_THRESHOLD  # glibc's rule gives 2x; 256 MiB keeps a small metric's working set
HELD_TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: the largest free top-of-heap kept while held
# On release, free memory above this goes back to the kernel at once; less stays for the next clip (glibc trims the
# top of the heap past STEADY_TRIM_THRESHOLD on a later free): trimming all of it only to fault it in again made
# small metrics slower.
KEEP_ON_RELEASE = 1024 * 1024 * 1024

_lock = threading.Lock()
_holders = 0


@functools.lru_cache(maxsize=1)
def glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc's (its `mallopt` / `malloc_trim`), else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = (ctypes.c_size_t,), ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def held() -> bool:
    """Whether some caller holds `retained_heap()` now."""
    return _holders > 0


def hold() -> None:
    """Large blocks from the heap and freed memory kept from now on (a worker process holds it for its lifetime)."""
    global _holders
    libc = glibc()
    if libc is None:
        return
    with _lock:
        _holders += 1
        if _holders == 1:
            libc.mallopt(M_MMAP_MAX, 0)
            libc.mallopt(M_TRIM_THRESHOLD, HELD_TRIM_THRESHOLD)


def release() -> None:
    """Undo one `hold()`; the last one restores the steady thresholds and hands the free memory back."""
    global _holders
    libc = glibc()
    if libc is None:
        return
    with _lock:
        _holders = max(0, _holders - 1)
        if _holders == 0:
            libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
            libc.mallopt(M_MMAP_THRESHOLD, STEADY_MMAP_THRESHOLD)
            libc.mallopt(M_TRIM_THRESHOLD, STEADY_TRIM_THRESHOLD)
            if free_heap_bytes(libc) > KEEP_ON_RELEASE:
                libc.malloc_trim(0)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]


def mallinfo(libc: ctypes.CDLL | None = None) -> _MallInfo2:
    """glibc's `mallinfo2()`: heap bytes from the kernel (`arena`), in mmapped blocks (`hblkhd`), free (`fordblks`)."""
    libc = libc or glibc()
    libc.mallinfo2.restype = _MallInfo2
    return libc.mallinfo2()


def free_heap_bytes(libc: ctypes.CDLL) -> int:
    """Free bytes the heap holds; where glibc has no `mallinfo2` (before 2.33), more than `KEEP_ON_RELEASE`, so
    that every last release trims."""
    try:
        return int(mallinfo(libc).fordblks)
    except AttributeError:
        return KEEP_ON_RELEASE + 1


@contextlib.contextmanager
def retained_heap() -> Iterator[None]:
    """`hold()` for the duration of the block (nested and concurrent holders count)."""
    hold()
    try:
        yield
    finally:
        release()
