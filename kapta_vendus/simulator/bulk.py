"""Fast in-process seeding: N documents without N HTTP requests (benchmarks, large-list tests).

Documents go through the same numbering, date rules, signature chain and indexes as API-created
ones, but share a single priced set of lines, taxes and client snapshot (lines are immutable
values, so sharing is safe; a credit note copies before it changes a line).
"""

from __future__ import annotations

from datetime import date as date_cls
from datetime import timedelta

from .accounts import Account
from .catalog import resolve_document_client, snapshot
from .documents import resolve_register
from .issuing import check_date, issue, series_name
from .lines import sale_lines, summarize
from .money import money
from .payments import link_receipt
from .receipts import receipt_draft

BULK_TYPES = frozenset({"FT", "FS", "FR", "PF", "OT", "EC", "DC"})
DEFAULT_ITEMS = [{"reference": "ARTIGO", "title": "Artigo", "gross_price": "10.00", "qty": "1", "tax_id": "NOR"}]


def _dates(start: str, end: str, n: int) -> list[str]:
    """``n`` non-decreasing dates spread evenly from start to end (both inclusive)."""
    first = date_cls.fromisoformat(start)
    span = (date_cls.fromisoformat(end) - first).days + 1
    cache: dict[int, str] = {}
    result = []
    for i in range(n):
        offset = i * span // n
        if offset not in cache:
            cache[offset] = (first + timedelta(days=offset)).isoformat()
        result.append(cache[offset])
    return result


def bulk_create(
    ctx,
    account: Account,
    n: int,
    *,
    start_date: str | None = None,
    end_date: str | None = None,
    doc_type: str = "FT",
    mode: str | None = None,
    register_id: int | None = None,
    items: list[dict] | None = None,
    client: dict | None = None,
    paid: bool = False,
    payment_method_id: int | None = None,
    external_reference_prefix: str | None = None,
) -> list[int]:
    """Create ``n`` documents dated from ``start_date`` to ``end_date`` (default: today). Returns their ids.

    ``paid=True`` (always for FS/FR) pays each one in full with an automatic RG, like ``payments``
    on POST documents/ would; ``payment_method_id`` defaults to the account's first method.
    """
    a = ctx.assumptions
    if doc_type not in BULK_TYPES:
        raise ValueError(f"bulk creation supports {sorted(BULK_TYPES)}")
    register = resolve_register(account, register_id, "first")
    mode = mode or register["mode"]
    today = account.today(ctx.clock.now())
    end = end_date or today
    start = start_date or end
    if end > today or start > end:
        raise ValueError("need start_date <= end_date <= today")
    lines, new_products = sale_lines(account, items or DEFAULT_ITEMS, date=start, assumptions=a)
    existing, new_client = resolve_document_client(account, client)
    for line, spec in new_products:
        line["product_id"] = ctx.new_product(account, spec)["id"]
    if new_client is not None:
        existing = ctx.new_client(account, new_client, today)
    client_snapshot = snapshot(existing)
    gross, net, taxes = summarize(lines, a.tax_rounding)
    pay = (paid or doc_type in a.require_payments_types) and gross > 0 and doc_type in {"FT", "FS", "FR"}
    entries = []
    if pay:
        method_id = payment_method_id or next(iter(account.payment_methods))
        method = account.payment_methods[method_id]
        entries = [{"id": method_id, "title": method["title"], "amount": money(gross), "change": "0.00"}]
    shared = {
        "subtype": "",
        "mode": mode,
        "notes": "",
        "store_id": register["store_id"],
        "register_id": register["id"],
        "user_id": account.info.get("user_id"),
        "client": client_snapshot,
        "items": lines,
        "taxes": taxes,
        "discounts": {"amount": "0.00", "percentage": "0.00", "total": "0.00"},
        "payments": entries,
        "status": "N",
        "paid": "0.00",
        "allocations": (),
        "tax_authority_id": "",
        "tx_id": None,
        "amount_gross": money(gross),
        "amount_net": money(net),
        "type": doc_type,
    }
    series_of: dict[tuple[str, str], str] = {}
    ids = []
    for i, date in enumerate(_dates(start, end, n)):
        year_key = (doc_type, date[:4])
        if year_key not in series_of:
            series_of[year_key] = series_name(a.series_format, register, mode, date)
            check_date(account, mode, doc_type, series_of[year_key], date, today)
            if pay and doc_type in a.auto_rg_types:
                check_date(account, mode, "RG", series_name(a.series_format, register, mode, date), date, today)
        stamp = f"{date} 12:00:00"
        doc = {
            **shared,
            "series": series_of[year_key],
            "date": date,
            "date_supply": date,
            "date_due": date,
            "system_time": stamp,
            "local_time": stamp,
            "status_date": stamp,
            "related": (),
            "external_reference": f"{external_reference_prefix}{i + 1}" if external_reference_prefix else "",
        }
        issue(account, doc, ctx.next_id("document"))
        ids.append(doc["id"])
        if pay and doc_type in a.auto_rg_types:
            series = series_name(a.series_format, register, mode, date)
            receipt = receipt_draft(doc, series, entries, [(doc, gross)], a.rg_net)
            rg = issue(account, receipt, ctx.next_id("document"))
            link_receipt(rg, [(doc, gross)])
            ctx.touch(account, "document", rg)
        elif pay:
            doc["paid"] = money(gross)  # FR/FS are paid at issue, without a separate RG
        ctx.touch(account, "document", doc)
    return ids
