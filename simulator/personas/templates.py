"""Filling a persona's templates: the world's data about the order, and invented details.

Order numbers, line items and SKUs come from the order a conversation is about (the world's, as
the context resolved it); names, tracking numbers and return numbers are invented by a Faker seeded
from the persona seed, so that a run repeats exactly. Each conversation keeps its own consumer, so
the consumer's name is the same in every message of a conversation.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from faker import Faker

from ..domain.models import Order, OrderLine
from ..domain.world import World
from .config import PLACEHOLDERS

CARRIERS = ("UPS", "FedEx", "USPS", "DHL")


class Filler:
    """Fills templates for one sandbox's personas, from one seeded source of invented data."""

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.random = random.Random()
        self.faker = Faker("en_US")  # built once: a Faker takes a while to build, reseeding is cheap
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Start the invented data over, as it was for a new filler with ``seed``."""
        self.random.seed(f"{seed}:persona-texts")
        self.faker.seed_instance(f"{seed}:persona-faker")

    def consumer(self) -> dict[str, str]:
        """An invented consumer: an id for the API and a name for the messages."""
        first, last = self.faker.first_name(), self.faker.last_name()
        return {
            "consumerId": str(self.random.randrange(10_000_000, 100_000_000)),
            "consumerName": f"{first} {last}",
            "consumerFirstName": first,
        }

    def values(
        self,
        *,
        retailer_id: str,
        supplier_id: str,
        consumer: Mapping[str, str] | None,
        order: Order | None,
        line: OrderLine | None,
        now: int,
    ) -> Mapping[str, str]:
        """Every placeholder's value for one message. The invented ones are drawn only when a
        template uses them: most messages need none, and drawing costs more than the API call."""
        retailer, supplier = self.world.account(retailer_id), self.world.account(supplier_id)
        faker, rng = self.faker, self.random
        known = {
            "consumerName": (consumer or {}).get("consumerName", "a customer"),
            "consumerFirstName": (consumer or {}).get("consumerFirstName", "there"),
            "poNumber": order.po_number if order else "your order",
            "orderNumber": (order.consumer_order_number or order.po_number) if order else "your order",
            "sku": line.sku if line else "the item",
            "itemTitle": (line.title or line.sku) if line else "item",
            "lineNumber": str(line.line_number) if line else "1",
            "quantity": str(line.quantity or 1) if line else "1",
            "retailerName": retailer.name if retailer else retailer_id,
            "supplierName": supplier.name if supplier else supplier_id,
        }

        def delivery() -> str:
            moment = datetime.fromtimestamp(now / 1_000_000, UTC) + timedelta(days=rng.randint(2, 6))
            return moment.strftime("%B %d").replace(" 0", " ")

        invented: dict[str, Callable[[], str]] = {
            "trackingNumber": lambda: faker.bothify("1Z###?##########").upper(),
            "carrier": lambda: rng.choice(CARRIERS),
            "returnNumber": lambda: faker.bothify("RMA-######"),
            "deliveryDate": delivery,
        }
        assert known.keys() | invented.keys() == PLACEHOLDERS  # one list of names: config.PLACEHOLDERS
        return _Values(known, invented)


class _Values(dict[str, str]):
    """Placeholder values, the invented ones drawn on first use (and then kept)."""

    def __init__(self, known: Mapping[str, str], invented: Mapping[str, Callable[[], str]]) -> None:
        super().__init__(known)
        self._invented = invented

    def __missing__(self, name: str) -> str:
        value = self[name] = self._invented[name]()
        return value


def fill(template: str, values: Mapping[str, Any]) -> str:
    """The template with its placeholders replaced (all were checked when the file was loaded)."""
    return " ".join(template.format_map(values).split())


def order_of(world: World, context: Mapping[str, Any]) -> tuple[Order | None, OrderLine | None]:
    """The order (and line) a stored order context resolved to; (None, None) for other contexts."""
    if context.get("type") != "order" or "dscoOrderId" not in context:
        return None, None
    orders = world.orders_matching("dscoOrderId", str(context["dscoOrderId"]))
    if not orders:
        return None, None
    order = orders[0]
    wanted = (context.get("lineItem") or {}).get("lineNumber")
    line = next((line for line in order.lines if line.line_number == wanted), None)
    return order, line
