"""The fast id formatter gives exactly the stdlib's text, so seeded runs keep their ids."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from simulator.domain.models import uuid4_text


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_uuid4_text_is_the_stdlib_uuid4_of_the_same_bits(bits: int) -> None:
    assert uuid4_text(bits) == str(uuid.UUID(int=bits, version=4))


def test_uuid4_text_at_the_edges() -> None:
    for bits in (0, 2**128 - 1, 0xF000 << 64, 0xC000 << 48):
        assert uuid4_text(bits) == str(uuid.UUID(int=bits, version=4))
