"""Contract: the production client sends what the official docs allow and reads back what they show.

Payments without amount (§3.3), FT-only automatic receipts (§7.2), RG net and gross, date_supply
(§3.3, §7.10), item type_id (§3.4, §4.2), full client data without a NIF (§3.3, §7.8), tx_id per
mode (§7.6, §7.7) and the net as the sum of the lines (§4).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from contract_kit import TODAY, related

from kapta_vendus.vendus import VendusRejected

ISLAND = {"country": "PT-MA", "rate": Decimal("22"), "code": "NOR", "type": "IVA"}
SERVICE = {"reference": "JANTAR", "title": "Jantar", "gross_price": Decimal("150.00"), "qty": 1, "type_id": "S"}


def test_an_fr_without_payment_amount_is_paid_with_the_computed_total(shop):
    items = [{**SERVICE, "discount_percentage": Decimal("10"), "tax_custom": ISLAND}, {"reference": "CAFE", "qty": 3}]
    fr = shop.sale("FR", items=items, payments=[{"id": shop.card}])
    detail = shop.client.get_document(fr["id"])
    assert detail["amount_gross"] == Decimal("137.40")  # 150 x 0.9 + 3 x 0.80
    assert detail["payments"][0]["amount"] == Decimal("137.40")
    assert detail["debt"]["unpaid"] == Decimal("0.00") and detail["related_docs"] == []
    assert detail["amount_net"] == sum(i["amounts"]["net_total"] for i in detail["items"])
    assert [(i["type_id"], i["tax"]["country"], i["tax"]["rate"]) for i in detail["items"]] == [
        ("S", "PT-MA", 22), ("P", "PT", 6)
    ]  # fmt: skip


def test_an_ft_paid_at_issue_gets_one_receipt_with_the_invoices_net(shop):
    ft = shop.sale(payments=[{"id": shop.cash}])
    detail = shop.client.get_document(ft["id"])
    (rg_id,) = related(detail)["RG"]
    receipt = shop.client.get_document(rg_id)
    assert (receipt["amount_gross"], receipt["amount_net"]) == (detail["amount_gross"], detail["amount_net"])


def test_date_supply_travels_both_ways(shop):
    late = shop.sale(date_supply=date(2026, 3, 6))
    assert (late["date"], late["date_supply"]) == (TODAY, "2026-03-06")
    assert shop.client.get_document(late["id"])["date_supply"] == "2026-03-06"
    with pytest.raises(VendusRejected) as after:
        shop.sale(date_supply=date(2026, 3, 11))
    assert after.value.status == 403 and after.value.code == "P001"
    with pytest.raises(VendusRejected) as earlier:
        shop.sale(date=date(2026, 3, 9))
    assert earlier.value.code == "A001" and "2026-03-09" in earlier.value.message and TODAY in earlier.value.message


def test_a_named_client_without_nif_is_created_and_shown(shop):
    client = {"name": "João Silva", "address": "Rua das Flores 1", "postalcode": "4050-262", "city": "Porto",
              "email": "joao@example.com", "country": "PT"}  # fmt: skip
    fr = shop.sale("FR", items=[SERVICE], payments=[{"id": shop.cash}], client=client)
    shown = shop.client.get_document(fr["id"])["client"]
    assert {k: shown[k] for k in client} == client and shown["fiscal_id"] == ""
    assert [c["name"] for c in shop.client.list_clients(name="João Silva")] == ["João Silva"]
    with pytest.raises(VendusRejected):
        shop.sale(client={"fiscal_id": "999999990", "name": "Consumidor final"})


def test_the_same_tx_id_in_tests_mode_is_another_document(shop):
    real = shop.sale(tx_id="sale-9")
    test = shop.sale(tx_id="sale-9", mode="tests")
    assert real["id"] != test["id"] and test["number"].startswith("FT T")
    assert shop.sale(tx_id="sale-9")["id"] == real["id"]
    assert shop.sale(tx_id="sale-9", mode="tests")["id"] == test["id"]
    assert [r["id"] for r in shop.client.list_documents()] == [real["id"]]
    assert [r["id"] for r in shop.client.list_documents(mode="tests")] == [test["id"]]


def test_an_item_needs_an_id_or_a_reference(shop):
    with pytest.raises(VendusRejected) as caught:
        shop.sale(items=[{"title": "Avulso", "gross_price": Decimal("5.00"), "qty": 1}])
    assert caught.value.status == 403 and caught.value.code == "P001"
    created = shop.sale(items=[SERVICE])
    product = next(iter(shop.client.list_products(reference="JANTAR")))
    assert product["title"] == "Jantar" and product["type_id"] == "S"
    assert shop.client.get_document(created["id"])["items"][0]["id"] == product["id"]


def test_a_credit_note_item_names_the_original_lines_product(shop):
    """§3.4: id or reference is always required, also on an NC item (§7.4: the original line's)."""
    ft = shop.sale()
    bare = {"reference_document": {"document_number": ft["number"], "document_row": 1}, "qty": 1}
    with pytest.raises(VendusRejected) as caught:
        shop.client.create_document({"type": "NC", "register_id": shop.register, "notes": "x", "items": [bare]})
    assert caught.value.status == 403 and caught.value.code == "P001"
    nc = shop.client.create_document(
        {"type": "NC", "register_id": shop.register, "notes": "x", "items": [{**bare, "reference": "CAFE"}]}
    )
    assert shop.client.get_document(nc["id"])["amount_gross"] == Decimal("0.80")
