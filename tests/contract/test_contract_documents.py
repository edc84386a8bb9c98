"""Contract: creating, reading and cancelling documents with the real client (reference §3-§5, §7)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
import requests
from contract_kit import (
    CAFE_AND_PASTEL,
    DETAIL_FIELDS,
    KEY_A,
    NOW,
    ROW_FIELDS,
    SALE_TOTAL,
    SHORT_SHAPE,
    TODAY,
    assert_money_is_decimal,
    number_of,
    related,
    route_count,
)

from kapta_vendus.simulator import SimClock, SimulatorState, run_in_thread
from kapta_vendus.vendus import VendusClient, VendusNotFound, VendusPayloadError, VendusRejected

P001_PREFIX = "Parâmetro inválido ou mal preenchido"
LIVRO_EXEMPT = {"reference": "LIVRO2", "title": "Livro", "gross_price": Decimal("10.00"), "qty": 1, "tax_id": "ISE"}


def _create_every_type(shop) -> dict[str, dict]:
    created = {"FT": shop.sale("FT"), "FS": shop.paid_sale("FS"), "FR": shop.paid_sale("FR")}
    created["NC"] = shop.credit(created["FT"], [(1, 1)])
    created["RG"] = shop.receipt([created["FT"]])
    for doc_type in ("PF", "OT", "EC", "DC"):
        created[doc_type] = shop.sale(doc_type)
    return created


def test_every_type_is_created_with_the_short_shape(shop):
    created = _create_every_type(shop)
    for doc_type, doc in created.items():
        assert set(doc) == SHORT_SHAPE, doc_type
        assert doc["type"] == doc_type
        # FS and FR are receipts themselves (§7.2): the explicit RG is the first of its sequence
        assert doc["number"] == number_of(doc_type, 1), doc
        assert doc["date"] == TODAY
        assert doc["tax_authority_id"] == ""
        assert re.fullmatch(r".{4}", doc["hash"])
        assert doc["atcud"].endswith("-" + doc["number"].rsplit("/", 1)[1])
        assert isinstance(doc["amount_gross"], Decimal) and isinstance(doc["amount_net"], Decimal)
    assert created["FT"]["amount_gross"] == SALE_TOTAL
    assert created["NC"]["amount_gross"] == Decimal("0.80")  # one café credited, shown positive
    assert created["RG"]["amount_gross"] == SALE_TOTAL  # the credit note left the FT's debt alone


def test_every_type_reads_back_in_the_detail_shape(shop):
    created = _create_every_type(shop)
    for doc_type, short in created.items():
        detail = shop.client.get_document(short["id"])
        assert set(detail) >= DETAIL_FIELDS, doc_type
        assert detail["number"] == short["number"]
        assert isinstance(detail["status"], dict) and detail["status"]["id"] == "N"
        assert set(detail["debt"]) == {"total", "paid", "unpaid"}
        assert isinstance(detail["related_docs"], list)
        for item in detail["items"]:
            assert set(item["amounts"]) == {"net_unit", "net_total", "gross_unit", "gross_total"}
            assert {"id", "qty", "title", "reference", "tax", "discounts", "qty_nc"} <= set(item)
        assert assert_money_is_decimal(detail) > 0
    assert created["RG"]["id"] in related(shop.client.get_document(created["FT"]["id"]))["RG"]
    assert shop.client.get_document(created["RG"]["id"])["items"] == []


def test_detail_amounts_are_decimal_and_consistent(shop):
    ft = shop.sale(client={"fiscal_id": "123456789"})
    detail = shop.client.get_document(ft["id"])
    assert detail["amount_gross"] == SALE_TOTAL
    assert sum(t["total"] for t in detail["taxes"]) == detail["amount_gross"]
    assert sum(t["base"] for t in detail["taxes"]) == detail["amount_net"]
    assert sum(i["amounts"]["gross_total"] for i in detail["items"]) == detail["amount_gross"]
    assert {t["rate"] for t in detail["taxes"]} == {6, 13}
    assert detail["items"][0]["qty"] == Decimal(2) and isinstance(detail["items"][0]["qty"], Decimal)
    assert detail["client"]["fiscal_id"] == "123456789"
    assert detail["debt"] == {"total": SALE_TOTAL, "paid": Decimal("0.00"), "unpaid": SALE_TOTAL}
    assert detail["payment_status"] == "pending"
    assert_money_is_decimal(detail)


def test_list_rows_have_the_row_shape_with_a_string_status(shop):
    _create_every_type(shop)
    rows = list(shop.client.list_documents())
    assert len(rows) == 9  # FS and FR make no automatic receipt (§7.2)
    for row in rows:
        assert set(row) >= ROW_FIELDS
        assert isinstance(row["status"], str)
        assert not {"items", "payments", "taxes"} & set(row)
        assert row["payment_status"] in ("pending", "expired", "paid")
    assert_money_is_decimal(rows)


def test_numbering_is_gapless_per_mode_type_series_and_year(shop, sim):
    last_year = shop.sale(date=date(2025, 12, 31))
    ft = [shop.sale() for _ in range(3)]
    fr = [shop.paid_sale("FR") for _ in range(2)]
    other_series = shop.sale(register_id=shop.test_register, mode="normal")
    tests = [shop.sale(mode="tests") for _ in range(2)]
    assert last_year["number"] == number_of("FT", 1, year="2025")
    assert [d["number"] for d in ft] == [number_of("FT", n) for n in (1, 2, 3)]
    assert [d["number"] for d in fr] == [number_of("FR", n) for n in (1, 2)]
    assert other_series["number"] == number_of("FT", 1, series="02")
    assert [d["number"] for d in tests] == [number_of("FT", n, tests=True) for n in (1, 2)]
    # A paid FT's automatic receipt counts in the RG sequence, which FT numbering never sees.
    paid_ft = shop.sale(payments=[{"id": shop.cash}])
    assert paid_ft["number"] == number_of("FT", 4)
    rg_numbers = sorted(r["number"] for r in shop.client.list_documents(type="RG"))
    assert rg_numbers == [number_of("RG", 1)]
    # A refused request uses no number.
    with pytest.raises(VendusRejected):
        shop.sale(items=[{"reference": "CAFE", "qty": 1, "tax_rate": 23}])
    assert shop.sale()["number"] == number_of("FT", 5)


def test_test_mode_has_its_own_space(shop):
    real = shop.sale()
    test = shop.sale(mode="tests")
    assert test["number"] == number_of("FT", 1, tests=True)
    assert real["number"] == number_of("FT", 1)
    with pytest.raises(VendusNotFound):
        shop.client.get_document(test["id"])
    assert shop.client.get_document(test["id"], mode="tests")["number"] == test["number"]
    with pytest.raises(VendusNotFound):
        shop.client.get_document(real["id"], mode="tests")
    assert [r["id"] for r in shop.client.list_documents()] == [real["id"]]
    assert [r["id"] for r in shop.client.list_documents(mode="tests")] == [test["id"]]
    # the tests register issues in tests mode when mode is left out (the register's mode applies)
    by_register = shop.sale(register_id=shop.test_register)
    assert by_register["number"] == number_of("FT", 1, series="02", tests=True)


def test_payments_create_an_automatic_receipt_linked_both_ways(shop):
    ft = shop.sale(payments=[{"id": shop.cash}])
    detail = shop.client.get_document(ft["id"])
    assert detail["debt"] == {"total": SALE_TOTAL, "paid": SALE_TOTAL, "unpaid": Decimal("0.00")}
    assert detail["payment_status"] == "paid"
    assert detail["payments"][0]["id"] == shop.cash and detail["payments"][0]["amount"] == SALE_TOTAL
    (rg_id,) = related(detail)["RG"]
    receipt = shop.client.get_document(rg_id)
    assert receipt["type"] == "RG" and receipt["number"] == number_of("RG", 1)
    assert receipt["amount_gross"] == SALE_TOTAL
    assert related(receipt)["FT"] == [ft["id"]]
    row = next(r for r in shop.client.list_documents(type="FT") if r["id"] == ft["id"])
    assert row["payment_status"] == "paid" and row["total_unpaid"] == Decimal("0.00")


def test_cash_overpayment_is_change_and_an_fr_needs_no_receipt(shop):
    """§7.2: the automatic RG is made for FT only; an FR is its own receipt, paid at issue."""
    fr = shop.paid_sale("FR", payments=[{"id": shop.cash, "amount": Decimal("5.00")}])
    detail = shop.client.get_document(fr["id"])
    assert detail["payments"][0]["change"] == Decimal("2.10")
    assert detail["debt"]["unpaid"] == Decimal("0.00") and detail["payment_status"] == "paid"
    assert detail["related_docs"] == []
    ft = shop.sale(payments=[{"id": shop.cash, "amount": Decimal("5.00")}])
    assert len(related(shop.client.get_document(ft["id"]))["RG"]) == 1


def test_fr_and_fs_without_payment_are_rejected(shop):
    for doc_type in ("FR", "FS"):
        with pytest.raises(VendusRejected) as caught:
            shop.sale(doc_type)
        assert caught.value.status == 403 and caught.value.code == "P001"


def test_a_receipt_pays_the_listed_invoices(shop):
    first = shop.sale()
    second = shop.sale(items=[{"reference": "PASTEL", "qty": 1}])
    assert shop.client.get_document(second["id"])["payment_status"] == "pending"
    partial = shop.receipt([first], amount=Decimal("1.00"))
    after_partial = shop.client.get_document(first["id"])
    assert after_partial["debt"]["paid"] == Decimal("1.00")
    assert after_partial["debt"]["unpaid"] == SALE_TOTAL - Decimal("1.00")
    assert after_partial["payment_status"] == "pending"
    both = shop.receipt([first, second])  # no amount: everything still owed
    assert both["amount_gross"] == SALE_TOTAL - Decimal("1.00") + Decimal("1.30")
    for invoice in (first, second):
        detail = shop.client.get_document(invoice["id"])
        assert detail["debt"]["unpaid"] == Decimal("0.00") and detail["payment_status"] == "paid"
        assert both["id"] in related(detail)["RG"]
    assert sorted(related(shop.client.get_document(both["id"]))["FT"]) == [first["id"], second["id"]]
    assert partial["id"] in related(shop.client.get_document(first["id"]))["RG"]
    # paying a settled invoice again is refused
    with pytest.raises(VendusRejected):
        shop.receipt([first], amount=Decimal("0.10"))


def test_credit_note_rules(shop):
    ft = shop.sale()
    with pytest.raises(VendusRejected) as no_notes:
        shop.credit(ft, [(1, 1)], notes=None)
    assert no_notes.value.code == "P001" and "notes" in no_notes.value.message
    with pytest.raises(VendusRejected) as no_reference:
        shop.client.create_document(
            {"type": "NC", "register_id": shop.register, "notes": "x", "items": [{"reference": "CAFE", "qty": 1}]}
        )
    assert no_reference.value.code == "P001"
    with pytest.raises(VendusRejected) as bad_row:
        shop.credit(ft, [(3, 1)])
    assert bad_row.value.code == "P001"
    with pytest.raises(VendusRejected) as too_much:
        shop.credit(ft, [(1, 3)])  # the row has 2 cafés
    assert too_much.value.code == "P001"
    with pytest.raises(VendusRejected) as top_level:
        shop.client.create_document(
            {
                "type": "NC",
                "register_id": shop.register,
                "notes": "x",
                "reference_document_id": ft["id"],
                "items": [
                    {
                        "reference_document": {"document_number": ft["number"], "document_row": 1},
                        "reference": "CAFE",
                        "qty": 1,
                    }
                ],
            }
        )
    assert top_level.value.code == "P001"

    nc = shop.credit(ft, [(1, 1)])
    assert nc["number"] == number_of("NC", 1)
    original = shop.client.get_document(ft["id"])
    assert original["items"][0]["qty_nc"] == Decimal(1)
    assert original["items"][1]["qty_nc"] == Decimal(1)
    assert nc["id"] in related(original)["NC"]
    note = shop.client.get_document(nc["id"])
    assert note["observations"] == "Devolução"
    assert note["items"][0]["reference_document"] == ft["number"]
    assert note["amount_gross"] == Decimal("0.80")
    # the rest of the row can still be credited, but not more than that
    with pytest.raises(VendusRejected):
        shop.credit(ft, [(1, 2)])
    shop.credit(ft, [(1, 1), (2, 1)])
    assert [i["qty_nc"] for i in shop.client.get_document(ft["id"])["items"]] == [Decimal(0), Decimal(0)]


def test_a_test_mode_credit_note_leaves_the_real_invoice_alone(shop):
    ft = shop.sale()
    nc = shop.credit(ft, [(1, 2)], mode="tests")
    assert nc["number"] == number_of("NC", 1, tests=True)
    assert shop.client.get_document(ft["id"])["items"][0]["qty_nc"] == Decimal(2)


def test_cancel_a_receipt_but_never_an_invoice_or_credit_note(shop):
    ft = shop.sale()
    fr = shop.paid_sale("FR")
    nc = shop.credit(fr, [(2, 1)])
    rg = shop.receipt([ft])
    assert shop.client.get_document(ft["id"])["payment_status"] == "paid"
    assert shop.client.cancel_document(rg["id"]) == {"id": rg["id"], "status": "A"}
    cancelled = shop.client.get_document(rg["id"])
    assert cancelled["status"]["id"] == "A"
    invoice = shop.client.get_document(ft["id"])
    assert invoice["debt"]["unpaid"] == SALE_TOTAL and invoice["payment_status"] == "pending"
    assert [r["status"] for r in invoice["related_docs"]] == ["A"]
    for doc in (ft, fr, nc):
        with pytest.raises(VendusRejected) as caught:
            shop.client.cancel_document(doc["id"])
        assert caught.value.status == 403 and caught.value.code == "P001"
        assert shop.client.get_document(doc["id"])["status"]["id"] == "N"
    # a cancelled receipt never comes back
    with pytest.raises(VendusRejected):
        shop.client.patch_document(rg["id"], "N")


def test_test_mode_receipt_is_cancelled_in_its_own_space(shop):
    ft = shop.sale(mode="tests", payments=[{"id": shop.cash}])
    (rg_id,) = related(shop.client.get_document(ft["id"], mode="tests"))["RG"]
    with pytest.raises(VendusNotFound):
        shop.client.cancel_document(rg_id)
    assert shop.client.cancel_document(rg_id, mode="tests")["status"] == "A"
    assert shop.client.get_document(ft["id"], mode="tests")["payment_status"] == "pending"


def test_dates_in_the_future_or_before_the_latest_document_are_rejected(shop):
    with pytest.raises(VendusRejected) as future:
        shop.sale(date="2026-03-11")
    assert future.value.status == 403 and future.value.code == "A001"
    assert "2026-03-11" in future.value.message
    shop.sale(date="2026-03-09")
    latest = shop.sale()
    assert latest["date"] == TODAY
    with pytest.raises(VendusRejected) as backwards:
        shop.sale(date="2026-03-09")
    assert backwards.value.code == "A001"
    assert "2026-03-09" in backwards.value.message and TODAY in backwards.value.message


def test_repeated_tx_id_returns_the_same_document(sim, shop):
    first = shop.sale(tx_id="sale-42", external_reference="order-42")
    again = shop.sale(tx_id="sale-42", external_reference="order-42")
    different_body = shop.sale(tx_id="sale-42", items=[{"reference": "SUMO", "qty": 5}])
    assert again == first
    assert different_body["id"] == first["id"] and different_body["number"] == first["number"]
    assert len(shop.client.find_documents_by_external_reference("order-42")) == 1
    assert len(list(shop.client.list_documents(type="FT"))) == 1
    assert route_count(sim, "POST documents") == 3
    # external_reference alone is not an idempotency key (reference §7.6)
    shop.sale(external_reference="order-42")
    assert len(shop.client.find_documents_by_external_reference("order-42")) == 2


def test_unknown_fields_are_p001_with_a_portuguese_message(shop):
    for bad in ("tax_rate", "discount", "product_id"):
        with pytest.raises(VendusRejected) as caught:
            shop.sale(items=[{"reference": "CAFE", "qty": 1, bad: 1}])
        assert caught.value.status == 403 and caught.value.code == "P001"
        assert caught.value.message.startswith(P001_PREFIX)
        assert bad in caught.value.message
    assert list(shop.client.list_documents()) == []


@pytest.mark.parametrize("nif", ["999999990", "123456780", "12345678", "PT12345678X"])
def test_generic_and_invalid_nifs_are_rejected(shop, nif):
    with pytest.raises(VendusRejected) as caught:
        shop.sale(client={"fiscal_id": nif, "name": "Cliente"})
    assert caught.value.code == "P001" and "fiscal_id" in caught.value.message
    assert list(shop.client.list_clients(fiscal_id=nif)) == []


def test_valid_nif_creates_the_client_once(shop):
    shop.sale(client={"fiscal_id": "501964843", "name": "Empresa Nova", "country": "PT"})
    shop.sale(client={"fiscal_id": "501964843"})
    clients = list(shop.client.list_clients(fiscal_id="501964843"))
    assert len(clients) == 1 and clients[0]["name"] == "Empresa Nova"
    rows = list(shop.client.list_documents(client_fiscal_id="501964843"))
    assert len(rows) == 2


def test_exempt_lines_need_an_exemption_and_the_law_is_optional(shop):
    """§3.4: tax_exemption must be one of the account's taxes/exemptions/ codes; tax_exemption_law is
    optional and, when left out, the document shows the account's law for the code."""
    with pytest.raises(VendusRejected) as missing:
        shop.sale(items=[LIVRO_EXEMPT])
    assert missing.value.code == "P001" and "tax_exemption" in missing.value.message
    for refused in ("M03", "M44", "M45", "M46"):  # revoked, or not in Vendus's list (pt-rules §2)
        with pytest.raises(VendusRejected) as caught:
            shop.sale(items=[{**LIVRO_EXEMPT, "tax_exemption": refused, "tax_exemption_law": "Artigo 6.º do CIVA"}])
        assert caught.value.status == 403 and "Motivo de isenção inválido" in caught.value.message
    ok = shop.sale(items=[{**LIVRO_EXEMPT, "tax_exemption": "M07", "tax_exemption_law": "Artigo 9.º do CIVA"}])
    detail = shop.client.get_document(ok["id"])
    assert detail["taxes"] == [
        {"rate": 0, "base": Decimal("10.00"), "amount": Decimal("0.00"), "total": Decimal("10.00")}
    ]
    assert detail["items"][0]["tax"]["exemption"] == "M07"
    without_law = shop.sale(items=[{**LIVRO_EXEMPT, "tax_exemption": "M10"}])
    tax = shop.client.get_document(without_law["id"])["items"][0]["tax"]
    laws = {e["id"]: e["law"] for e in shop.client.list_tax_exemptions()}
    assert (tax["exemption"], tax["exemption_law"]) == ("M10", laws["M10"]) == ("M10", "Artigo 53.º do CIVA")


