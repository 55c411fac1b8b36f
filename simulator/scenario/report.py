"""Reports of scenario runs: readable text for people, JUnit XML for CI, and a starter file.

A failed step is explained without a traceback: which step (and where in the file), the request
sent, what was expected, what came back and the diff, which is what someone fixing either the
integration or the scenario needs first.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from .model import RequestRecord, ResponseRecord, ScenarioResult, StepResult

BODY_LIMIT: Final = 1500
"""Characters of a request or response body shown in a report; the rest is summarised."""
_LABEL: Final = MappingProxyType({"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"})
_XML_UNSAFE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def format_result(result: ScenarioResult) -> str:
    """One line per step (PASS/FAIL/SKIP) under a summary line; a failure gets its details."""
    where = f" — {result.path}" if result.path is not None else ""
    target = f" ({result.target})" if result.target else ""
    counts = (
        f"{result.count('passed')} passed, {result.count('failed')} failed, "
        f"{result.count('skipped')} skipped in {result.duration:.2f} s"
    )
    lines = [f"{'PASS' if result.passed else 'FAIL'}  {result.name}{where}{target}: {counts}"]
    for step in result.steps:
        lines.append(f"  {_LABEL[step.status]}  {_title(step)}{_summary(step)}")
        if step.status == "failed":
            lines.extend(f"        {line}" for line in failure_details(step, result.path))
    return "\n".join(lines)


def _title(step: StepResult) -> str:
    who = f"{step.actor}: " if step.actor else ""
    return f"{step.index}. {step.name}  [{who}{step.action}]"


def _summary(step: StepResult) -> str:
    if step.status == "skipped":
        return f" — {step.reason}"
    if step.response is not None and step.status == "passed":
        return f" → {step.response.status}"
    return ""


def failure_details(step: StepResult, path: Path | None = None) -> list[str]:
    """The lines explaining one failed step: where, why, request, expectation, answer, diff."""
    lines: list[str] = []
    if step.line and path is not None:
        lines.append(f"at:        {path}:{step.line}")
    if step.reason:
        lines.append(f"why:       {step.reason}")
    if step.request is not None:
        lines.append(f"request:   {_request(step.request)}")
    if step.expectation:
        lines.append(f"expected:  {_clip(_json(step.expectation))}")
    if step.response is not None:
        lines.append(f"got:       {_response(step.response)}")
    elif step.request is not None:
        lines.append("got:       no answer")
    if step.diff:
        lines.append("diff:")
        lines.extend(f"  {line}" for line in step.diff)
    return lines


def _request(request: RequestRecord) -> str:
    query = ""
    if request.query:
        query = "?" + "&".join(f"{key}={value}" for key, value in request.query.items())
    body = "" if request.body is None else " " + _clip(_json(request.body))
    return f"{request.method} {request.path}{query}{body}"


def _response(response: ResponseRecord) -> str:
    headers = {
        key: value
        for key, value in response.headers.items()
        if key.lower()
        in ("content-type", "retry-after", "www-authenticate", "x-sandbox-warning", "x-sandbox-fault")
    }
    shown = f"{response.status}"
    if headers:
        shown += " " + ", ".join(f"{key}: {value}" for key, value in headers.items())
    body = response.body
    if isinstance(body, str):
        text = body.strip()
        return f"{shown}\n{_indent(_clip(text))}" if "\n" in text else f"{shown} {_clip(text)}"
    return f"{shown} {_clip(_json(body))}"


def _indent(text: str) -> str:
    return "\n".join(f"           {line}" for line in text.splitlines())


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _clip(text: str, limit: int = BODY_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]} ... ({len(text) - limit} more characters)"


# --- JUnit XML -----------------------------------------------------------------------------------
def write_junit_xml(results: Iterable[ScenarioResult], path: str | Path) -> None:
    """One testsuite per scenario, one testcase per step, failures carrying the readable details."""
    results = list(results)
    root = ET.Element("testsuites", name="dsco-sandbox scenarios")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    total_time = 0.0
    for result in results:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_safe(result.name),
            tests=str(len(result.steps)),
            failures=str(result.count("failed")),
            errors="0",
            skipped=str(result.count("skipped")),
            time=f"{result.duration:.3f}",
        )
        if result.path is not None:
            suite.set("file", _safe(str(result.path)))
        if result.target:
            properties = ET.SubElement(suite, "properties")
            ET.SubElement(properties, "property", name="target", value=_safe(result.target))
        classname = _classname(result)
        for step in result.steps:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=classname,
                name=_safe(f"{step.index}. {step.name}"),
                time=f"{step.duration:.3f}",
            )
            if result.path is not None and step.line:
                case.set("file", _safe(str(result.path)))
                case.set("line", str(step.line))
            if step.status == "failed":
                message = step.diff[0] if step.diff else step.reason
                failure = ET.SubElement(case, "failure", message=_safe(message), type="ScenarioStepFailed")
                failure.text = _safe("\n".join(failure_details(step, result.path)))
            elif step.status == "skipped":
                ET.SubElement(case, "skipped", message=_safe(step.reason))
        totals["tests"] += len(result.steps)
        totals["failures"] += result.count("failed")
        totals["skipped"] += result.count("skipped")
        total_time += result.duration
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(target, encoding="utf-8", xml_declaration=True)


def _classname(result: ScenarioResult) -> str:
    stem = result.path.stem if result.path is not None else result.name
    return "scenarios." + re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_")


def _safe(text: str) -> str:
    """XML 1.0 cannot carry most control characters, even escaped; a server's answer might hold some."""
    return _XML_UNSAFE.sub("?", text)


