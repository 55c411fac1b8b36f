"""What keeps ``make test-fast`` fast: an unmarked test may not start a process; and the same marks
put the files that run long first in ``make test``.

tests/conftest.py runs every test's setup and call inside :func:`processes_only_if_marked`, and
orders the collection with :func:`long_files_first`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

OUT_OF_THE_FAST_LOOP = ("e2e", "slow")


class ProcessNotMarked(AssertionError):
    """An unmarked test (or a fixture it uses) tried to start a process."""


@contextmanager
def processes_only_if_marked(item: pytest.Item) -> Iterator[None]:
    if any(item.get_closest_marker(name) for name in OUT_OF_THE_FAST_LOOP):
        yield
        return
    original = subprocess.Popen._execute_child  # type: ignore[attr-defined]

    def refuse(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        raise ProcessNotMarked(
            f"{item.nodeid} starts a process ({args!r}): mark it @pytest.mark.e2e "
            "(or the module, with pytestmark), so that `make test-fast` leaves it out"
        )

    subprocess.Popen._execute_child = refuse  # type: ignore[attr-defined]
    try:
        yield
    finally:
        subprocess.Popen._execute_child = original  # type: ignore[attr-defined]


def long_files_first(items: list[pytest.Item]) -> None:
    """Move the files holding an ``e2e`` or ``slow`` test ahead of the others, in place, each file's
    tests kept together and in order.

    ``make test`` hands whole files to its pytest-xdist workers in collection order: begun first,
    the files that start processes or run long no longer finish alone at the end while the other
    workers wait; the many quick files fill the gaps.
    """
    long_files = {
        item.path for item in items if any(item.get_closest_marker(n) for n in OUT_OF_THE_FAST_LOOP)
    }
    items.sort(key=lambda item: item.path not in long_files)
