"""An unmarked test that starts a process fails with a message saying to mark it ``e2e``."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fast_loop_support import ProcessNotMarked, long_files_first, processes_only_if_marked

pytest_plugins = ["pytester"]


def test_an_unmarked_test_may_not_start_a_process(pytester: pytest.Pytester) -> None:
    item = pytester.getitem("def test_func(): pass")
    with processes_only_if_marked(item), pytest.raises(ProcessNotMarked, match=r"mark it @pytest\.mark\.e2e"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


@pytest.mark.parametrize("marker", ["e2e", "slow"])
def test_a_marked_test_may(pytester: pytest.Pytester, marker: str) -> None:
    item = pytester.getitem(f"import pytest\n@pytest.mark.{marker}\ndef test_func(): pass")
    guarded = subprocess.Popen._execute_child  # type: ignore[attr-defined]
    with processes_only_if_marked(item):
        assert subprocess.Popen._execute_child is guarded  # type: ignore[attr-defined]


def test_the_files_that_run_long_come_first_each_whole_and_in_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a_quick="def test_one(): pass\ndef test_two(): pass",
        test_b_served="import pytest\ndef test_one(): pass\n@pytest.mark.e2e\ndef test_two(): pass",
        test_c_quick="def test_one(): pass",
        test_d_long="import pytest\npytestmark = pytest.mark.slow\ndef test_one(): pass",
    )
    items, _ = pytester.inline_genitems()
    long_files_first(items)
    assert [f"{item.path.stem}::{item.name}" for item in items] == [
        "test_b_served::test_one",
        "test_b_served::test_two",
        "test_d_long::test_one",
        "test_a_quick::test_one",
        "test_a_quick::test_two",
        "test_c_quick::test_one",
    ]
