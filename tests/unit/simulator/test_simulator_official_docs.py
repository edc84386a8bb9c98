"""The simulator against the official docs (vendus-api.md): payments, dates, lines, clients, tx_id, RG.

Each test names the reference section it checks; deviations are assumptions with a switch
(docs/simulator.md, "Assumptions and their switches").
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from simulator_testkit import CAFE, TODAY, error_code

ISLAND_SUMO = {"reference": "SUMO", "qty": 3, "discount_percentage": "10",
               "tax_custom": {"country": "PT-MA", "rate": 22, "code": "NOR", "type": "IVA"}}  # fmt: skip


@pytest.mark.parametrize("doc_type", ["FT", "FR", "FS"])
def test_a_payment_without_amount_pays_the_computed_total(api, doc_type):
    """§3.3: a missing payments[].amount means the computed total (here with a discount and tax_custom)."""
    created = api.create(type=doc_type, items=[ISLAND_SUMO, CAFE], payments=[{"id": api.card}])
    detail = api.doc(created["id"])
    # 3 x 3.50 x 0.9 = 9.45, plus 0.80
    assert detail["amount_gross"] == "10.25"
    assert detail["payments"] == [{"id": api.card, "title": "Cartão de Débito", "amount": "10.25", "change": "0.00"}]
    assert detail["debt"] == {"total": "10.25", "paid": "10.25", "unpaid": "0.00"}


def test_only_an_ft_gets_an_automatic_receipt(api, state):
    """§7.2: an FT created with payments gets an automatic RG; FR and FS are receipts themselves."""
    ft = api.doc(api.invoice(payments=[{"id": api.cash}])["id"])
    assert [r["type"] for r in ft["related_docs"]] == ["RG"]
    fr = api.doc(api.create(type="FR", items=[CAFE], payments=[{"id": api.cash}])["id"])
    assert fr["related_docs"] == [] and fr["payment_status"] == "paid"
    state.assumptions.auto_rg_types = ["FT", "FR"]  # the old reading, as a switch
    fr = api.doc(api.create(type="FR", items=[CAFE], payments=[{"id": api.cash}])["id"])
    assert [r["type"] for r in fr["related_docs"]] == ["RG"] and fr["debt"]["paid"] == "0.80"


def test_a_receipt_shows_the_net_of_what_it_pays(api, state):
    """An RG's gross is the amount paid; its net is the paid invoices' net in proportion (docs/simulator.md)."""
    invoice = api.invoice({"reference": "SUMO", "qty": 1}, {"reference": "CAFE", "qty": 1})  # 4.30, net 3.60
    assert api.doc(invoice["id"])["amount_net"] == "3.60"  # 3.50/1.23 = 2.85 + 0.80/1.06 = 0.75
    whole = api.create(type="RG", payments=[{"id": api.card}], invoices=[{"document_number": invoice["number"]}])
    assert (whole["amount_gross"], whole["amount_net"]) == ("4.30", "3.60")
    other = api.invoice({"reference": "SUMO", "qty": 2})  # 7.00, net 5.69
    part = api.create(
        type="RG", payments=[{"id": api.card, "amount": "3.50"}], invoices=[{"document_number": other["number"]}]
    )
    assert (part["amount_gross"], part["amount_net"]) == ("3.50", "2.85")  # 5.69 x 3.50 / 7.00 = 2.845
    automatic = api.doc(api.invoice(payments=[{"id": api.cash}])["id"])["related_docs"][0]
    rg = api.doc(automatic["id"])
    assert (rg["amount_gross"], rg["amount_net"]) == ("2.90", "2.66")
    state.assumptions.rg_net = "gross"
    third = api.invoice()
    gross_rg = api.create(type="RG", payments=[{"id": api.card}], invoices=[{"document_number": third["number"]}])
    assert gross_rg["amount_net"] == "2.90"


def test_amount_net_is_the_sum_of_the_line_nets(api, state):
    """§4 / pt-invoicing-rules §5: NetTotal = the sum of the lines; taxes[] agree with it."""
    items = [{"reference": "CAFE", "qty": 1}] * 3  # 0.80 / 1.06 = 0.7547 -> 0.75 each
    detail = api.doc(api.create(items=items)["id"])
    assert [i["amounts"]["net_total"] for i in detail["items"]] == ["0.75"] * 3
    assert detail["amount_net"] == "2.25"
    assert detail["taxes"] == [{"rate": 6, "base": "2.25", "amount": "0.15", "total": "2.40"}]
    state.assumptions.tax_rounding = "per_rate"  # 2.40 / 1.06 = 2.264 -> 2.26
    assert api.create(items=items)["amount_net"] == "2.26"


def test_repeated_tx_id_respects_the_mode(api):
    """§7.6 + §7.7: tx_id names one document, and tests-mode documents are a separate space."""
    real = api.invoice(tx_id="sale-1")
    test = api.invoice(tx_id="sale-1", mode="tests")
    assert test["id"] != real["id"] and test["number"].startswith("FT T")
    assert api.invoice(tx_id="sale-1")["id"] == real["id"]
    assert api.invoice(tx_id="sale-1", mode="tests")["id"] == test["id"]
    # the tests register issues in tests mode when mode is left out, so it finds the test document
    assert api.invoice(tx_id="sale-1", register_id=api.register("tests"))["id"] == test["id"]


def test_date_supply_defaults_to_date_may_be_earlier_never_later(api):
    """§3.3 / pt-invoicing-rules §3: date_supply defaults to date, may be earlier, never after it."""
    plain = api.invoice()
    assert (plain["date"], plain["date_supply"]) == (TODAY, TODAY)
    late = api.invoice(date_supply="2026-03-06")
    detail = api.doc(late["id"])
    assert (detail["date"], detail["date_supply"]) == (TODAY, "2026-03-06")
    row = next(r for r in api.get("documents/").get_json() if r["id"] == late["id"])
    assert row["date_supply"] == "2026-03-06"
    response = api.post("documents/", {"items": [CAFE], "date": "2026-03-10", "date_supply": "2026-03-11"})
    assert response.status_code == 403 and error_code(response) == "P001"
    assert "date_supply" in response.get_json()["errors"][0]["message"]
    assert api.refused(items=[CAFE], date_supply="10/03/2026") == "P001"


def test_date_rules_quote_both_dates(api):
    """§7.10: not after today, not before the latest document of the series (A001 quoting both dates)."""
    future = api.post("documents/", {"items": [CAFE], "date": "2026-03-11"})
    assert future.status_code == 403 and error_code(future) == "A001"
    api.invoice()
    earlier = api.post("documents/", {"items": [CAFE], "date": "2026-03-09"})
    message = earlier.get_json()["errors"][0]["message"]
    assert earlier.status_code == 403 and error_code(earlier) == "A001"
    assert "2026-03-09" in message and TODAY in message
    # the way out for a late sale: today's date with the sale's day as date_supply
    assert api.invoice(date_supply="2026-03-09")["date_supply"] == "2026-03-09"


def test_item_type_id_is_stored_and_shown(api):
    """§3.4 / §5.3: type_id P, S, O, I, E (default P, or the product's); shown in the detail (§4.2)."""
    items = [
        {"reference": "CAFE", "qty": 1},
        {"reference": "ENTREGA", "title": "Entrega", "gross_price": "5", "qty": 1, "type_id": "S"},
        {"reference": "TAXA", "title": "Taxa", "gross_price": "1", "qty": 1, "type_id": "I"},
    ]
    detail = api.doc(api.create(items=items)["id"])
    assert [i["type_id"] for i in detail["items"]] == ["P", "S", "I"]
    assert api.get("products/", reference="ENTREGA").get_json()[0]["type_id"] == "S"
    assert api.refused(items=[{**CAFE, "type_id": "X"}]) == "P001"


def test_a_client_without_nif_but_with_a_name_is_created_and_shown_whole(api):
    """§3.3 / §7.8: full data creates a client; §4.2: the detail shows its fields."""
    client = {"name": "João Silva", "address": "Rua das Flores 1", "postalcode": "4050-262", "city": "Porto",
              "email": "joao@example.com", "country": "PT"}  # fmt: skip
    before = len(api.account.clients)
    detail = api.doc(api.create(type="FR", items=[CAFE], payments=[{"id": api.cash}], client=client)["id"])
    assert len(api.account.clients) == before + 1
    shown = detail["client"]
    assert {k: shown[k] for k in client} == client
    assert shown["fiscal_id"] == "" and shown["id"] in api.account.clients and shown["country_name"] == "Portugal"
    listed = api.get("clients/", name="João Silva").get_json()
    assert listed[0]["postalcode"] == "4050-262"


def test_the_generic_consumer_nif_is_refused(api):
    """§7.1: never send NIF 999999990 (leave the client out)."""
    assert api.refused(items=[CAFE], client={"fiscal_id": "999999990", "name": "Consumidor final"}) == "P001"


def test_a_company_fs_above_100_is_not_an_api_refusal(api):
    """CIVA 40 limits are the integration's legal duty (pt-invoicing-rules §3); the reference names no
    Vendus refusal for them, so the simulator issues the FS (see docs/simulator.md)."""
    big = {"reference": "SERV", "title": "Serviço", "gross_price": "800", "qty": 1, "type_id": "S"}
    fs = api.create(type="FS", items=[big], payments=[{"id": api.card}], client={"fiscal_id": "501964843"})
    assert Decimal(fs["amount_gross"]) == Decimal("800.00")
