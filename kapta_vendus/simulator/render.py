"""The three document shapes the API returns.

* ``short``: POST documents/ answer (201) — no client, items or payments.
* ``row``: a GET documents/ list row — ``status`` is a **string**, no items/payments/taxes.
* ``detail``: GET documents/{id} — ``status`` is an **object**, items carry an ``amounts`` object and
  ``qty_nc``, plus ``debt``, ``related_docs`` and ``taxes`` per rate.

Amounts are stored positive; a credit note is shown positive unless ``nc_amount_sign`` says
"negative" (the SDK sample shows 0.00, the simulator assumes the credited total).
"""

from __future__ import annotations

import base64
from decimal import Decimal

from .accounts import Account
from .issuing import qrcode_data
from .lines import net_of
from .money import HUNDRED, ZERO, money, q2
from .payments import debt, payment_status


def _signed(doc: dict, value: str, sign_nc: str) -> str:
    if doc["type"] == "NC" and sign_nc == "negative":
        return money(-Decimal(value))
    return value


def short(account: Account, doc: dict, assumptions, output: str | None = None) -> dict:
    return {
        "id": doc["id"],
        "type": doc["type"],
        "subtype": doc["subtype"],
        "tax_authority_id": doc["tax_authority_id"],
        "number": doc["number"],
        "date": doc["date"],
        "date_supply": doc["date_supply"],
        "system_time": doc["system_time"],
        "local_time": doc["local_time"],
        "amount_gross": _signed(doc, doc["amount_gross"], assumptions.nc_amount_sign),
        "amount_net": _signed(doc, doc["amount_net"], assumptions.nc_amount_sign),
        "hash": doc["hash"],
        "atcud": doc["atcud"],
        **render_output(doc, output),
        "qrcode": "",
        "qrcode_data": qrcode_data(account, doc),
    }


def render_output(doc: dict, output: str | None) -> dict:
    """``output`` asks for a rendering, returned base64-encoded: a real PDF for ``pdf``, else a text placeholder."""
    if not output:
        return {"output": "", "output_data": ""}
    if output.lower() == "pdf":
        from .pdf import document_pdf

        return {"output": base64.b64encode(document_pdf(doc)).decode(), "output_data": ""}
    text = f"SIMULATED {output.upper()} {doc['number']} {doc['amount_gross']} EUR"
    return {"output": base64.b64encode(text.encode()).decode(), "output_data": ""}


def row(account: Account, doc: dict, assumptions, today: str, with_client: bool) -> dict:
    result = {
        "id": doc["id"],
        "number": doc["number"],
        "date": doc["date"],
        "store_id": doc["store_id"],
        "register_id": doc["register_id"],
        "date_due": doc["date_due"],
        "date_supply": doc["date_supply"],
        "system_time": doc["system_time"],
        "local_time": doc["local_time"],
        "amount_gross": _signed(doc, doc["amount_gross"], assumptions.nc_amount_sign),
        "amount_net": _signed(doc, doc["amount_net"], assumptions.nc_amount_sign),
        "type": doc["type"],
        "subtype": doc["subtype"],
        "tax_authority_id": doc["tax_authority_id"],
        "status": doc["status"],
        "total_unpaid": money(debt(doc)[2]),
        "payment_status": payment_status(doc, today),
        "external_reference": doc["external_reference"],
    }
    if with_client:
        client = doc.get("client") or {}
        result["client"] = {
            "id": client.get("id"),
            "name": client.get("name", ""),
            "email": client.get("email", ""),
        }
    return result


def _item(line: dict) -> dict:
    rate, price, qty = Decimal(line["rate"]), Decimal(line["price"]), Decimal(line["qty"])
    gross_total = Decimal(line["gross_total"])
    listed = price * qty
    calculated = ZERO if listed == 0 else q2((listed - gross_total) * HUNDRED / listed)
    return {
        "id": line["product_id"],
        "qty": line["qty"],
        "type_id": line["type_id"],
        "title": line["title"],
        "reference": line["reference"],
        "text": line["text"],
        "serial": line["serial"],
        "reference_document": line["ref_number"],
        "stock_control": line["stock_control"],
        "amounts": {
            "net_unit": money(net_of(price, rate)),
            "net_total": money(net_of(gross_total, rate)),
            "gross_unit": money(price),
            "gross_total": money(gross_total),
        },
        "discounts": {
            "amount": line["discount_amount"],
            "percentage": line["discount_percentage"],
            "calculated_percentage": money(calculated),
        },
        "tax": {
            "id": line["tax_id"],
            "country": line["country"],
            "rate": _num(rate),
            "exemption": line["exemption"],
            "exemption_law": line["exemption_law"],
        },
        "category_id": line["category_id"],
        "brand_id": line["brand_id"],
        "qty_nc": line["qty_nc"],
    }


def _num(rate: Decimal) -> int | float:
    return int(rate) if rate == rate.to_integral_value() else float(rate)


def detail(account: Account, doc: dict, assumptions, today: str, output: str | None = None) -> dict:
    total, paid, unpaid = debt(doc)
    sign = assumptions.nc_amount_sign
    related = [account.docs[i] for i in doc["related"]]
    return {
        "id": doc["id"],
        "type": doc["type"],
        "subtype": doc["subtype"],
        "number": doc["number"],
        "date": doc["date"],
        "date_supply": doc["date_supply"],
        "date_due": doc["date_due"],
        "system_time": doc["system_time"],
        "local_time": doc["local_time"],
        "amount_gross": _signed(doc, doc["amount_gross"], sign),
        "amount_net": _signed(doc, doc["amount_net"], sign),
        "observations": doc["notes"],
        "external_reference": doc["external_reference"],
        "has_travel_tax_free": 0,
        "store_id": doc["store_id"],
        "register_id": doc["register_id"],
        "user_id": doc["user_id"],
        "taxes": [dict(tax) for tax in doc["taxes"]],
        "discounts": dict(doc["discounts"]),
        "payments": [dict(payment) for payment in doc["payments"]],
        "client": dict(doc["client"]) if doc["client"] else None,
        "items": [_item(line) for line in doc["items"]],
        "status": {"id": doc["status"], "date": doc["status_date"], "user_id": doc["user_id"]},
        "debt": {"total": money(total), "paid": money(paid), "unpaid": money(unpaid)},
        "payment_status": payment_status(doc, today),
        "related_docs": [
            {
                "id": r["id"],
                "type": r["type"],
                "number": r["number"],
                "amount": _signed(r, r["amount_gross"], sign),
                "status": r["status"],
            }
            for r in related
        ],
        "hash": doc["hash"],
        "atcud": doc["atcud"],
        "tax_authority_id": doc["tax_authority_id"],
        "qrcode": "",
        "qrcode_data": qrcode_data(account, doc),
        **render_output(doc, output),
    }