def test_rates_come_from_the_account_and_island_rates_from_tax_custom(shop):
    """§3.4: the API has no per-store region; a Madeira or Azores store charges the account's rates
    unless an item carries tax_custom {country, rate, code, type} (rates: pt-invoicing-rules §2)."""
    stores = {s["postalcode"][:2]: s["id"] for s in shop.client.list_stores()}
    assert set(stores) == {"11", "90", "95"}  # Lisboa, Funchal (9000-9399), Ponta Delgada (9500-9999)
    registers = {r["store_id"]: r["id"] for r in shop.client.list_registers() if r["mode"] == "normal"}
    items = [{"reference": "SUMO", "qty": 1}, {"reference": "PASTEL", "qty": 1}, {"reference": "CAFE", "qty": 1}]
    funchal = shop.sale(items=items, register_id=registers[stores["90"]])
    detail = shop.client.get_document(funchal["id"])
    assert detail["store_id"] == stores["90"]
    assert {t["rate"] for t in detail["taxes"]} == {23, 13, 6}
    island = [
        {**items[0], "tax_custom": {"country": "PT-MA", "rate": 22, "code": "NOR", "type": "IVA"}},
        {**items[1], "tax_custom": {"country": "PT-MA", "rate": Decimal("12"), "code": "INT", "type": "IVA"}},
        {**items[2], "tax_custom": {"country": "PT-AC", "rate": 4, "code": "RED", "type": "IVA"}},
    ]
    doc = shop.sale(items=island, register_id=registers[stores["95"]])
    detail = shop.client.get_document(doc["id"])
    assert [(i["tax"]["country"], i["tax"]["rate"]) for i in detail["items"]] == [
        ("PT-MA", 22), ("PT-MA", 12), ("PT-AC", 4)
    ]  # fmt: skip
    assert {t["rate"] for t in detail["taxes"]} == {22, 12, 4}
    assert sum(t["total"] for t in detail["taxes"]) == Decimal("5.60")
    assert detail["amount_net"] == sum(i["amounts"]["net_total"] for i in detail["items"])
    for tax in detail["taxes"]:
        assert tax["base"] + tax["amount"] == tax["total"]
    with pytest.raises(VendusRejected) as caught:
        shop.sale(items=[{**items[0], "tax_custom": {"country": "PT-XX", "rate": 22}}])
    assert caught.value.status == 403 and caught.value.code == "P001"
    with pytest.raises(VendusRejected):
        shop.sale(items=[{**items[0], "tax_custom": {"country": "PT-MA", "rate": "vinte"}}])
    assert {t["id"]: t["rate"] for t in shop.client.list_taxes()} == {
        "NOR": 23,
        "INT": 13,
        "RED": 6,
        "ISE": 0,
        "OUT": 0,
    }


