"""Keys that name a sale's documents: links, issuance business keys and Vendus external references.

Sale ids are unique per store only (reference/events.md): chains reuse ticket numbers across
shops. So every key carries the store, and the external reference sent to Vendus also carries a
short tag of the integration, because two integrations may share one Vendus account and must never
adopt each other's documents after an unknown outcome.

External reference: ``kv<tag>:<store>:<sale_id>`` for the sale's invoice, plus ``#RG:<key>``,
``#NC:<refund_id>`` or ``#CC:<change_id>`` for its receipts, credit notes and corrections.
References written before this scheme were the bare sale id (``T1-000123#RG:...``); they are
still parsed, with no tag and no store (the caller takes the store from the document itself).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

SEPARATOR = "#"
_SCHEME = re.compile(r"kv(?P<tag>[0-9a-f]{8}):(?P<store>\d+):(?P<rest>.+)\Z", re.DOTALL)


def integration_tag(integration_id: str) -> str:
    """Eight hex digits naming the integration inside a Vendus account (not secret, not reversible)."""
    return hashlib.sha256(integration_id.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class ExternalReference:
    sale_id: str
    store_id: int | None = None  # None: a reference written before stores were part of it
    tag: str | None = None
    suffix: str = ""  # "RG:<key>", "NC:<refund_id>", "CC:<change_id>" or "" for the invoice

    def belongs_to(self, integration_id: str) -> bool:
        return self.tag == integration_tag(integration_id)


def sale_reference(integration_id: str, store_id: int, sale_id: str) -> str:
    return f"kv{integration_tag(integration_id)}:{store_id}:{sale_id}"


def receipt_reference(integration_id: str, store_id: int, sale_id: str, key: str) -> str:
    return f"{sale_reference(integration_id, store_id, sale_id)}{SEPARATOR}RG:{key}"


def credit_note_reference(integration_id: str, store_id: int, sale_id: str, refund_id: str) -> str:
    return f"{sale_reference(integration_id, store_id, sale_id)}{SEPARATOR}NC:{refund_id}"


def correction_reference(integration_id: str, store_id: int, sale_id: str, change_id: str) -> str:
    """The NC and the new invoice of one ``sale.customer_changed`` (told apart by their type)."""
    return f"{sale_reference(integration_id, store_id, sale_id)}{SEPARATOR}CC:{change_id}"


def parse_reference(external_reference: str) -> ExternalReference:
    match = _SCHEME.match(external_reference.strip())
    if match is None:
        sale_id, _, suffix = external_reference.strip().partition(SEPARATOR)
        return ExternalReference(sale_id=sale_id, suffix=suffix)
    sale_id, _, suffix = match["rest"].partition(SEPARATOR)
    return ExternalReference(sale_id=sale_id, store_id=int(match["store"]), tag=match["tag"], suffix=suffix)


def sale_key(store_id: int | None, sale_id: str) -> str:
    """The ``from_key`` of a sale's links: ``<store>:<sale_id>`` (sale ids are unique per store)."""
    return f"{store_id}:{sale_id}" if store_id is not None else sale_id


def sale_key_of_document(external_reference: str, store_id: int | None) -> str:
    """The sale a Vendus document belongs to, from its external reference (and its own store)."""
    ref = parse_reference(external_reference)
    return sale_key(ref.store_id if ref.store_id is not None else store_id, ref.sale_id)


def sale_id_of_business_key(business_key: str | None) -> str:
    """The sale id of an event's business key ``sale:<store>:<sale_id>`` (older rows: ``sale:<id>``)."""
    key = (business_key or "").partition(":")[2]
    store, _, sale_id = key.partition(":")
    return sale_id if store.isdigit() and sale_id else key
