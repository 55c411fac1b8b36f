"""Running a loaded scenario through a transport, step by step, recording what happened.

The runner never raises for what the target does: a refused connection, a 500 or an unexpected body
is the failure of the step that met it, recorded with the request, the answer and a diff. It stops
at the first failed step, because later steps nearly always build on earlier ones, and marks the
rest skipped. Control-plane steps against a target without one are skipped with the reason, so
one file serves the sandbox and a real Dsco environment alike.

Around the steps, a run against a sandbox leaves the settings and the clock's frozen state as it
found them, so scenarios run one after another on one server do not leak page sizes, lags or rate
limits into each other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from ..client import MAX_PAGES, DscoApiError, DscoClient, poll_window
from ..control_client import ControlClient
from ..domain.clock import format_rfc3339, parse_rfc3339, seconds
from ..domain.operations import API_PREFIX, CONTROL_PREFIX, OPERATIONS, api_path
from ..transport import Reply, Transport, TransportError
from .expectations import check
from .expressions import UNTIL_MARGIN_SECONDS, ExpressionError, Resolver
from .model import (
    API_OPERATIONS,
    CONTROL_OPERATIONS,
    MISSING,
    Actor,
    Expectation,
    RequestRecord,
    ResponseRecord,
    Scenario,
    ScenarioResult,
    Step,
    StepResult,
)

TOKEN_PATH: Final = api_path("getAccessToken")
MESSAGES_PATH: Final = api_path("getConversationMessages")
NO_CONTROL_PLANE_SLEEP: Final = 10.0
"""Longest real wait between polls when the target's clock cannot be advanced."""
_KEEP_CHARS: Final = 2000
SKIPPED_AFTER_FAILURE: Final = "an earlier step failed"


