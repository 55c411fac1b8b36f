"""Readable failing examples for the property tests.

Schemathesis, loaded as a pytest plugin for ``tests/conformance``, swaps Hypothesis's printer for one that
prints nothing (it speeds up Schemathesis's own generation), which blanks every argument of every
failing example in the same process: ``Failing test case: test_x(xs=, n=)``. The property tests get
Hypothesis's real printer back while they run, and hand Schemathesis's back afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import core
from hypothesis.vendor import pretty


@pytest.fixture(autouse=True)
def readable_failing_examples() -> Iterator[None]:
    swapped = core.RepresentationPrinter  # type: ignore[attr-defined]
    core.RepresentationPrinter = pretty.RepresentationPrinter  # type: ignore[attr-defined]
    try:
        yield
    finally:
        core.RepresentationPrinter = swapped  # type: ignore[attr-defined]
