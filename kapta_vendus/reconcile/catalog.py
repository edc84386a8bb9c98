"""Clients and products in a historical import: read through and summarised, not mirrored.

Nothing here is stored (there is no local client or product table; the mapping names Vendus
products by id). What an operator needs from them is the summary: how many there are, which
products cannot be matched by reference, and which mapping entries point at products Vendus
does not have. Rows are streamed, so memory does not grow with the catalogue.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kapta_vendus.reconcile.tenant import Tenant
from kapta_vendus.vendus import VendusClient

PER_PAGE = 1000


@dataclass
class CatalogReport:
    resource: str
    seen: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"resource": self.resource, "seen": self.seen, "counts": dict(self.counts),
                "unmapped": dict(self.unmapped)}


def scan_clients(client: VendusClient) -> CatalogReport:
    report = CatalogReport("clients")
    for row in client.list_clients(per_page=PER_PAGE):
        report.seen += 1
        report.counts["with a fiscal id" if str(row.get("fiscal_id") or "").strip() else "without a fiscal id"] += 1
        report.counts[f"status {row.get('status') or '?'}"] += 1
    return report


def scan_products(client: VendusClient, tenant: Tenant) -> CatalogReport:
    report = CatalogReport("products")
    mapped = dict(tenant.mapping.products) if tenant.mapping else {}
    wanted = {product_id: reference for reference, product_id in mapped.items()}
    known_references = set(mapped)
    for row in client.list_products(per_page=PER_PAGE, status="all"):
        report.seen += 1
        wanted.pop(int(row.get("id") or 0), None)
        reference = str(row.get("reference") or "").strip()
        if not reference:
            report.unmapped["products without a reference (a POS line cannot name them)"] += 1
        elif reference not in known_references:
            report.counts["not in the mapping (POS lines with this reference go by title and price)"] += 1
        else:
            report.counts["in the mapping"] += 1
    for product_id, reference in sorted(wanted.items()):
        report.unmapped[f"mapping products.{reference} names product {product_id}, which Vendus does not have"] += 1
    return report
