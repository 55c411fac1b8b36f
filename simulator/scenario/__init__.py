"""Scenario files: readable stories of the Customer Care loop, replayed and checked step by step.

The same file runs in-process (Flask test client), against ``dsco-sandbox serve``, or against any
server that speaks the Dsco v3 API. See ``contracts/scenario.schema.json`` for the format.
"""

from .loader import ScenarioError, load_directory, load_scenario
from .model import Scenario, ScenarioResult, StepResult
from .replay import new_scenario, replay_main, run_in_process
from .report import format_result, starter_scenario, write_junit_xml
from .runner import run_scenario
from .transport import HttpTransport, InProcessTransport, Reply, Transport, TransportError

__all__ = [
    "HttpTransport",
    "InProcessTransport",
    "Reply",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "StepResult",
    "Transport",
    "TransportError",
    "format_result",
    "load_directory",
    "load_scenario",
    "new_scenario",
    "replay_main",
    "run_in_process",
    "run_scenario",
    "starter_scenario",
    "write_junit_xml",
]
