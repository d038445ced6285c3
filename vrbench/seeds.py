"""The one seed derivation of vrbench: every generator seed that depends on more than one number comes from here.

`derive_seed(benchmark_seed, clip_id)` seeds a clip's degradation draws; `derive_seed(seed, frame, draw)` seeds the
SATB restorer's Gaussian noise of one frame and one sampler draw. The value is a pure function of the parts (no
process, platform or Python hash randomisation involved), so results repeat anywhere.
"""

from __future__ import annotations

import hashlib
import operator

SEED_BITS = 63  # fits a signed 64-bit integer (torch.Generator.manual_seed, NumPy's SeedSequence, SQLite)


def seed_text(*parts: int | str) -> str:
    """The parts as one string: integers in decimal, strings with '\\' and ':' escaped, joined by ':'.

    The escaping makes the join unambiguous (("a:b",) and ("a", "b") differ) and leaves ordinary parts as they are,
    so '0:calendar' is the text of (0, "calendar").
    """
    if not parts:
        raise ValueError("derive_seed needs at least one part")
    texts = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part.replace("\\", "\\\\").replace(":", "\\:"))
        elif isinstance(part, bool):
            raise TypeError(f"seed parts are integers or strings, not bool: {parts!r}")
        else:
            try:
                texts.append(str(operator.index(part)))  # int, NumPy and torch integer scalars
            except TypeError as e:
                raise TypeError(f"seed parts are integers or strings, got {type(part).__name__}: {parts!r}") from e
    return ":".join(texts)


def derive_seed(*parts: int | str) -> int:
    """A seed in [0, 2^63): the first 63 bits of sha256(seed_text(*parts)), big-endian."""
    digest = hashlib.sha256(seed_text(*parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - SEED_BITS)