def test_an_island_account_lists_its_own_rates(sim, make_client):
    response = _add_islands_account(sim)
    islands = make_client("islands-key")
    assert response["api_key"] == "islands-key"
    assert {t["id"]: t["rate"] for t in islands.list_taxes()} == {"NOR": 22, "INT": 12, "RED": 4, "ISE": 0, "OUT": 0}
    assert {s["postalcode"] for s in islands.list_stores()} == {"9000-018", "9500-150"}


def _add_islands_account(sim) -> dict:
    spec = {
        "api_key": "islands-key",
        "region": "madeira",
        "stores": [
            {"title": "Funchal", "postalcode": "9000-018", "registers": [{"title": "C1", "mode": "normal"}]},
            {"title": "P. Delgada", "postalcode": "9500-150", "registers": [{"title": "C2", "mode": "normal"}]},
        ],
    }
    response = requests.post(f"{sim.root_url}/_sim/accounts", json=spec, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()


def test_line_discounts_follow_the_sdk_example(shop):
    """Reference §7.9: gross 100, discount_amount 20 and discount_percentage 3.5 come to 76.50 (net 62.20)."""
    doc = shop.sale(
        items=[
            {
                "reference": "SERVICO",
                "title": "Serviço",
                "gross_price": Decimal("100.00"),
                "qty": 1,
                "discount_amount": Decimal("20.00"),
                "discount_percentage": Decimal("3.5"),
                "tax_id": "NOR",
            }
        ],
    )
    assert doc["amount_gross"] == Decimal("76.50")
    assert doc["amount_net"] == Decimal("62.20")
    detail = shop.client.get_document(doc["id"])
    assert detail["items"][0]["discounts"]["amount"] == Decimal("20.00")
    assert detail["discounts"]["total"] == Decimal("23.50")
    assert_money_is_decimal(detail)


def test_on_the_wire_creation_is_201_with_two_decimal_strings(sim, shop):
    response = requests.post(
        f"{sim.base_url}/documents/",
        json={"type": "FT", "register_id": shop.register, "items": CAFE_AND_PASTEL},
        auth=(KEY_A, ""),
        timeout=5,
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == SHORT_SHAPE
    assert (body["amount_gross"], body["amount_net"]) == ("2.90", "2.66")  # 1.60 / 1.06 + 1.30 / 1.13
    detail = requests.get(f"{sim.base_url}/documents/{body['id']}", auth=(KEY_A, ""), timeout=5).json()
    assert detail["items"][0]["amounts"]["gross_total"] == "1.60"
    assert detail["debt"] == {"total": "2.90", "paid": "0.00", "unpaid": "2.90"}
    assert all(isinstance(t["total"], str) for t in detail["taxes"])


def test_unsafe_money_is_refused_before_anything_is_sent(sim, shop):
    with pytest.raises(VendusPayloadError):
        shop.sale(items=[{"title": "Bolo", "gross_price": 2.5, "qty": 1}])
    with pytest.raises(VendusPayloadError):
        shop.sale(items=[{"title": "Bolo", "gross_price": Decimal("2.505"), "qty": 1}])
    assert route_count(sim, "POST documents") == 0


def test_state_in_a_sqlite_file_survives_a_restart_with_its_tx_ids(tmp_path):
    db = tmp_path / "vendus.sqlite3"
    payload = {"items": CAFE_AND_PASTEL, "tx_id": "persisted-1", "external_reference": "p-1"}
    first_state = SimulatorState(api_keys=[KEY_A], clock=SimClock(NOW), db_path=db)
    with run_in_thread(first_state) as sim, VendusClient(sim.base_url, KEY_A) as client:
        created = client.create_document(payload)
    first_state.close()
    second_state = SimulatorState(api_keys=[KEY_A], clock=SimClock(NOW), db_path=db)
    with run_in_thread(second_state) as sim, VendusClient(sim.base_url, KEY_A) as client:
        assert client.get_document(created["id"])["number"] == created["number"]
        assert client.create_document(payload)["id"] == created["id"]  # the tx_id is remembered
        assert len(client.find_documents_by_external_reference("p-1")) == 1
        assert client.create_document({"items": CAFE_AND_PASTEL})["number"] == number_of("FT", 2)
    second_state.close()
