"""The example integrations against ``serve --persona``: 8 sandbox hours in 15-minute steps.

The sandbox runs as a real server started with the persona options; the clock is frozen and
advanced a quarter of an hour at a time, and the example polls between steps as it would in
production. Counts are pinned for seed 7: a change in them is a change in the personas' behaviour.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType

import pytest
from persona_support import QUARTER, START
from serve_support import Served, start

from simulator.control_client import ControlClient

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def serving(*persona: str) -> Iterator[Served]:
    served = start("--seed", "7", "--no-rate-limit", "--lag", "1,1", *persona)
    try:
        control(served).clock({"freeze": True})
        control(served).clock({"set": START})
        yield served
    finally:
        served.stop()


def control(served: Served) -> ControlClient:
    return ControlClient.over_http(served.base_url)


def now_of(served: Served) -> datetime:
    return datetime.fromisoformat(control(served).clock()["now"].replace("Z", "+00:00"))


def persona_counts(served: Served, example_account: str) -> dict[str, int]:
    """Successful persona actions by ``role action``; those in customer-care conversations with
    ``example_account`` (the ones the example handles) are counted apart, under ``... (example)``."""
    events = control(served).events(kind="request")
    ours: set[str] = set()
    counts: Counter[str] = Counter()
    for event in events:
        if "persona" not in event:
            continue
        assert "refused" not in event, event
        response, request = event["response"], event["request"]
        opened = event["persona"]["action"] == "open" and response["type"]["type"] == "customer_care"
        if opened and example_account in (response["dscoSupplierId"], response["dscoRetailerId"]):
            ours.add(response["id"])
        conversation = response.get("id") if event["operation"] == "createConversation" else None
        conversation = conversation or request.get("dscoConversationId")
        suffix = " (example)" if conversation in ours else ""
        counts[f"{event['persona']['role']} {event['persona']['action']}{suffix}"] += 1
    return dict(sorted(counts.items()))


def supplier_run(every: int) -> tuple[dict[str, int], int]:
    """The supplier example against the retailer persona, polling every ``every`` steps."""
    module = example("supplier_integration")
    with serving("--persona", "retailer") as served:
        since = now_of(served)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            for step in range(1, 33):
                control(served).advance(QUARTER)
                if step % every == 0:  # as a `--once` run would: sign in, poll, answer
                    api = module.Api(served.base_url, "supplier-demo", "supplier-demo-secret")
                    since = module.run_once(api, since, now_of(served))
        return persona_counts(served, "2000001"), out.getvalue().count("answered and closed")


def test_the_supplier_example_answers_what_the_retailer_persona_sends() -> None:
    counts, answered = supplier_run(every=1)
    assert counts == {
        "retailer again (example)": 3,
        "retailer follow-up": 11,  # standard conversations, and those with the other supplier
        "retailer open": 6,
        "retailer open (example)": 23,
        "retailer reopen (example)": 3,
    }
    assert answered == 26  # each opened or reopened conversation, answered and closed


def test_the_retailer_persona_follows_up_when_the_supplier_makes_it_wait() -> None:
    counts, answered = supplier_run(every=2)
    assert counts == {
        "retailer again (example)": 4,
        "retailer follow-up": 11,
        "retailer follow-up (example)": 8,  # none when the example answers at every step
        "retailer open": 6,
        "retailer open (example)": 23,
        "retailer reopen (example)": 4,
    }
    assert answered == 27


def retailer_run() -> tuple[dict[str, int], int]:
    """The retailer example against the supplier persona: it forwards a consumer message every
    hour and relays the supplier's responses, polling at every step (signing in again each time,
    as a ``--once`` run does: a token lasts one sandbox hour)."""
    module = example("retailer_integration")
    with serving("--persona", "supplier") as served:
        since = now_of(served)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            for step in range(1, 33):
                api = module.Api(served.base_url, "retailer-demo", "retailer-demo-secret")
                if step % 4 == 1:
                    module.forward(
                        api, "aaa-bbb-ccc", "123-456-789", f"c{step}", f"Where is my order? ({step})"
                    )
                control(served).advance(QUARTER)
                since = module.responses(api, since, now_of(served))
        return persona_counts(served, "1000001"), out.getvalue().count("to consumer ")


def test_the_retailer_example_gets_answers_from_the_supplier_persona() -> None:
    counts, relayed = retailer_run()
    assert counts == {
        "supplier answer": 7,
        "supplier close": 3,
        "supplier question": 1,
        # The example relays the question to the consumer but never brings an answer back: the
        # supplier persona, made to wait, reminds once.
        "supplier reminder": 1,
    }
    assert relayed == 9  # 7 answers, the question and the reminder, each relayed to its consumer
