"""The compiled validity check and the explaining validator never disagree.

The fast check answers "valid" on its own; anything it refuses is explained by the pure-Python
validator. If the two ever disagreed, a request could be refused with no reason or accepted wrongly.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.contract.validation import Contract

pytestmark = pytest.mark.slow

CONTRACT = Contract()

json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=60)
json_values = st.recursive(
    json_scalars | st.sampled_from(["2023-05-01T09:29:55Z", "2023:05:01T9:29:55Z", "customer_care", "order"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)

VALID_CREATE: dict[str, Any] = {
    "otherPartyTradingPartnerId": "aaa-bbb-ccc",
    "title": "Late order",
    "type": {"type": "customer_care", "consumerId": "12345"},
    "context": {
        "type": "order",
        "poNumber": "123-456-789",
        "lineItem": {"sku": "SKU-RED-SHOE-9", "upc": "123456"},
    },
    "initialMessage": {"message": "Why is my order late?"},
    "dueDate": "2026-05-01T09:29:55Z",
}
PATHS = [
    ("title",),
    ("type",),
    ("type", "type"),
    ("type", "consumerId"),
    ("context",),
    ("context", "type"),
    ("context", "poNumber"),
    ("context", "lineItem"),
    ("context", "lineItem", "upc"),
    ("context", "lineItem", "lineNumber"),
    ("initialMessage",),
    ("initialMessage", "message"),
    ("dueDate",),
    ("isTest",),
]


def agree(operation: str, payload: Any) -> None:
    """Each path answers on its own: ``validate`` would hide a fast "valid" that jsonschema refuses."""
    uri = CONTRACT.operation(operation).request_schema
    assert uri is not None
    fast = CONTRACT.passes_fast_check(uri, payload)
    explained = CONTRACT.explain(uri, payload)
    assert fast == (not explained), (payload, explained)


@given(path=st.sampled_from(PATHS), value=json_values)
def test_fast_and_explained_validation_agree_on_mutated_create_bodies(
    path: tuple[str, ...], value: Any
) -> None:
    body = copy.deepcopy(VALID_CREATE)
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    agree("createConversation", body)


@pytest.mark.parametrize(
    "operation",
    ["updateConversation", "getConversations", "addConversationMessage", "getConversationMessages"],
)
@given(
    payload=st.dictionaries(
        st.sampled_from(
            [
                "title",
                "status",
                "statuses",
                "until",
                "message",
                "type",
                "sort",
                "scrollId",
                "dscoAccountIds",
                "x",
            ]
        ),
        json_values,
        max_size=4,
    )
)
def test_fast_and_explained_validation_agree_on_random_bodies(
    operation: str, payload: dict[str, Any]
) -> None:
    agree(operation, payload)
