"""Contract conformance: run Schemathesis's checks against any server that claims to speak the contract.

``run_conformance`` points Schemathesis (imported lazily: it is a test dependency, not a runtime one)
at a server URL with ``contracts/openapi.yaml`` and runs every phase Schemathesis has: the contract's
own examples, coverage of each schema constraint, random fuzzing (valid and invalid bodies) and,
unless told otherwise, the stateful phase that follows the contract's links (create a conversation,
then update it, post to it and list its messages with the id the create returned). Every check runs
except ``positive_data_acceptance`` (see :data:`EXCLUDED_CHECKS`): no server errors, documented
status codes, content types and headers, response bodies that match their schemas, invalid data
refused, authentication not ignored, unsupported methods refused, created resources reachable.

The same configuration drives the in-process test of the sandbox (``tests/conformance``), built by
:func:`load_contract`, so the sandbox is held to exactly what this command checks elsewhere.

Exit codes: 0 when every check passed, 1 when any check failed (or a test case could not run), 2
when the target cannot be reached or refuses the given credentials.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from .domain.operations import API_PREFIX, OPERATIONS
from .loading.resources import data_dir

if TYPE_CHECKING:
    from schemathesis import Case, Response
    from schemathesis.core.failures import Failure
    from schemathesis.hooks import HookContext
    from schemathesis.schemas import BaseSchema

EXCLUDED_CHECKS = ("positive_data_acceptance",)
"""Checks that cannot hold for this API, and why.