class _StepFailed(Exception):
    def __init__(self, reason: str, request: RequestRecord | None = None, reply: Reply | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request = request
        self.reply = reply


def run_scenario(
    scenario: Scenario,
    transport: Transport,
    *,
    credentials: Mapping[str, tuple[str, str]] | None = None,
    seed: int | None = None,
) -> ScenarioResult:
    """Run every step of ``scenario`` through ``transport``.

    ``credentials`` replaces actors' client id and secret (actor name -> (id, secret)), for targets
    whose accounts differ from the file's; ``seed`` replaces the scenario's seed for ``${fake...}``.
    """
    return _Run(scenario, transport, dict(credentials or {}), seed).run()


class _Run:
    def __init__(
        self,
        scenario: Scenario,
        transport: Transport,
        credentials: dict[str, tuple[str, str]],
        seed: int | None,
    ) -> None:
        self.scenario = scenario
        self.transport = transport
        self.actors: dict[str, Actor] = {}
        for name, actor in scenario.actors.items():
            if name in credentials:
                client_id, client_secret = credentials[name]
                actor = replace(
                    actor,
                    client_id=client_id or actor.client_id,
                    client_secret=client_secret or actor.client_secret,
                )
            self.actors[name] = actor
        self.control = bool(transport.has_control_plane)
        self.target = str(getattr(transport, "description", type(transport).__name__))
        effective_seed = seed if seed is not None else (scenario.seed if scenario.seed is not None else 0)
        self.resolver = Resolver(seed=effective_seed, actors=self.actors, now=self._now)
        self.controls = ControlClient(transport)
        self.clients: dict[str, DscoClient] = {}
        """Each actor's client, which caches and renews the actor's token."""
        self.anonymous = DscoClient("", token="", transport=transport)
        """Sends the calls whose Authorization the step gives (or leaves out): never its own token."""
        self.result = ScenarioResult(scenario.name, scenario.path, target=self.target)
        self.started = _local_now()
        self.saved_config: dict[str, Any] | None = None
        self.saved_frozen: bool | None = None
        self.config_changed = False

    # --- the run ---------------------------------------------------------------------------------
    def run(self) -> ScenarioResult:
        try:
            self._prepare()
            if self.scenario.config is not None:
                self.result.steps.append(self._apply_config())
            for step in self.scenario.steps:
                self.result.steps.append(self._step(step))
        finally:
            self._restore()
        return self.result

    def _prepare(self) -> None:
        if not self.control:
            return
        try:
            clock = self.controls.request("getClock")
            if clock.status == 200 and isinstance(clock.body, dict):
                started = parse_rfc3339(str(clock.body.get("now")))
                self.started = started if started is not None else self.started
                self.saved_frozen = bool(clock.body.get("frozen"))
            config = self.controls.request("getConfig")
            if config.status == 200 and isinstance(config.body, dict):
                self.saved_config = config.body
        except TransportError:
            pass  # the first step meets the same problem and reports it

    def _restore(self) -> None:
        """Put back the settings and the clock's frozen state the run found (best effort)."""
        if not self.control:
            return
        try:
            if self.config_changed and self.saved_config is not None:
                faults = self.saved_config.get("faults") or {}
                self.controls.request("updateConfig", json={**self.saved_config, "faults": None})
                if faults:
                    self.controls.request("updateConfig", json={"faults": faults})
            if self.saved_frozen is not None:
                clock = self.controls.request("getClock")
                if isinstance(clock.body, dict) and bool(clock.body.get("frozen")) != self.saved_frozen:
                    self.controls.request("controlClock", json={"freeze": self.saved_frozen})
        except TransportError:
            pass

    def _apply_config(self) -> StepResult:
        step = Step(index=0, name="apply the scenario's config", action="set_config", line=0)
        if not self.control:
            return self._skipped(step, self._no_control_plane())
        started = time.perf_counter()
        body = dict(self.scenario.config or {})
        self.config_changed = True
        try:
            record, reply = self._control("updateConfig", body)
        except _StepFailed as failure:
            return self._failed(step, failure.reason, failure.request, None, started)
        return self._judge(step, step.expect, record, reply, started)

    def _step(self, step: Step) -> StepResult:
        if any(result.status == "failed" for result in self.result.steps):
            return self._skipped(step, SKIPPED_AFTER_FAILURE)
        if step.needs_control_plane and not self.control:
            return self._skipped(step, self._no_control_plane())
        started = time.perf_counter()
        self.resolver.begin_step(step.index)
        try:
            expectation = _resolve_expectation(self.resolver, step.expect)
        except ExpressionError as error:
            return self._failed(step, f"cannot resolve the expectation: {error}", None, None, started)
        try:
            record, reply = self._execute(step)
        except _StepFailed as failure:
            return self._failed(step, failure.reason, failure.request, failure.reply, started, expectation)
        except ExpressionError as error:
            return self._failed(step, f"cannot resolve: {error}", None, None, started, expectation)
        except TransportError as error:
            return self._failed(step, f"no answer: {error}", None, None, started, expectation)
        except Exception as error:  # a runner bug must still end as a readable failed step
            return self._failed(step, f"the runner failed: {error!r}", None, None, started, expectation)
        result = self._judge(step, expectation, record, reply, started)
        if result.passed and step.save_as:
            self.resolver.saved[step.save_as] = reply.body if reply.body is not None else reply.text
        return result

    def _judge(
        self,
        step: Step,
        expectation: Expectation,
        record: RequestRecord,
        reply: Reply,
        started: float,
    ) -> StepResult:
        diff = check(expectation, reply.status, reply.headers, reply.body, reply.text)
        return StepResult(
            index=step.index,
            name=step.name,
            actor=step.actor,
            action=step.action,
            status="failed" if diff else "passed",
            request=record,
            response=_response_record(reply),
            reason="the answer differs from the expectation" if diff else "",
            diff=diff,
            expectation=_shown(expectation),
            duration=time.perf_counter() - started,
            line=step.line,
        )

    def _skipped(self, step: Step, reason: str) -> StepResult:
        return StepResult(
            step.index, step.name, step.actor, step.action, "skipped", reason=reason, line=step.line
        )

    def _failed(
        self,
        step: Step,
        reason: str,
        record: RequestRecord | None,
        reply: Reply | None,
        started: float,
        expectation: Expectation | None = None,
    ) -> StepResult:
        return StepResult(
            index=step.index,
            name=step.name,
            actor=step.actor,
            action=step.action,
            status="failed",
            request=record,
            response=_response_record(reply) if reply is not None else None,
            reason=reason,
            expectation=_shown(expectation or step.expect),
            duration=time.perf_counter() - started,
            line=step.line,
        )

    def _no_control_plane(self) -> str:
        return f"needs the sandbox control plane ({CONTROL_PREFIX}), which {self.target} does not have"

    # --- actions ---------------------------------------------------------------------------------
    def _execute(self, step: Step) -> tuple[RequestRecord, Reply]:
        action = step.action
        if action == "get_token":
            return self._token_step(step)
        if action == "poll_messages":
            return self._poll(step)
        if action in API_OPERATIONS:
            return self._api_step(step, API_OPERATIONS[action])
        if action not in CONTROL_OPERATIONS:
            raise _StepFailed(f"unknown action {action!r}")
        operation = CONTROL_OPERATIONS[action]
        body: Any = self.resolver.resolve(step.body) if step.body is not MISSING else None
        if action == "advance_clock":
            return self._control(operation, {"advance": _number(body["seconds"], "seconds")})
        if action == "set_config":
            self.config_changed = True
        if action == "expect_notification":
            query = {key: str(value) for key, value in (body or {}).items()}
            if "account" not in query and step.actor is not None:
                query["account"] = str(self.actors[step.actor].dsco_account_id)
            return self._control(operation, None, query)
        if action == "list_events":
            return self._control(operation, None, {key: str(value) for key, value in (body or {}).items()})
        return self._control(operation, body)

    def _control(
        self, operation: str, body: Any, query: dict[str, str] | None = None
    ) -> tuple[RequestRecord, Reply]:
        method, path = self.controls.route(operation)
        record = RequestRecord(method, path, _compact(body), query)
        try:
            reply = self.controls.request(operation, json=body, query=query)
        except TransportError as error:
            raise _StepFailed(f"no answer: {error}", record) from None
        return record, reply

    def _api_step(self, step: Step, operation_id: str) -> tuple[RequestRecord, Reply]:
        operation = OPERATIONS[operation_id]
        headers = {key: str(value) for key, value in self.resolver.resolve(dict(step.headers)).items()}
        if step.content_type is not None:
            headers["Content-Type"] = str(self.resolver.resolve(step.content_type))
        if step.raw_body is not None:
            raw = str(self.resolver.resolve(step.raw_body))
            return self._call(step, operation.method, operation.path, data=raw, headers=headers, shown=raw)
        body = self.resolver.resolve(step.body) if step.body is not MISSING else {}
        if step.content_type is not None and not _is_json_type(step.content_type):
            text = json.dumps(body, ensure_ascii=False)
            return self._call(step, operation.method, operation.path, data=text, headers=headers, shown=body)
        return self._call(step, operation.method, operation.path, json=body, headers=headers, shown=body)

    def _call(
        self,
        step: Step,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: str | None = None,
        headers: dict[str, str],
        shown: Any,
    ) -> tuple[RequestRecord, Reply]:
        """One authenticated API call (``path`` under the API base), renewing the actor's token once
        if it was refused (401) and the step chose no Authorization of its own."""
        record = RequestRecord(method, API_PREFIX + path, _compact(shown))
        client, options = self._caller(step, headers)
        try:
            reply = client.request(method, path, json=json, data=data, headers=headers, **options)
        except TransportError as error:
            raise _StepFailed(f"no answer: {error}", record) from None
        except DscoApiError as error:  # the renewal's token request failed
            raise _StepFailed(f"could not renew the token: {error.status}", record, error.reply) from None
        return record, reply

    def _caller(self, step: Step, headers: Mapping[str, str]) -> tuple[DscoClient, dict[str, bool]]:
        """Who sends a step's API call and how: the actor's client with its token (renewed once on a
        401) unless the step gives its own Authorization (a header, or ``auth``: ``none``, a token,
        or ``expired``, the actor's cached token sent without renewal)."""
        actor = self._actor(step)
        auth = None if step.auth is None else str(self.resolver.resolve(step.auth))
        if any(key.lower() == "authorization" for key in headers):
            return self.anonymous, {}
        if auth == "none":
            return self.anonymous, {"authorize": False}
        if auth == "expired":
            return self._client(actor, step), {}
        if auth is not None:
            return DscoClient("", token=auth, transport=self.transport), {}
        return self._client(actor, step), {"renew": True}

    def _actor(self, step: Step) -> Actor:
        if step.actor is None or step.actor not in self.actors:
            raise _StepFailed(f"{step.action} needs an actor")
        return self.actors[step.actor]

    def _client(self, actor: Actor, step: Step) -> DscoClient:
        """The actor's client, with a token fetched (or cached) already."""
        client = self.clients.get(actor.name)
        if client is None:
            if not actor.client_id or not actor.client_secret:
                raise _StepFailed(
                    f"actor {actor.name!r} has no client_id/client_secret: give them in the scenario's "
                    "actors or at run time (replay --client-id/--client-secret or --credentials)"
                )
            client = DscoClient("", actor.client_id, actor.client_secret, transport=self.transport)
            self.clients[actor.name] = client
        record = RequestRecord("POST", TOKEN_PATH, _redacted(client.credentials_form()))
        try:
            client.access_token()
        except TransportError as error:
            raise _StepFailed(
                f"no answer while getting a token for {actor.name!r}: {error}", record
            ) from None
        except DscoApiError as error:
            raise _StepFailed(
                f"could not get a token for {actor.name!r} (client_id {actor.client_id!r}): {error.status}",
                record,
                error.reply,
            ) from None
        return client

    def _token_step(self, step: Step) -> tuple[RequestRecord, Reply]:
        actor = self._actor(step)
        form: dict[str, str] = {"grant_type": "client_credentials"}
        if actor.client_id is not None:
            form["client_id"] = actor.client_id
        if actor.client_secret is not None:
            form["client_secret"] = actor.client_secret
        overrides = self.resolver.resolve(step.body) if step.body is not MISSING else {}
        overridden = False
        for key, value in (overrides or {}).items():
            overridden = True
            if value is None:
                form.pop(key, None)
            else:
                form[key] = value if isinstance(value, str) else json.dumps(value)
        headers = {key: str(value) for key, value in self.resolver.resolve(dict(step.headers)).items()}
        if step.content_type is not None:
            headers["Content-Type"] = str(self.resolver.resolve(step.content_type))
        try:
            if step.raw_body is not None:
                raw = str(self.resolver.resolve(step.raw_body))
                record = RequestRecord("POST", TOKEN_PATH, _compact(raw))
                reply = self.anonymous.request_token(data=raw, headers=headers)
            else:
                record = RequestRecord("POST", TOKEN_PATH, _redacted(form))
                reply = self.anonymous.request_token(form, headers=headers)
        except TransportError as error:
            raise _StepFailed(f"no answer: {error}", RequestRecord("POST", TOKEN_PATH)) from None
        token = reply.body.get("access_token") if isinstance(reply.body, dict) else None
        fetched = reply.status == 200 and isinstance(token, str) and not overridden and step.raw_body is None
        if fetched and actor.client_id and actor.client_secret and isinstance(reply.body, dict):
            # later calls by this actor use the token just fetched
            client = self.clients.setdefault(
                actor.name, DscoClient("", actor.client_id, actor.client_secret, transport=self.transport)
            )
            client.adopt_token(reply.body)
        return record, reply

    # --- the polling recipe ----------------------------------------------------------------------
    def _poll(self, step: Step) -> tuple[RequestRecord, Reply]:
        poll = step.poll
        if poll is None:
            raise _StepFailed("poll_messages needs a poll")
        query = self.resolver.resolve(dict(poll.query))
        since = self.started
        if poll.since is not None:
            text = self.resolver.resolve(poll.since)
            parsed = parse_rfc3339(str(text))
            if parsed is None:
                raise _StepFailed(f"poll.since: {text!r} is not an RFC 3339 date-time")
            since = parsed
        collected: list[Any] = []
        polls = 0
        last: tuple[RequestRecord, Reply] | None = None
        client, options = self._caller(step, {})
        for number in range(1, poll.max_polls + 1):
            polls = number
            until = self._fresh_now() - seconds(UNTIL_MARGIN_SECONDS)
            if until > since:  # an empty window cannot hold a message: a careful poller waits
                sent: dict[str, Any] = poll_window(query, format_rfc3339(since), format_rfc3339(until))
                pages = client.pages(
                    "getConversationMessages", sent, raw=True, max_pages=MAX_PAGES, **options
                )
                while True:
                    record = RequestRecord("POST", MESSAGES_PATH, _compact(sent))
                    try:
                        reply = next(pages, None)
                    except TransportError as error:
                        raise _StepFailed(f"no answer: {error}", record) from None
                    except DscoApiError as error:
                        raise _StepFailed(
                            f"could not renew the token: {error.status}", record, error.reply
                        ) from None
                    if reply is None:
                        break
                    last = (record, reply)
                    if reply.status != 200 or not isinstance(reply.body, dict):
                        return last  # the refusal itself is the step's answer, checked as usual
                    page = reply.body.get("messages") or []
                    collected.extend(page)
                    if not page:
                        break  # an empty page ends the poll even with a scrollId, as a careful poller does
                    sent = {"scrollId": reply.body.get("scrollId")}
                since = until
            if len(collected) >= poll.until_found:
                break
            if number < poll.max_polls:
                self._wait(poll.interval)
        summary = {"messages": collected, "polls": polls}
        record = last[0] if last is not None else RequestRecord("POST", MESSAGES_PATH, None)
        headers = dict(last[1].headers) if last is not None else {}
        return record, Reply(200, headers, summary, json.dumps(summary))

    def _wait(self, interval: float) -> None:
        if self.control:
            record, reply = self._control("controlClock", {"advance": interval})
            if reply.status != 200:
                raise _StepFailed(f"could not advance the sandbox clock: {reply.status}", record, reply)
        else:
            time.sleep(min(interval, NO_CONTROL_PLANE_SLEEP))

    # --- time ------------------------------------------------------------------------------------
    def _now(self) -> int:
        try:
            return self._fresh_now()
        except _StepFailed as failure:
            raise ExpressionError(failure.reason) from None

    def _fresh_now(self) -> int:
        """Sandbox time when there is a control plane (it may be frozen or moved), else local UTC."""
        if not self.control:
            return _local_now()
        record, reply = self._control("getClock", None)
        now = parse_rfc3339(str(reply.body.get("now"))) if isinstance(reply.body, dict) else None
        if reply.status != 200 or now is None:
            raise _StepFailed(f"could not read the sandbox clock: {reply.status}", record, reply)
        return now


# --- helpers -------------------------------------------------------------------------------------
def _local_now() -> int:
    return (time.time_ns() // 1_000_000) * 1000


def _resolve_expectation(resolver: Resolver, expectation: Expectation) -> Expectation:
    return Expectation(
        status=expectation.status,
        body=resolver.resolve(expectation.body) if expectation.body is not MISSING else MISSING,
        paths={key: resolver.resolve(value) for key, value in expectation.paths.items()},
        headers={key: resolver.resolve(value) for key, value in expectation.headers.items()},
        text=resolver.resolve(expectation.text) if expectation.text is not MISSING else MISSING,
    )


def _shown(expectation: Expectation) -> dict[str, Any]:
    shown = expectation.to_json()
    return {"status": "2xx", **shown} if "status" not in shown else shown


def _number(value: Any, name: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        raise _StepFailed(f"{name}: {value!r} is not a number") from None


def _is_json_type(content_type: str) -> bool:
    mimetype = content_type.split(";", 1)[0].strip().lower()
    return mimetype == "application/json" or mimetype.endswith("+json")


def _redacted(form: Mapping[str, str]) -> dict[str, str]:
    return {key: "***" if key == "client_secret" else value for key, value in form.items()}


def _compact(value: Any) -> Any:
    """A copy small enough to keep in a result: long strings (a 1 MiB body) are cut."""
    if isinstance(value, str) and len(value) > _KEEP_CHARS:
        return f"{value[:200]}... ({len(value)} characters)"
    if isinstance(value, dict):
        return {key: _compact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_compact(item) for item in value]
    return value


def _response_record(reply: Reply) -> ResponseRecord:
    body = reply.body if reply.body is not None else reply.text
    return ResponseRecord(reply.status, dict(reply.headers), _compact(body))
