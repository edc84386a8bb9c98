"""A realistic mix of signed events, each with the Vendus documents it must end up as.

A *story* is one sale and what follows it: a payment of a pending sale, a refund, a customer's
late request for an invoice with their NIF, or a duplicate (the same event re-sent with its id,
or the same sale re-sent under a new id, as a POS does after a crash). Each story knows the
documents it must produce in Vendus: per sale, a multiset of (document type, gross amount).

Follow-ups are sent after every first event has been accepted, as in a shop, where the
payment or the refund comes minutes later; the pipeline must still cope with a follow-up that
overtakes its sale (the invoice is not ready yet: the step retries).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from stdnum.pt import nif as pt_nif

PRODUCTS = (("CAFE", "Café", "0.80", "RED"), ("PASTEL", "Pastel de nata", "1.30", "INT"),
            ("AGUA", "Água 50cl", "1.00", "RED"), ("SANDES", "Sandes mista", "3.50", "NOR"))
# Share of each kind of story; "change" needs sale.customer_changed in the catalogue.
WEIGHTS = {"paid": 36, "nif": 14, "pending": 14, "refund": 10, "change": 6, "same_id": 10, "new_id": 10}
CHANGE_TYPE = "sale.customer_changed"


@dataclass
class Story:
    kind: str
    sale_id: str
    first: list[dict[str, Any]]  # sent in the first pass
    later: list[dict[str, Any]] = field(default_factory=list)  # follow-ups and duplicates
    expected: Counter = field(default_factory=Counter)  # (type, amount) → count, for this sale

    @property
    def envelopes(self) -> list[dict[str, Any]]:
        return self.first + self.later


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _envelope(event_type: str, store_id: int, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"evt_{uuid.uuid4().hex}", "type": event_type, "occurred_at": _now(), "store_id": store_id,
            "data": data}


def random_nif(rng: random.Random) -> str:
    base = f"2{rng.randrange(10**7):07d}"
    return base + pt_nif.calc_check_digit(base)


def _lines(rng: random.Random) -> list[dict[str, Any]]:
    chosen = rng.sample(PRODUCTS, rng.randint(1, 3))
    if not any(reference == "CAFE" for reference, *_ in chosen):
        chosen[0] = PRODUCTS[0]  # every sale has a café line, which refunds return
    return [{"reference": ref, "title": title, "qty": str(rng.randint(1, 3)), "unit_price": price, "tax": tax}
            for ref, title, price, tax in chosen]


def _total(lines: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(line["qty"]) * Decimal(line["unit_price"]) for line in lines), Decimal("0.00"))


def _sale(store_id: int, sale_id: str, lines: list[dict[str, Any]], *, paid: bool,
          customer: dict[str, Any] | None = None) -> dict[str, Any]:
    total = f"{_total(lines):.2f}"
    status = "paid" if paid else "pending"
    return _envelope("sale.completed", store_id, {
        "sale_id": sale_id, "closed_at": _now(), "customer": customer, "lines": lines,
        "payments": [{"method": "cash", "amount": total, "status": status}], "payment_status": status})


def make_story(kind: str, store_id: int, rng: random.Random, tag: str) -> Story:
    sale_id = f"{tag}-{uuid.uuid4().hex[:12]}"
    lines = _lines(rng)
    total = f"{_total(lines):.2f}"
    if kind == "nif":
        customer = {"name": "Cliente Teste", "fiscal_id": random_nif(rng)}
        return Story(kind, sale_id, [_sale(store_id, sale_id, lines, paid=True, customer=customer)],
                     expected=Counter({("FR", total): 1}))
    if kind == "pending":
        payment = _envelope("payment.confirmed", store_id, {
            "sale_id": sale_id, "payment_id": f"PAY-{uuid.uuid4().hex[:12]}", "method": "card", "amount": total,
            "confirmed_at": _now()})
        return Story(kind, sale_id, [_sale(store_id, sale_id, lines, paid=False)], [payment],
                     Counter({("FT", total): 1, ("RG", total): 1}))
    sale = _sale(store_id, sale_id, lines, paid=True)
    story = Story(kind, sale_id, [sale], expected=Counter({("FS", total): 1}))
    if kind == "refund":
        cafe = next(line for line in lines if line["reference"] == "CAFE")
        story.later.append(_envelope("sale.refunded", store_id, {
            "sale_id": sale_id, "refund_id": f"REF-{uuid.uuid4().hex[:12]}", "reason": "Café frio",
            "lines": [{"reference": "CAFE", "qty": "1"}]}))
        story.expected[("NC", cafe["unit_price"])] += 1
    elif kind == "change":
        # reference/events.md, sale.customer_changed: one NC for the whole invoice and a new FR.
        story.later.append(_envelope(CHANGE_TYPE, store_id, {
            "sale_id": sale_id, "change_id": f"CHG-{uuid.uuid4().hex[:12]}",
            "customer": {"name": "Cliente Tardio", "fiscal_id": random_nif(rng)}}))
        story.expected.update({("NC", total): 1, ("FR", total): 1})
    elif kind == "same_id":
        story.later.append(sale)  # the very same envelope again: a duplicate by event id
    elif kind == "new_id":
        again = dict(sale, id=f"evt_{uuid.uuid4().hex}")  # same sale, new event id
        story.later.append(again)
    return story


def make_stories(events: int, store_id: int, *, seed: int, with_changes: bool, tag: str = "S") -> list[Story]:
    """Stories until ``events`` envelopes (duplicates included) are planned."""
    rng = random.Random(seed)
    weights = {k: w for k, w in WEIGHTS.items() if with_changes or k != "change"}
    kinds, shares = list(weights), list(weights.values())
    stories: list[Story] = []
    planned = 0
    while planned < events:
        story = make_story(rng.choices(kinds, shares)[0], store_id, rng, tag)
        stories.append(story)
        planned += len(story.envelopes)
    return stories