``positive_data_acceptance`` expects every schema-valid body to be accepted (2xx). Here a random
schema-valid body names trading partners, orders, conversations or reference ids that do not exist,
so a 400 naming the unknown id is the right answer, not a failure.
"""
INSTALL_HINT = "pip install 'dsco-sandbox[contract]'"
_TESTING_PHASES = frozenset({"examples", "coverage", "fuzzing", "stateful"})
_TIMEOUT = 10.0


class ConformanceUnavailable(RuntimeError):
    """Schemathesis is not installed."""


def contract_path() -> str:
    return str(data_dir("contracts") / "openapi.yaml")


def _schemathesis() -> Any:
    try:
        import schemathesis
    except ImportError:
        raise ConformanceUnavailable(
            f"contract testing needs Schemathesis, which is not installed: {INSTALL_HINT}"
        ) from None
    return schemathesis


def load_contract(
    *,
    token: str | None,
    max_examples: int,
    stateful: bool,
    base_url: str | None = None,
    seed: int | None = None,
) -> BaseSchema:
    """The contract as a Schemathesis schema, configured for a conformance run.

    ``token`` is sent as ``Authorization: bearer <token>`` to the operations that require it (the
    contract's ``DscoAuth`` scheme); the token operation gets none. ``max_examples`` bounds the
    random cases per operation (and the stateful scenarios).
    """
    schemathesis = _schemathesis()
    settings: dict[str, Any] = {
        "generation": {"max-examples": max_examples},
        "checks": {name: {"enabled": False} for name in EXCLUDED_CHECKS},
        "phases": {"stateful": {"enabled": stateful}},
        "request-timeout": _TIMEOUT,
    }
    if seed is not None:
        settings["seed"] = seed
    if token is not None:
        settings["auth"] = {"openapi": {"DscoAuth": {"bearer": token}}}
    config = schemathesis.Config.from_dict(settings)
    schema: BaseSchema = schemathesis.openapi.from_path(contract_path(), config=config)
    if base_url is not None:
        schema.config.update(base_url=base_url)
    schema.hook("filter_failure")(_keep_failure)
    return schema


def _keep_failure(context: HookContext, failure: Failure, case: Case[Any], response: Response) -> bool:
    """Drop one false positive of ``ensure_resource_availability``, and nothing else.

    In the stateful phase Schemathesis follows a link (say, from a new message to the message
    search by its ``dscoMessageId``) but fills the rest of the linked request's body with random
    fields, among them sometimes a ``scrollId``. The contract says a body with a ``scrollId``
    continues that scroll and ignores every other field, so an unknown one is answered 404
    ("scrollId: ... is unknown or expired", documented). That 404 is about the scroll, not about
    the resource just created, and the check mistakes it for a vanished resource. Any other 404
    after a create still fails.
    """
    body = case.body if isinstance(case.body, dict) else {}
    text = response.content.decode("utf-8", "replace")
    is_scroll_404 = response.status_code == 404 and "scrollId" in body and text.startswith("scrollId:")
    return not ("ensure_resource_availability" in failure.checks and is_scroll_404)


# --- the run -----------------------------------------------------------------------------------
@dataclass
class _Target:
    api: str

    @classmethod
    def parse(cls, target: str) -> _Target:
        base = target.strip().rstrip("/")
        if not urllib.parse.urlsplit(base).scheme:
            base = f"http://{base}"
        return cls(base if base.endswith(API_PREFIX) else f"{base}{API_PREFIX}")

    def request(
        self, path: str, body: bytes, content_type: str, token: str | None = None
    ) -> tuple[int, bytes]:
        """One call; raises OSError (URLError included) when the server cannot be reached."""
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = f"bearer {token}"
        request = urllib.request.Request(f"{self.api}{path}", data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


@dataclass
class _Problem:
    operation: str
    title: str
    message: str
    reproduce: str


def run_conformance(
    target: str,
    *,
    token: str | None,
    client_id: str | None,
    client_secret: str | None,
    max_examples: int,
    stateful: bool,
    out: TextIO,
    seed: int | None = None,
) -> int:
    """Check the server at ``target`` against the contract; print a summary; return the exit code."""
    try:
        _schemathesis()
    except ConformanceUnavailable as error:
        print(f"dsco-sandbox contract test: {error}", file=out)
        return 2
    where = _Target.parse(target)
    print(f"contract test of {where.api} against {contract_path()}", file=out)
    try:
        token, how = _credentials(where, token, client_id, client_secret)
        status, _ = where.request(OPERATIONS["getConversations"].path, b"{}", "application/json", token)
    except _Refused as refused:
        print(f"cannot test: {refused}", file=out)
        return 2
    except OSError as error:
        print(f"cannot reach {where.api}: {_reason(error)}", file=out)
        return 2
    if token is not None and status == 401:
        print(f"cannot test: {where.api} refuses {how} (401 on getConversations)", file=out)
        return 2
    print(f"  auth:    {how}", file=out)
    print(f"  checks:  all but {', '.join(EXCLUDED_CHECKS)} (schema-valid bodies name unknown ids)", file=out)
    phases = "examples, coverage, fuzzing" + (", stateful (links)" if stateful else "")
    print(f"  budget:  {max_examples} random examples per operation; phases: {phases}", file=out)
    schema = load_contract(
        token=token, max_examples=max_examples, stateful=stateful, base_url=where.api, seed=seed
    )
    print(f"  seed:    {schema.config.seed}", file=out, flush=True)
    return _execute(schema, where, out)


class _Refused(Exception):
    pass


def _credentials(
    where: _Target, token: str | None, client_id: str | None, client_secret: str | None
) -> tuple[str | None, str]:
    if token is not None:
        return token, "the given bearer token"
    if client_id is None and client_secret is None:
        return None, "none (the conversation operations can only be checked for their 401 answers)"
    if client_id is None or client_secret is None:
        raise _Refused("client credentials need both a client id and a client secret")
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    ).encode()
    status, body = where.request(OPERATIONS["getAccessToken"].path, form, "application/x-www-form-urlencoded")
    try:
        fetched = json.loads(body)["access_token"] if status == 200 else None
    except (ValueError, KeyError, TypeError):
        fetched = None
    if not isinstance(fetched, str):
        raise _Refused(f"getAccessToken answered {status} for client id {client_id!r}: {body[:200]!r}")
    return fetched, f"a token minted for client id {client_id!r}"


def _reason(error: OSError) -> str:
    reason = getattr(error, "reason", None) or error
    return str(reason)


def _execute(schema: BaseSchema, where: _Target, out: TextIO) -> int:
    from schemathesis.engine import Status, StopReason, events, from_schema

    problems: dict[tuple[str, str, str], _Problem] = {}
    errors: list[str] = []
    cases = 0
    stop: Any = None
    for event in from_schema(schema).execute():
        if isinstance(event, events.PhaseFinished) and event.phase.name.value in _TESTING_PHASES:
            label = "skipped" if event.status == Status.SKIP else event.status.value
            print(f"  phase {event.phase.name.value:<10} {label}", file=out, flush=True)
        elif isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            for problem in _problems(event):
                problems.setdefault((problem.operation, problem.title, problem.message), problem)
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {_first_line(str(event.value))}")
        elif isinstance(event, events.FatalError):
            print(f"cannot test: {event.exception}", file=out)
            return 2
        elif isinstance(event, events.EngineFinished):
            stop = event.stop_reason
            for failure in event.failures:
                operation = failure.operation or "(the whole run)"
                key = (operation, failure.title, failure.message)
                problems.setdefault(key, _Problem(operation, failure.title, failure.message, ""))
    if stop == StopReason.SERVER_UNAVAILABLE:
        print(f"cannot test: {where.api} stopped answering", file=out)
        return 2
    for number, problem in enumerate(problems.values(), start=1):
        print(f"\nFAILURE {number}: {problem.operation}: {problem.title}", file=out)
        for line in problem.message.strip().splitlines():
            print(f"    {line}", file=out)
        if problem.reproduce:
            print("  reproduce with:", file=out)
            for line in problem.reproduce.strip().splitlines():
                print(f"    {line}", file=out)
    for error in errors:
        print(f"\nERROR: {error}", file=out)
    verdict = "FAILED" if problems or errors else "passed"
    print(
        f"\n{verdict}: {cases} test cases, {len(problems)} distinct failure(s), {len(errors)} error(s)",
        file=out,
        flush=True,
    )
    return 1 if problems or errors else 0


def _problems(event: Any) -> Iterator[_Problem]:
    recorder = event.recorder
    for checks in recorder.checks.values():
        for check in checks:
            info = check.failure_info
            if info is None:
                continue
            failure = info.failure
            steps = [step.curl for step in info.steps] if info.steps else [info.code_sample]
            yield _Problem(
                failure.operation or recorder.label,
                failure.title,
                failure.message,
                "\n".join(steps),
            )


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else text
