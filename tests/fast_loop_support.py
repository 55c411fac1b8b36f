"""What keeps ``make test-fast`` fast: an unmarked test may not start a process.

tests/conftest.py runs every test's setup and call inside :func:`processes_only_if_marked`.
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
