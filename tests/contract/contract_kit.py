"""Helpers for the contract suite: the real client against the simulator over real HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests

from kapta_vendus.vendus import VendusClient
from kapta_vendus.vendus.money import MONEY_KEYS

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
TODAY = "2026-03-10"
YEAR = "2026"
KEY_A, KEY_B = "contract-key-a", "contract-key-b"
# 2 cafés (0.80, RED) + 1 pastel de nata (1.30, INT) = 2.90
CAFE_AND_PASTEL = [{"reference": "CAFE", "qty": 2}, {"reference": "PASTEL", "qty": 1}]
SALE_TOTAL = Decimal("2.90")

# The 201 answer of POST documents/ (reference §4.3): nothing else, and above all no client/items/payments.
SHORT_SHAPE = frozenset(
    {
        "id",
        "type",
        "subtype",
        "tax_authority_id",
        "number",
        "date",
        "date_supply",
        "system_time",
        "local_time",
        "amount_gross",
        "amount_net",
        "hash",
        "atcud",
        "output",
        "output_data",
        "qrcode",
        "qrcode_data",
    }
)
# GET documents/{id} (reference §4.2): the fields every document carries.
DETAIL_FIELDS = frozenset(
    {
        "id",
        "type",
        "subtype",
        "number",
        "date",
        "date_supply",
        "date_due",
        "system_time",
        "local_time",
        "amount_gross",
        "amount_net",
        "observations",
        "external_reference",
        "store_id",
        "register_id",
        "user_id",
        "taxes",
        "discounts",
        "payments",
        "client",
        "items",
        "status",
        "debt",
        "related_docs",
        "hash",
        "atcud",
        "tax_authority_id",
        "qrcode",
        "qrcode_data",
    }
)
# GET documents/ rows (reference §4.1).
ROW_FIELDS = frozenset(
    {
        "id",
        "number",
        "date",
        "store_id",
        "register_id",
        "date_due",
        "date_supply",
        "system_time",
        "local_time",
        "amount_gross",
        "amount_net",
        "type",
        "subtype",
        "tax_authority_id",
        "status",
        "total_unpaid",
        "payment_status",
        "external_reference",
    }
)
# Money keys whose values are always amounts in the shapes above (``change`` is also a 0/1 flag
# on payment methods, so it is only checked where it is an amount).
_AMOUNT_KEYS = MONEY_KEYS - {"change"}


class Shop:
    """One account seen only through the client: ids are discovered through the API, as in production."""

    def __init__(self, client: VendusClient):
        self.client = client
        methods = {m["title"]: m["id"] for m in client.list_payment_methods()}
        self.cash = methods["Dinheiro"]
        self.card = methods["Cartão de Débito"]
        registers = client.list_registers()
        self.register = next(r["id"] for r in registers if r["mode"] == "normal")
        self.test_register = next(r["id"] for r in registers if r["mode"] == "tests")
        self.store = next(r["store_id"] for r in registers if r["id"] == self.register)

    def sale(self, doc_type: str = "FT", items: list | None = None, **body: Any) -> dict:
        payload = {"type": doc_type, "register_id": self.register, "items": items or CAFE_AND_PASTEL, **body}
        return self.client.create_document(payload)

    def paid_sale(self, doc_type: str = "FR", items: list | None = None, **body: Any) -> dict:
        body.setdefault("payments", [{"id": self.cash}])
        return self.sale(doc_type, items, **body)

    def receipt(self, invoices: Iterable[dict], amount: Decimal | None = None, **body: Any) -> dict:
        payment: dict[str, Any] = {"id": self.card}
        if amount is not None:
            payment["amount"] = amount
        payload = {
            "type": "RG",
            "register_id": self.register,
            "payments": [payment],
            "invoices": [{"document_number": doc["number"]} for doc in invoices],
            **body,
        }
        return self.client.create_document(payload)

    def credit(self, invoice: dict, rows: list[tuple[int, Any]], notes: str | None = "Devolução", **body: Any) -> dict:
        """An NC for rows of ``invoice``; each item names the original line's product (§3.4, §7.4)."""
        mode = "tests" if invoice["number"].split(" ")[-1].startswith("T") else None
        lines = self.client.get_document(invoice["id"], mode=mode)["items"]
        payload: dict[str, Any] = {
            "type": "NC",
            "register_id": self.register,
            "items": [
                {
                    "reference_document": {"document_number": invoice["number"], "document_row": row},
                    "reference": lines[row - 1]["reference"] if 1 <= row <= len(lines) else "CAFE",
                    "qty": qty,
                }
                for row, qty in rows
            ],
            **body,
        }
        if notes is not None:
            payload["notes"] = notes
        return self.client.create_document(payload)


# -- control endpoints over HTTP ----------------------------------------------------------------


def sim_stats(sim) -> dict:
    response = requests.get(f"{sim.root_url}/_sim/stats", timeout=5)
    response.raise_for_status()
    return response.json()


def route_count(sim, route: str, account_key: str = KEY_A) -> int:
    """How many requests the emulated API saw for ``route`` ("GET documents") from that account."""
    account_id = str(sim.state.accounts[account_key].id)
    return sim_stats(sim)["accounts"].get(account_id, {}).get("by_route", {}).get(route, 0)


def set_faults(sim, config: dict) -> dict:
    response = requests.post(f"{sim.root_url}/_sim/faults", json=config, timeout=5)
    response.raise_for_status()
    return response.json()


def reset_sim(sim) -> None:
    requests.post(f"{sim.root_url}/_sim/reset", timeout=5).raise_for_status()


# -- assertions -------------------------------------------------------------------------------------


def assert_money_is_decimal(tree: Any, path: str = "$") -> int:
    """Every amount in a client result is a Decimal (never str, float or int); returns how many were seen."""
    seen = 0
    if isinstance(tree, dict):
        for key, value in tree.items():
            here = f"{path}.{key}"
            if key in _AMOUNT_KEYS and value is not None and not isinstance(value, (dict, list)):
                assert isinstance(value, Decimal), f"{here} = {value!r} is not a Decimal"
                seen += 1
            seen += assert_money_is_decimal(value, here)
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            seen += assert_money_is_decimal(value, f"{path}[{index}]")
    else:
        assert not isinstance(tree, float), f"{path} is a float: {tree!r}"
    return seen


def number_of(doc_type: str, n: int, *, series: str = "01", year: str = YEAR, tests: bool = False) -> str:
    return f"{doc_type} {'T' if tests else ''}{series}P{year}/{n}"


def related(detail: dict) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for entry in detail["related_docs"]:
        out.setdefault(entry["type"], []).append(entry["id"])
    return out
