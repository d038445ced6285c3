"""The one seed derivation: stable values, unambiguous joins, refused part types."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from vrbench.seeds import derive_seed, seed_text


def test_value_is_the_first_63_bits_of_sha256_of_the_joined_parts():
    expected = int.from_bytes(hashlib.sha256(b"3:calendar:12").digest()[:8], "big") >> 1
    assert derive_seed(3, "calendar", 12) == expected
    assert 0 <= derive_seed(2**70, "x") < 2**63


def test_joins_are_unambiguous_and_plain_parts_unescaped():
    assert seed_text(0, "calendar") == "0:calendar"
    assert derive_seed("a:b") != derive_seed("a", "b")
    assert derive_seed("a\\", "b") != derive_seed("a", "\\b")
    assert derive_seed(1, 23) != derive_seed(12, 3) != derive_seed(123)


def test_numpy_and_python_integers_agree_and_other_types_are_refused():
    assert derive_seed(np.int64(5), np.uint8(7)) == derive_seed(5, 7)
    for bad in (1.5, True, None, b"x"):
        with pytest.raises(TypeError, match="integers or strings"):
            derive_seed(0, bad)
    with pytest.raises(ValueError, match="at least one part"):
        derive_seed()
