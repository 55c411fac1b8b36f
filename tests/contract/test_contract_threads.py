"""A schema first used by two request threads at once is checked by both, never a 500.

Control-plane schemas are compiled on first use. While one thread compiles one, another thread may
already ask for it: it must either wait for nothing (compile it too) or find it complete, never a
half-published entry (a ``KeyError`` from the cache, a 500 on ``POST /_sandbox/namespaces``).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

import simulator.contract.validation as contract_module
from simulator.contract.validation import Contract


def test_a_schema_compiled_in_one_thread_is_usable_by_another_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    contract = Contract()
    uri = contract.schema_uri("schemas/sandbox-namespace-create.json")  # compiled on first use
    compiling, release = threading.Event(), threading.Event()
    real = contract_module._native_check
    calls: list[str] = []

    def slow_first_compile(registry: Any, schema_uri: str) -> Any:
        calls.append(schema_uri)
        if len(calls) == 1:  # hold the first thread inside the compilation
            compiling.set()
            release.wait(10)
        return real(registry, schema_uri)

    monkeypatch.setattr(contract_module, "_native_check", slow_first_compile)
    first: list[Any] = []
    thread = threading.Thread(target=lambda: first.append(contract.validate(uri, {"name": "a"})))
    thread.start()
    try:
        assert compiling.wait(10)
        assert contract.validate(uri, {"name": 7}) != []  # the second thread, meanwhile
    finally:
        release.set()
        thread.join(10)
    assert first == [[]]
