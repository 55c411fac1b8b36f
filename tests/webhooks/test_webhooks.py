"""The webhook dispatcher against a real HTTP receiver on loopback.

Each test starts its own ``ThreadingHTTPServer`` on 127.0.0.1 (port 0) that records every request
and answers with a programmable sequence of statuses, so signing, headers, retries, backoff and
isolation between deliveries are checked on the wire, not on mocks. Every wait is bounded.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from simulator.webhooks import Delivery, WebhookDispatcher, sign, verify

SECRET = "s3cret-for-acct-1"
StartReceiver = Callable[..., "Receiver"]
MakeDispatcher = Callable[..., WebhookDispatcher]

PAYLOAD = {"event": "message.created", "accountId": "1001", "messageId": "m-1", "text": "héllo ✓"}


@dataclass
class Recorded:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival


@dataclass
class Receiver:
    """What the test controls and observes; the handler reads and writes it under ``lock``."""

    statuses: list[int] = field(default_factory=lambda: [204])  # the last one repeats
    delay: float = 0.0  # seconds to wait before answering
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)
    url: str = ""

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.arrived:
                receiver.requests.append(Recorded(dict(self.headers.items()), body, time.monotonic()))
                status = receiver.statuses[min(len(receiver.requests), len(receiver.statuses)) - 1]
                receiver.arrived.notify_all()
            if receiver.delay:
                time.sleep(receiver.delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

    return Handler


@pytest.fixture
def start_receiver() -> Iterator[StartReceiver]:
    """A factory: ``start_receiver(statuses=[...], delay=...)`` returns a running :class:`Receiver`."""
    servers: list[ThreadingHTTPServer] = []

    def start(statuses: list[int] | None = None, delay: float = 0.0) -> Receiver:
        receiver = Receiver(statuses=statuses or [204], delay=delay)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/dsco"
        return receiver

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def reports() -> list[Delivery]:
    return []


@pytest.fixture
def make_dispatcher(reports: list[Delivery]) -> Iterator[MakeDispatcher]:
    """A factory for dispatchers that report into ``reports`` and are closed after the test."""
    made: list[WebhookDispatcher] = []
    lock = threading.Lock()

    def record(delivery: Delivery) -> None:
        with lock:
            reports.append(delivery)

    def make(**options: object) -> WebhookDispatcher:
        options.setdefault("on_attempt", record)
        options.setdefault("timeout", 2.0)
        dispatcher = WebhookDispatcher(**options)  # type: ignore[arg-type]
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.close(timeout=2.0)


def threads_of(dispatcher: WebhookDispatcher) -> list[threading.Thread]:
    prefix = f"dsco-webhooks-{id(dispatcher):x}-"
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released), so connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- signing ----------------------------------------------------------------------------------------


def test_sign_is_sha256_hmac_of_the_body_in_hex_with_a_prefix() -> None:
    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(SECRET, body) == f"sha256={expected}"


def test_verify_accepts_the_signature_of_the_body() -> None:
    body = b'{"a":1}'
    assert verify(SECRET, body, sign(SECRET, body))


@pytest.mark.parametrize(
    ("secret", "body", "signature"),
    [
        pytest.param(SECRET, b'{"a":2}', sign(SECRET, b'{"a":1}'), id="tampered-body"),
        pytest.param("other-secret", b'{"a":1}', sign(SECRET, b'{"a":1}'), id="wrong-secret"),
        pytest.param(SECRET, b'{"a":1}', sign(SECRET, b'{"a":1}').removeprefix("sha256="), id="no-prefix"),
        pytest.param(SECRET, b'{"a":1}', "", id="empty"),
        pytest.param(SECRET, b'{"a":1}', "sha256=é", id="non-ascii"),
    ],
)
def test_verify_rejects_a_tampered_body_a_wrong_secret_or_a_malformed_signature(
    secret: str, body: bytes, signature: str
) -> None:
    assert not verify(secret, body, signature)


# --- delivery -----------------------------------------------------------------------------------------


def test_a_delivered_post_carries_a_signed_body_and_the_documented_headers(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher, reports: list[Delivery]
) -> None:
    receiver = start_receiver(statuses=[200])
    dispatcher = make_dispatcher()

    dispatcher.submit(receiver.url, SECRET, PAYLOAD, "dlv-1")

    assert dispatcher.wait_idle(5.0)
    (request,) = receiver.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert request.body == json.dumps(PAYLOAD, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(request.body) == PAYLOAD
    assert verify(SECRET, request.body, headers["x-dsco-sandbox-signature"])
    assert headers["x-dsco-sandbox-signature"].startswith("sha256=")
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "dsco-sandbox-webhooks"
    assert headers["x-dsco-sandbox-delivery"] == "dlv-1"
    assert headers["x-dsco-sandbox-attempt"] == "1"
    assert headers["x-dsco-sandbox-timestamp"].isdigit()
    assert abs(int(headers["x-dsco-sandbox-timestamp"]) - time.time()) < 30
    assert reports == [
        Delivery(
            delivery_id="dlv-1",
            url=receiver.url,
            attempt=1,
            status=200,
            error=None,
            delivered=True,
            final=True,
        )
    ]


def test_a_receiver_that_fails_twice_then_answers_204_gets_exactly_three_attempts(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher, reports: list[Delivery]
) -> None:
    receiver = start_receiver(statuses=[500, 500, 204])
    dispatcher = make_dispatcher(base_delay=0.01)

    dispatcher.submit(receiver.url, SECRET, PAYLOAD, "dlv-retry")

    assert dispatcher.wait_idle(5.0)
    time.sleep(0.1)  # a fourth attempt, if one were (wrongly) made, would arrive in this window
    assert receiver.count() == 3
    assert [r.headers["X-Dsco-Sandbox-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert {r.headers["X-Dsco-Sandbox-Delivery"] for r in receiver.requests} == {"dlv-retry"}
    assert all(verify(SECRET, r.body, r.headers["X-Dsco-Sandbox-Signature"]) for r in receiver.requests)
    assert [(d.attempt, d.status, d.delivered, d.final) for d in reports] == [
        (1, 500, False, False),
        (2, 500, False, False),
        (3, 204, True, True),
    ]
    assert reports[0].error is not None and "500" in reports[0].error
    assert reports[-1].error is None


def test_backoff_delays_grow_exponentially_up_to_max_delay(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher, reports: list[Delivery]
) -> None:
    receiver = start_receiver(statuses=[503])
    slept: list[float] = []
    dispatcher = make_dispatcher(max_attempts=6, base_delay=0.5, max_delay=3.0, sleep=slept.append)

    dispatcher.submit(receiver.url, SECRET, PAYLOAD, "dlv-backoff")

    assert dispatcher.wait_idle(5.0)
    assert slept == [0.5, 1.0, 2.0, 3.0, 3.0]  # one wait between each pair of the 6 attempts
    assert receiver.count() == 6


def test_real_backoff_waits_grow_between_attempts(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher
) -> None:
    receiver = start_receiver(statuses=[500])
    dispatcher = make_dispatcher(max_attempts=4, base_delay=0.1, max_delay=10.0)

    dispatcher.submit(receiver.url, SECRET, PAYLOAD, "dlv-timed")

    assert dispatcher.wait_idle(5.0)
    arrivals = [r.at for r in receiver.requests]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(gaps) == 3
    for gap, delay in zip(gaps, [0.1, 0.2, 0.4], strict=True):
        assert gap >= delay * 0.9  # never early; the upper bound is left loose for busy machines
    assert gaps[0] < gaps[1] < gaps[2]


def test_a_receiver_that_always_fails_stops_after_max_attempts_with_a_final_undelivered_report(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher, reports: list[Delivery]
) -> None:
    receiver = start_receiver(statuses=[500])
    dispatcher = make_dispatcher(max_attempts=3, sleep=lambda _: None)

    dispatcher.submit(receiver.url, SECRET, PAYLOAD, "dlv-dead")

    assert dispatcher.wait_idle(5.0)
    time.sleep(0.1)
    assert receiver.count() == 3
    assert [d.attempt for d in reports] == [1, 2, 3]
    assert [d.final for d in reports] == [False, False, True]
    assert not any(d.delivered for d in reports)
    assert reports[-1].status == 500


def test_a_refused_connection_is_retried_and_reported_with_an_error(
    make_dispatcher: MakeDispatcher, reports: list[Delivery]
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hooks"
    dispatcher = make_dispatcher(max_attempts=3, sleep=lambda _: None)

    dispatcher.submit(url, SECRET, PAYLOAD, "dlv-refused")

    assert dispatcher.wait_idle(5.0)
    assert [d.attempt for d in reports] == [1, 2, 3]
    assert all(d.status is None and d.error and not d.delivered for d in reports)
    assert reports[-1].final and not reports[0].final


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher, reports: list[Delivery]
) -> None:
    receiver = start_receiver(statuses=[204], delay=1.0)
    dispatcher = make_dispatcher(max_attempts=1, timeout=0.2)

    dispatcher.submit(receiver.url, SECRET, PAYLOAD, "dlv-timeout")

    assert dispatcher.wait_idle(3.0)
    (report,) = reports
    assert (report.status, report.delivered, report.final) == (None, False, True)
    assert report.error is not None and "timed out" in report.error


def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher, reports: list[Delivery]
) -> None:
    receiver = start_receiver(statuses=[302])
    dispatcher = make_dispatcher(max_attempts=1)

    dispatcher.submit(receiver.url, SECRET, PAYLOAD, "dlv-redirect")

    assert dispatcher.wait_idle(5.0)
    assert receiver.count() == 1
    assert [(d.status, d.delivered) for d in reports] == [(302, False)]


# --- never blocking, isolation ------------------------------------------------------------------------


def test_submit_returns_at_once_even_when_the_receiver_is_slow(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher
) -> None:
    receiver = start_receiver(delay=1.0)
    dispatcher = make_dispatcher()
    dispatcher.submit(receiver.url, SECRET, PAYLOAD, "warm-up")  # thread start-up is not measured below
    assert receiver.wait_for(1)

    started = time.monotonic()
    dispatcher.submit(receiver.url, SECRET, PAYLOAD, "dlv-slow")
    elapsed = time.monotonic() - started

    assert elapsed < 0.1
    assert receiver.wait_for(2, timeout=3.0)


def test_a_slow_delivery_to_one_url_does_not_delay_another(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher, reports: list[Delivery]
) -> None:
    slow = start_receiver(delay=1.0)
    fast = start_receiver()
    dispatcher = make_dispatcher()

    dispatcher.submit(slow.url, SECRET, PAYLOAD, "dlv-slow")
    assert slow.wait_for(1)  # the slow post is now on the wire, holding its sender
    dispatcher.submit(fast.url, SECRET, PAYLOAD, "dlv-fast")

    assert fast.wait_for(1, timeout=0.5)
    assert dispatcher.wait_idle(3.0)
    assert [d.delivery_id for d in reports] == ["dlv-fast", "dlv-slow"]


def test_retries_of_one_delivery_do_not_hold_up_another(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher, reports: list[Delivery]
) -> None:
    failing = start_receiver(statuses=[500])
    healthy = start_receiver()
    dispatcher = make_dispatcher(max_attempts=3, base_delay=5.0)  # a real 5 s wait before attempt 2

    dispatcher.submit(failing.url, SECRET, PAYLOAD, "dlv-failing")
    assert failing.wait_for(1)
    for n in range(2 * 4 + 1):  # more deliveries than there are senders
        dispatcher.submit(healthy.url, SECRET, PAYLOAD, f"dlv-healthy-{n}")

    assert healthy.wait_for(9, timeout=2.0)
    assert failing.count() == 1  # still waiting out its backoff


def test_an_exception_in_on_attempt_does_not_kill_the_senders(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher
) -> None:
    receiver = start_receiver()
    calls: list[str] = []

    def explode(delivery: Delivery) -> None:
        calls.append(delivery.delivery_id)
        raise RuntimeError("journal is broken")

    dispatcher = make_dispatcher(on_attempt=explode)
    for n in range(10):  # more than the pool, so dead senders would leave some undelivered
        dispatcher.submit(receiver.url, SECRET, PAYLOAD, f"dlv-{n}")

    assert dispatcher.wait_idle(5.0)
    assert receiver.count() == 10
    assert sorted(calls) == sorted(f"dlv-{n}" for n in range(10))


# --- lifecycle and validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/hooks", "file:///etc/passwd", "127.0.0.1:8080/hooks", "http:///no-host", ""],
)
def test_submit_refuses_urls_that_are_not_http_or_https(make_dispatcher: MakeDispatcher, url: str) -> None:
    dispatcher = make_dispatcher()
    with pytest.raises(ValueError):
        dispatcher.submit(url, SECRET, PAYLOAD, "dlv-bad-url")
    assert threads_of(dispatcher) == []
    assert dispatcher.wait_idle(0.1)


def test_https_urls_are_accepted(make_dispatcher: MakeDispatcher) -> None:
    dispatcher = make_dispatcher(max_attempts=1)
    dispatcher.submit(f"https://127.0.0.1:{closed_port()}/hooks", SECRET, PAYLOAD, "dlv-https")
    assert dispatcher.wait_idle(5.0)


def test_threads_start_on_the_first_submit_not_before(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher
) -> None:
    receiver = start_receiver()
    dispatcher = make_dispatcher()
    assert threads_of(dispatcher) == []

    dispatcher.submit(receiver.url, SECRET, PAYLOAD, "dlv-1")

    assert threads_of(dispatcher)
    assert all(t.daemon for t in threads_of(dispatcher))
    assert dispatcher.wait_idle(5.0)


def test_close_stops_the_threads_and_drops_pending_retries(
    start_receiver: StartReceiver, make_dispatcher: MakeDispatcher, reports: list[Delivery]
) -> None:
    receiver = start_receiver(statuses=[500])
    dispatcher = make_dispatcher(max_attempts=5, base_delay=5.0)
    dispatcher.submit(receiver.url, SECRET, PAYLOAD, "dlv-pending")
    assert receiver.wait_for(1)
    deadline = time.monotonic() + 2.0
    while not reports and time.monotonic() < deadline:  # the first attempt's report, then its backoff
        time.sleep(0.01)

    started = time.monotonic()
    dispatcher.close(timeout=2.0)

    assert time.monotonic() - started < 1.0  # the 5 s backoff was cut short, not waited out
    assert threads_of(dispatcher) == []
    assert dispatcher.wait_idle(0.1)
    time.sleep(0.1)
    assert receiver.count() == 1
    assert [d.final for d in reports] == [False]
    with pytest.raises(RuntimeError):
        dispatcher.submit(receiver.url, SECRET, PAYLOAD, "dlv-after-close")


def test_a_payload_that_is_not_json_fails_in_submit(make_dispatcher: MakeDispatcher) -> None:
    dispatcher = make_dispatcher()
    with pytest.raises(TypeError):
        dispatcher.submit("http://127.0.0.1:9/hooks", SECRET, {"when": object()}, "dlv-bad-body")
