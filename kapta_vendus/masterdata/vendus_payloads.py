"""Vendus bodies of master data, from the validated payloads (pure; reference/vendus-api.md §6)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from kapta_vendus.events.exemptions import DEFAULT_EXEMPTION_LAWS
from kapta_vendus.pipeline.model import compact_fiscal_id

FINAL_CONSUMER = "999999990"
TYPE_IDS = {"goods": "P", "service": "S"}  # Vendus type_id: P product, S service (§5.3)


def real_nif(fiscal_id: str | None) -> str | None:
    """The fiscal id to send, or None for none/the generic consumer NIF (never sent to Vendus)."""
    if not fiscal_id or not fiscal_id.strip():
        return None
    compact = compact_fiscal_id(fiscal_id)
    return None if compact.removeprefix("PT") == FINAL_CONSUMER else compact.removeprefix("PT")


def client_body(data: Mapping[str, Any]) -> dict[str, Any]:
    body = {"name": data["name"], "country": data.get("country") or "PT",
            "external_reference": data["customer_id"]}
    nif = real_nif(data.get("fiscal_id"))
    if nif:
        body["fiscal_id"] = nif
    for name in ("address", "postalcode", "city", "email", "phone"):
        if data.get(name):
            body[name] = data[name]
    return body


def product_body(data: Mapping[str, Any], unit_id: int) -> dict[str, Any]:
    body = {"reference": data["reference"], "title": data["title"], "gross_price": f"{data['gross_price']:.2f}",
            "tax_id": data["tax"], "type_id": TYPE_IDS[data.get("kind") or "goods"], "unit_id": unit_id,
            "status": "on" if data.get("status", "active") == "active" else "off"}
    if data.get("exemption"):
        body["tax_exemption"] = data["exemption"]
        body["tax_exemption_law"] = DEFAULT_EXEMPTION_LAWS.get(data["exemption"], "")
    if data.get("barcode"):
        body["barcode"] = data["barcode"]
    return body


def fingerprint(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:32]
