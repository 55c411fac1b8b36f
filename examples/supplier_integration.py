"""A supplier's Customer Care integration, as a plain script using only ``requests``.

It does what the vendor's guide asks of a supplier: poll for new customer-care messages (with
``createdSince`` = the previous poll's ``until`` and ``until`` = now - 5 s, following every scroll
page), answer each consumer message with a ``response_to_consumer`` and close the conversation.

    python examples/supplier_integration.py --base-url http://127.0.0.1:8765 \\
        --client-id supplier-demo --client-secret supplier-demo-secret --once

Point ``--base-url`` at the vendor (https://api.dsco.io) and it runs unchanged.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

MARGIN = timedelta(seconds=5)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Api:
    def __init__(self, base_url: str, client_id: str, client_secret: str) -> None:
        self.base = base_url.rstrip("/").removesuffix("/api/v3") + "/api/v3"
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        response = requests.post(f"{self.base}/oauth2/token", data=form, timeout=30)
        response.raise_for_status()
        self.headers = {"Authorization": f"bearer {response.json()['access_token']}"}

    def call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(5):
            response = requests.request(method, self.base + path, json=body, headers=self.headers, timeout=30)
            if response.status_code == 429:  # production allows 5 calls a second per operation
                time.sleep(float(response.headers.get("Retry-After", 2**attempt)))
                continue
            if response.status_code >= 400:
                raise SystemExit(
                    f"{method} {path} failed with {response.status_code}: {response.text.strip()}"
                )
            result: dict[str, Any] = response.json()
            return result
        raise SystemExit(f"{method} {path} stayed rate limited")

    def new_messages(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        query: dict[str, Any] = {
            "type": {"type": "customer_care", "customerCareType": "message_from_consumer"},
            "createdSince": iso(since),
            "until": iso(until),
        }
        found: list[dict[str, Any]] = []
        while True:
            page = self.call("POST", "/conversation/message/list", query)
            found += page["messages"]
            if "scrollId" not in page:
                return found
            query = {"scrollId": page["scrollId"]}


def answer(message: dict[str, Any]) -> str:
    """Where a real supplier would look the order up; here, a polite and specific reply."""
    quoted = message["message"][:60]
    return f"Thank you for writing about your order. We are on it: {quoted!r} has our attention."


def run_once(api: Api, since: datetime, now: datetime) -> datetime:
    until = now - MARGIN
    answered: set[str] = set()
    for message in api.new_messages(since, until):
        conversation = message["dscoConversationId"]
        if conversation in answered:  # a follow-up in the same poll: one answer covers both
            continue
        answered.add(conversation)
        api.call(
            "POST", "/conversation/message", {"dscoConversationId": conversation, "message": answer(message)}
        )
        api.call("PUT", "/conversation", {"dscoConversationId": conversation, "status": "closed"})
        print(f"answered and closed {conversation} (consumer {message['type']['consumerId']})", flush=True)
    return until


def main() -> None:
    parser = argparse.ArgumentParser(description="Answer customer-care messages as a supplier.")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--since", help="first poll's createdSince (RFC 3339); default: one hour ago")
    parser.add_argument("--now", help="pretend it is this time (RFC 3339), e.g. a sandbox's frozen clock")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between polls")
    parser.add_argument("--once", action="store_true", help="poll once and exit")
    args = parser.parse_args()

    def now() -> datetime:
        return datetime.fromisoformat(args.now.replace("Z", "+00:00")) if args.now else datetime.now(UTC)

    since = (
        datetime.fromisoformat(args.since.replace("Z", "+00:00"))
        if args.since
        else now() - timedelta(hours=1)
    )
    api = Api(args.base_url, args.client_id, args.client_secret)
    while True:
        since = run_once(api, since, now())
        if args.once:
            return
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
