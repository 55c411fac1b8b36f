"""Reading a request: the conversation it points at, the partners it names, its dates.

Shared by the writes and the lists: each rule of how a field is read (a reference id of either
party, a trading partner id, the ``until`` margin) lives here once, so both answer a field alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .clock import format_rfc3339, parse_rfc3339, seconds
from .config import SandboxConfig
from .errors import InvalidRequest, Problem
from .models import Account, Conversation, Role
from .store import Store
from .world import World

Body = Mapping[str, Any]
# Fields that point at one conversation, and whose reference id each one is (None: Dsco's own id).
LOCATORS: tuple[tuple[str, Role | None], ...] = (
    ("dscoConversationId", None),
    ("retailerReferenceId", "retailer"),
    ("supplierReferenceId", "supplier"),
)
UPDATE_LOCATORS: tuple[tuple[str, Role | None], ...] = (
    ("dscoConversationId", None),
    ("findByRetailerReferenceId", "retailer"),
    ("findBySupplierReferenceId", "supplier"),
)


class Lookup:
    """The world and store as a request's fields see them (no state of its own)."""

    def __init__(self, world: World, store: Store, config: SandboxConfig) -> None:
        self.world = world
        self.store = store
        self.config = config

    def partner_refs(self, caller: Account) -> str:
        refs = sorted(p.trading_partner_id for p in self.world.partners.values() if p.owner_id == caller.id)
        return ", ".join(refs) or "none"

    def single_conversation(self, caller: Account, body: Body) -> Conversation | None:
        """The conversation a query names by id or reference id, checking the caller takes part."""
        if not any(body.get(name) is not None for name, _ in LOCATORS):
            return None
        return self.locate(caller, body, LOCATORS)

    def party_filters(
        self,
        caller: Account,
        body: Body,
        retailer_of: Callable[[Any], str],
        supplier_of: Callable[[Any], str],
    ) -> list[Callable[[Any], bool]]:
        """Filters on who is involved: the retailer/supplier fields and the partner lists."""
        tests: list[Callable[[Any], bool]] = []
        for role, of in (("retailer", retailer_of), ("supplier", supplier_of)):
            id_field, ref_field = f"dsco{role.title()}Id", f"dsco{role.title()}TradingPartnerId"
            by_id, by_ref = body.get(id_field), body.get(ref_field)
            if by_id is not None and by_ref is not None:
                raise InvalidRequest.at(
                    ref_field, f"give {id_field} or {ref_field}, not both", code="both_given"
                )
            if by_id is not None:
                if by_id != caller.id and not self.world.trade(caller.id, by_id):
                    raise InvalidRequest.at(
                        id_field,
                        f"{by_id!r} is neither you nor one of your trading partners",
                        code="unknown_partner",
                    )
                tests.append(_party_is(of, by_id))
            if by_ref is not None:
                if caller.role == role:
                    raise InvalidRequest.at(
                        ref_field,
                        f"only a {'supplier' if role == 'retailer' else 'retailer'} "
                        f"may filter by {ref_field}",
                        code="filter_not_allowed",
                    )
                account_id = self.resolve_partner_ref(caller, ref_field, by_ref)
                tests.append(_party_is(of, account_id))
        other_of = retailer_of if caller.role == "supplier" else supplier_of
        if body.get("dscoAccountIds") is not None:
            wanted_ids = set(body["dscoAccountIds"])
            tests.append(lambda x: other_of(x) in wanted_ids)
        if body.get("dscoTradingPartnerIds") is not None:
            wanted_refs = {
                self.resolve_partner_ref(caller, f"dscoTradingPartnerIds[{i}]", ref)
                for i, ref in enumerate(body["dscoTradingPartnerIds"])
            }
            tests.append(lambda x: other_of(x) in wanted_refs)
        return tests

    def resolve_partner_ref(self, caller: Account, field: str, ref: str) -> str:
        partner = self.world.partner_by_ref(caller.id, ref)
        if partner is None:
            raise InvalidRequest.at(
                field,
                f"{ref!r} is not one of your trading partner ids (yours are: {self.partner_refs(caller)})",
                code="unknown_partner",
            )
        return partner.partner_id

    def locate(
        self, caller: Account, body: Body, locators: tuple[tuple[str, Role | None], ...]
    ) -> Conversation:
        """Find the one conversation a request points at, which the caller must take part in.

        Unknown ids and conversations of others get the same answer, so that a caller cannot probe
        for conversations it does not belong to.
        """
        found: Conversation | None = None
        given = [(name, role, body[name]) for name, role in locators if body.get(name) is not None]
        if not given:
            names = ", ".join(name for name, _ in locators)
            raise InvalidRequest.at(
                locators[0][0], f"required: give one of {names}", code="conversation_missing"
            )
        for name, role, value in given:
            conversation = self.find(caller, role, value, name)
            if conversation is None:
                raise InvalidRequest.at(
                    name,
                    f"{value!r} does not name a conversation you take part in",
                    code="conversation_not_found",
                )
            if found is not None and found.id != conversation.id:
                raise InvalidRequest.at(
                    name,
                    f"{value!r} names a different conversation than {given[0][0]}",
                    code="conversation_conflict",
                )
            found = conversation
        assert found is not None
        return found

    def find(self, caller: Account, role: Role | None, value: str, field: str) -> Conversation | None:
        if role is None:
            conversation = self.store.conversation(value)
        elif role == caller.role:
            conversation = self.store.conversation_by_reference(role, caller.id, value)
        else:  # the other party's reference id: look among the caller's partners' references
            found = [
                c
                for partner_id in self.partner_ids(caller)
                if (c := self.store.conversation_by_reference(role, partner_id, value)) is not None
                and c.party_role(caller.id) is not None
            ]
            if len(found) > 1:
                # Reference ids are unique per owner only: two partners may both use "R-1".
                raise InvalidRequest.at(
                    field,
                    f"{value!r} is the reference id of conversations with {len(found)} of your partners; "
                    "use dscoConversationId",
                    code="ambiguous_reference_id",
                )
            conversation = found[0] if found else None
        if conversation is None or conversation.party_role(caller.id) is None:
            return None
        return conversation

    def partner_ids(self, caller: Account) -> list[str]:
        return sorted(
            {p.partner_id for p in self.world.partners.values() if p.owner_id == caller.id}
            | {p.owner_id for p in self.world.partners.values() if p.partner_id == caller.id}
        )

    def require_free_reference(self, caller: Account, value: str, field: str) -> None:
        if self.store.conversation_by_reference(caller.role, caller.id, value) is not None:
            raise InvalidRequest.at(
                field,
                f"{value!r} is already the reference id of another of your conversations",
                code="duplicate_reference_id",
            )

    def updated_since(self, body: Body) -> int | None:
        """``updatedSince``, or ``conversationsUpdatedSince``: the vendor's description of the first
        offers the second as an alternative, so the sandbox takes it as another name."""
        plain = self.date(body, "updatedSince")
        other = self.date(body, "conversationsUpdatedSince")
        if plain is not None and other is not None and plain != other:
            raise InvalidRequest.at(
                "conversationsUpdatedSince",
                "is another name for updatedSince, and names another instant here; give one of them",
                code="both_given",
            )
        return plain if plain is not None else other

    def until(self, body: Body, now: int) -> int:
        latest = now - seconds(self.config.until_margin)
        until = self.date(body, "until")
        if until is None:
            return latest
        if until > latest:
            raise InvalidRequest.at(
                "until",
                f"{body['until']!r} is less than {self.config.until_margin:g} seconds before now "
                f"({format_rfc3339(now)}); use {format_rfc3339(latest)} or earlier",
                code="until_too_recent",
            )
        return until

    @staticmethod
    def date(body: Body, name: str) -> int | None:
        value = body.get(name)
        if value is None:
            return None
        parsed = parse_rfc3339(value)
        if parsed is None:  # the contract checks formats first; this guards direct domain use
            raise InvalidRequest(
                Problem(name, f"{value!r} is not an RFC 3339 date-time (like 2023-05-01T09:29:55Z)")
            )
        return parsed


def descending(body: Body) -> bool:
    sort = body.get("sort")
    return isinstance(sort, Mapping) and sort.get("direction") == "desc"


def _party_is(of: Callable[[Any], str], wanted: str) -> Callable[[Any], bool]:
    return lambda item: of(item) == wanted
