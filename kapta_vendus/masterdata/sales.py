"""Sales of a known customer use the mapped Vendus client, and may ask Vendus to email the document.

A sale's ``customer`` may carry the source's ``customer_id`` (an extra field the contract allows:
unknown fields are kept in the raw event). When that id, or the customer's NIF, maps to a Vendus
client (``customer.upserted``), the document names the client by ``{"id": …}`` instead of
repeating its data, so it is never duplicated. With ``email.by: vendus`` the client part also
carries the customer's ``email`` and ``send_email: "yes"``, the documents API's own option to email
the document (reference/vendus-api.md §3.3, ``client{}``: ``email``, ``send_email``).
"""

from __future__ import annotations

import json
from typing import Any

from kapta_vendus.email.settings import email_settings
from kapta_vendus.masterdata.links import mapped_client_id
from kapta_vendus.masterdata.vendus_payloads import real_nif
from kapta_vendus.pipeline import context as c
from kapta_vendus.pipeline.runner import StepContext


def _raw_customer(ctx: StepContext) -> dict[str, Any]:
    try:
        data = (json.loads(c.facts(ctx).raw) or {}).get("data") or {}
    except (TypeError, ValueError, AttributeError):
        return {}
    customer = data.get("customer") if isinstance(data, dict) else None
    return customer if isinstance(customer, dict) else {}


def use_mapped_client(ctx: StepContext, payload: dict[str, Any]) -> dict[str, Any]:
    client = payload.get("client")
    if not isinstance(client, dict):
        return payload  # no client on the document (a final consumer): nothing to map or email
    customer = _raw_customer(ctx)
    customer_id = str(customer.get("customer_id") or "").strip() or None
    nif = real_nif(str(client.get("fiscal_id") or "")) if client.get("fiscal_id") else None
    with ctx.db.unit_of_work() as session:
        vendus_id = mapped_client_id(session, ctx.integration_id, customer_id=customer_id, fiscal_id=nif)
    if vendus_id is not None:
        client = {"id": vendus_id}
    if email_settings(c.facts(ctx).config).by == "vendus" and customer.get("email"):
        client = {**client, "email": customer["email"], "send_email": "yes"}
    return {**payload, "client": client}
