"""A retailer's Customer Care integration, as a plain script using only ``requests``.

It forwards an end consumer's message to the supplier of the order it is about (a customer-care
conversation with an order context), then polls the guide's way for the supplier's
``response_to_consumer`` messages and hands each one back to the consumer (here: prints it).

    python examples/retailer_integration.py --base-url http://127.0.0.1:8765 \\
        --client-id retailer-demo --client-secret retailer-demo-secret \\
        forward --supplier aaa-bbb-ccc --po 123-456-789 --consumer 12345 --message "Why is my order late?"
    python examples/retailer_integration.py ... responses --since 2023-05-01T09:00:00Z --once
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


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


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
            if response.status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", 2**attempt)))
                continue
            if response.status_code >= 400:
                raise SystemExit(
                    f"{method} {path} failed with {response.status_code}: {response.text.strip()}"
                )
            result: dict[str, Any] = response.json()
            return result
        raise SystemExit(f"{method} {path} stayed rate limited")


def forward(api: Api, supplier: str, po_number: str, consumer: str, message: str) -> str:
    conversation = api.call(
        "POST",
        "/conversation",
        {
            "otherPartyTradingPartnerId": supplier,
            "title": f"Customer care: order {po_number}"[:50],
            "type": {"type": "customer_care", "consumerId": consumer},
            "context": {"type": "order", "poNumber": po_number},
            "initialMessage": {"message": message},
        },
    )
    print(f"forwarded to {supplier} as conversation {conversation['id']}", flush=True)
    return str(conversation["id"])


def responses(api: Api, since: datetime, now: datetime) -> datetime:
    until = now - MARGIN
    query: dict[str, Any] = {
        "type": {"type": "customer_care", "customerCareType": "response_to_consumer"},
        "createdSince": iso(since),
        "until": iso(until),
    }
    while True:
        page = api.call("POST", "/conversation/message/list", query)
        for message in page["messages"]:
            print(f"to consumer {message['type']['consumerId']}: {message['message']}", flush=True)
        if "scrollId" not in page:
            return until
        query = {"scrollId": page["scrollId"]}


def main() -> None:
    parser = argparse.ArgumentParser(description="Forward consumer messages and relay suppliers' answers.")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    commands = parser.add_subparsers(dest="command", required=True)
    fwd = commands.add_parser("forward", help="forward one consumer message to the order's supplier")
    fwd.add_argument("--supplier", required=True, help="your trading-partner id for the supplier")
    fwd.add_argument("--po", required=True, help="the order's poNumber")
    fwd.add_argument("--consumer", required=True, help="the end consumer's id")
    fwd.add_argument("--message", required=True)
    rsp = commands.add_parser("responses", help="poll for suppliers' responses and relay them")
    rsp.add_argument("--since", required=True, help="first poll's createdSince (RFC 3339)")
    rsp.add_argument("--now", help="pretend it is this time (RFC 3339), e.g. a sandbox's frozen clock")
    rsp.add_argument("--interval", type=float, default=30.0)
    rsp.add_argument("--once", action="store_true")
    args = parser.parse_args()
    api = Api(args.base_url, args.client_id, args.client_secret)
    if args.command == "forward":
        forward(api, args.supplier, args.po, args.consumer, args.message)
        return
    since = parse(args.since)
    while True:
        since = responses(api, since, parse(args.now) if args.now else datetime.now(UTC))
        if args.once:
            return
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
