"""``replay --target`` asks the target first and says what the run will change there."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator

import pytest

from simulator.harness import BackgroundServer
from simulator.http.app import create_app
from simulator.scenario.replay import builtin_scenarios, replay_main


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    server = BackgroundServer(create_app())
    yield server.base_url
    server.stop()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_target_that_does_not_answer_is_one_line_and_nothing_runs() -> None:
    nowhere = closed_port_url()
    out = io.StringIO()
    assert replay_main(builtin_scenarios(["late-order-loop"]), target=nowhere, out=out) == 2
    assert out.getvalue().splitlines() == [f"{nowhere} does not answer (Connection refused); nothing was run"]


def test_the_changes_to_a_shared_sandbox_are_said_before_and_the_clock_after(sandbox_url: str) -> None:
    out = io.StringIO()
    chosen = builtin_scenarios(["late-order-loop", "rate-limited-burst"])
    assert replay_main(chosen, target=sandbox_url, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[:5] == [
        f"running 2 scenario(s) against the sandbox at {sandbox_url} changes it for everyone using it:",
        "  - conversations and messages are created as the scenarios' actors",
        "  - all its conversations, messages, journal and notifications are wiped (reset, in 2)",
        "  - its clock is moved (clock steps and polls, in 2) and is not put back: it stays ahead",
        "  - its settings and faults are changed (in 1), and put back after each scenario",
    ]
    assert lines[5].startswith("PASS  ")  # said before the first scenario ran
    assert lines[-2].startswith("the sandbox's clock is now ") and "ahead of real time" in lines[-2]
    assert lines[-1] == "2 of 2 scenario(s) passed"


def test_against_an_api_without_control_plane_only_its_data_is_said(sandbox_url: str) -> None:
    out = io.StringIO()
    replay_main(
        builtin_scenarios(["errors/oauth-401-invalid-client"]), target=f"{sandbox_url}/api/v3", out=out
    )
    first = out.getvalue().splitlines()[0]
    assert first == (
        f"running 1 scenario(s) against {sandbox_url}/api/v3 (no sandbox control plane: control steps are "
        "skipped); it will keep the conversations and messages they create as their actors"
    )