# --- a starter file ------------------------------------------------------------------------------
def starter_scenario(name: str) -> str:
    """A commented scenario showing every feature; it loads and passes against the default world."""
    return _STARTER.replace("__NAME__", json.dumps(name, ensure_ascii=False))


_STARTER: Final = """\
# A dsco-sandbox scenario: a story told as steps, each one call plus what its answer must look like.
#
#   dsco-sandbox replay THIS_FILE                                  a fresh sandbox in this process
#   dsco-sandbox replay THIS_FILE --target http://127.0.0.1:8765   a running dsco-sandbox serve
#   dsco-sandbox replay THIS_FILE --target https://HOST/api/v3 --credentials creds.yaml
#                                                                  any server that speaks the Dsco API
#   pytest scenarios/                          with `dsco_scenarios = scenarios` in the pytest ini file
#
# The format is contracts/scenario.schema.json. Unknown keys are refused, and every problem (with its
# line) is reported before any request is sent. The run stops at the first failed step.
name: __NAME__
description: >-
  What this story proves, in a sentence or two. This starter walks the Customer Care loop of the
  default world and shows every feature of the format once.

# seed: ${fake...} values are the same on every run with the same seed (replay --seed N varies them).
seed: 1

# world: "default", or a world file relative to this file (used by in-process runs only).
world: default

# actors: who takes part, by the name steps use. Retailers and suppliers sign in with OAuth2 client
# credentials (replay --client-id ACTOR=ID / --client-secret ACTOR=SECRET replace them); a consumer is
# data only and never calls the API. dscoAccountId is where expect_notification looks.
actors:
  retailer:
    {role: retailer, client_id: retailer-demo, client_secret: retailer-demo-secret, dscoAccountId: "1000001"}
  supplier:
    {role: supplier, client_id: supplier-demo, client_secret: supplier-demo-secret, dscoAccountId: "2000001"}
  consumer: {role: consumer, id: "12345"}

# config: sandbox settings applied before step 1 (the body of PUT /_sandbox/config). Like every
# control-plane feature it is skipped against a server without /_sandbox. The run puts the previous
# settings back when it ends.
config:
  lag: {min: 1, max: 1}

steps:
  # Control-plane actions: reset, advance_clock, set_clock, set_config, set_personas,
  # expect_notification, list_events.
  - name: start from an empty sandbox
    action: reset

  - name: the retailer forwards the consumer's complaint
    actor: retailer
    action: create_conversation        # POST /conversation (see also update_conversation, add_message,
                                       # list_conversations, list_messages, get_token, poll_messages)
    # Strings may hold expressions: ${actors.NAME.FIELD}, ${fake.METHOD} or ${fake.METHOD:ARG},
    # ${clock.now} and ${clock.until} (now - 5 s), ${repeat:TEXT:COUNT}, and ${NAME.path[0].key}
    # for a response an earlier step saved. "$${" writes a literal "${".
    body:
      otherPartyTradingPartnerId: aaa-bbb-ccc
      referenceId: "${fake.numerify:CASE-#####}"
      title: Late order complaint on Order 123
      type: {type: customer_care, consumerId: "${actors.consumer.id}"}
      context: {type: order, poNumber: 123-456-789}
      initialMessage: {message: "Why is my order late${repeat:?:3} ${fake.sentence}"}
    headers: {X-Request-Id: "${fake.uuid4}"}   # extra request headers, if ever needed
    expect:
      status: 201                      # or a list such as [200, 201]; without status any 2xx passes
      body: {status: new}              # partial match: only the keys given are compared
      paths:                           # path -> value, or a matcher
        context.poNumber: 123-456-789
        type.consumerId: ${actors.consumer.id}
        retailerReferenceId: {matches: "^CASE-[0-9]{5}$"}
        dscoSupplierTradingPartnerId: {one_of: [aaa-bbb-ccc]}
        closedDate: {absent: true}
      headers:
        Content-Type: {contains: application/json}
    save_as: conv                      # later: ${conv.id}, ${conv.initialMessage.message}, ...

  - name: Dsco notifies the supplier
    actor: supplier
    action: expect_notification        # GET /_sandbox/notifications?account=<the actor's dscoAccountId>
    expect:
      paths:
        length(notifications): 1
        notifications[0].dscoConversationId: ${conv.id}

  - name: the supplier polls the way the guide recommends
    actor: supplier
    action: poll_messages              # createdSince = the previous poll's until, until = now - 5 s,
    poll:                              # every scrollId followed, then wait `interval` seconds
      query: {type: {type: customer_care}}
      interval: 30                     # sandbox seconds (without a control plane: real ones, 10 at most)
      max_polls: 10
      until_found: 1
    expect:                            # the answer is {"messages": [...all collected...], "polls": n}
      paths:
        length(messages): 1
        each(messages).type.customerCareType: message_from_consumer
        messages[0].message: ${conv.initialMessage.message}
        polls: {at_most: 3}
    save_as: inbox

  - name: the supplier answers
    actor: supplier
    action: add_message
    body:
      dscoConversationId: ${inbox.messages[0].dscoConversationId}
      message: "Sorry! It ships tomorrow. ${fake.sentence}"
    expect:
      status: 201
      paths: {type.customerCareType: response_to_consumer}
    save_as: answer

  - name: the supplier closes the conversation
    actor: supplier
    action: update_conversation
    body: {dscoConversationId: "${conv.id}", status: closed}
    expect:
      body: {status: closed}
      paths: {closedDate: {exists: true}}

  - name: the retailer finds the answer to forward
    actor: retailer
    action: poll_messages
    poll: {query: {type: {type: customer_care, customerCareType: response_to_consumer}}}
    expect:
      paths:
        messages[0].message: ${answer.message}

  - name: the retailer sees the conversation closed
    actor: retailer
    action: list_conversations
    body: {dscoConversationId: "${conv.id}"}
    expect:
      paths:
        conversations: {contains: {status: closed}}
        scrollId: {absent: true}

  - name: a closed conversation takes no messages
    actor: retailer
    action: add_message
    body: {dscoConversationId: "${conv.id}", message: "${fake.sentence}"}
    expect:
      status: 400
      text: {contains: "is closed"}    # a plain string would have to equal the whole text

  - name: the five-second rule on until
    actor: supplier
    action: list_messages
    body: {until: "${clock.now}"}
    expect:
      status: 400
      text: {matches: "^until: "}

  - name: stop the sandbox clock (the run puts its frozen state back at the end)
    action: set_clock
    body: {freeze: true}               # or {set: "2023-05-01T10:00:00Z"}

  - name: an hour and a second pass, so tokens expire
    action: advance_clock
    body: {seconds: 3601}

  - name: the expired token is refused
    actor: retailer
    action: list_conversations
    auth: expired                      # none: no Authorization; expired: the actor's last token as is;
                                       # anything else is sent as the bearer token
    expect:
      status: 401
      headers: {WWW-Authenticate: {exists: true}}

  - name: malformed JSON, sent verbatim (a normal call renews an expired token by itself)
    actor: retailer
    action: list_conversations
    raw_body: '{"statuses": ["new"],}'
    expect:
      status: 400
      text: {contains: "malformed JSON at line 1"}

  - name: the wrong content type
    actor: retailer
    action: list_messages
    content_type: text/plain
    body: {}
    expect: {status: 415}

  - name: a wrong secret
    actor: retailer
    action: get_token                  # form fields from the actor; body replaces some (null removes)
    body: {client_secret: not-the-secret}
    expect:
      status: 401
      body: {error: invalid_client}

  - name: change a setting in the middle of the story
    action: set_config
    body: {pageSize: 50}
    expect:
      body: {pageSize: 50}

  - name: let the sandbox play a supplier that answers within minutes
    action: set_personas               # PUT /_sandbox/personas: who the sandbox plays, and how
    body: {supplier: {accounts: ["2000001"], answerAfter: {min: 60, max: 300}}}
    expect:
      paths:
        active.supplier: ["2000001"]

  - name: the journal recorded the refused content type
    action: list_events                # GET /_sandbox/events with these query parameters
    body: {account: "1000001", operation: getConversationMessages}
    expect:
      paths:
        events: {contains: {status: 415}}
"""
