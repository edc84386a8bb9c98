"""Creating documents: shapes, numbering, modes, dates, tx_id and the validation rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from simulator_testkit import TODAY, error_code

SHORT_KEYS = {
    "id", "type", "subtype", "tax_authority_id", "number", "date", "date_supply", "system_time", "local_time",
    "amount_gross", "amount_net", "hash", "atcud", "output", "output_data", "qrcode", "qrcode_data",
}  # fmt: skip
ROW_KEYS = {
    "id", "number", "date", "store_id", "register_id", "date_due", "date_supply", "system_time", "local_time",
    "amount_gross", "amount_net", "type", "subtype", "tax_authority_id", "status", "total_unpaid",
    "payment_status", "external_reference",
}  # fmt: skip


@pytest.mark.parametrize("doc_type", ["FT", "PF", "OT", "EC", "DC"])
def test_create_returns_201_short_shape(api, doc_type):
    created = api.invoice(type=doc_type)
    assert set(created) == SHORT_KEYS
    assert created["type"] == doc_type
    assert created["number"] == f"{doc_type} 01P2026/1"
    assert created["amount_gross"] == "2.90"
    assert created["tax_authority_id"] == ""
    assert len(created["hash"]) == 4
    assert created["atcud"].endswith("-1")


def test_type_defaults_to_ft_and_unknown_type_is_a001(api):
    assert api.create(items=[{"reference": "CAFE", "qty": 1}])["type"] == "FT"
    response = api.post("documents/", {"type": "XX", "items": [{"reference": "CAFE", "qty": 1}]})
    assert response.status_code == 403
    assert error_code(response) == "A001"


def test_detail_shape(api):
    created = api.invoice(client={"fiscal_id": "123456789"}, notes="mesa 4", external_reference="T1-1")
    doc = api.doc(created["id"])
    assert doc["status"] == {"id": "N", "date": "2026-03-10 10:00:00", "user_id": doc["user_id"]}
    assert doc["observations"] == "mesa 4"
    assert doc["external_reference"] == "T1-1"
    assert doc["client"]["fiscal_id"] == "123456789"
    assert doc["client"]["country_name"] == "Portugal"
    assert doc["debt"] == {"total": "2.90", "paid": "0.00", "unpaid": "2.90"}
    assert doc["payment_status"] == "pending"
    assert doc["related_docs"] == []
    assert doc["hash"] == created["hash"] and doc["atcud"] == created["atcud"]
    cafe, pastel = doc["items"]
    assert cafe["amounts"] == {
        "net_unit": "0.75",
        "net_total": "1.51",
        "gross_unit": "0.80",
        "gross_total": "1.60",
    }
    assert cafe["qty"] == "2.000" and cafe["qty_nc"] == "2.000"
    assert cafe["tax"] == {"id": "RED", "country": "PT", "rate": 6, "exemption": "", "exemption_law": ""}
    assert pastel["tax"]["rate"] == 13
    assert doc["taxes"] == [
        {"rate": 6, "base": "1.51", "amount": "0.09", "total": "1.60"},
        {"rate": 13, "base": "1.15", "amount": "0.15", "total": "1.30"},
    ]
    assert doc["amount_net"] == "2.66"


def test_list_rows_have_status_as_string(api):
    api.invoice()
    rows = api.get("documents/").get_json()
    assert set(rows[0]) == ROW_KEYS
    assert rows[0]["status"] == "N"
    assert rows[0]["total_unpaid"] == "2.90"


def test_numbering_is_gapless_per_type_and_series(api):
    numbers = [api.invoice()["number"] for _ in range(3)]
    assert numbers == ["FT 01P2026/1", "FT 01P2026/2", "FT 01P2026/3"]
    assert api.invoice(type="PF")["number"] == "PF 01P2026/1"
    api.create(expect=403, items=[{"reference": "nope", "qty": 1}])  # a refused request uses no number
    assert api.invoice()["number"] == "FT 01P2026/4"


def test_numbering_restarts_with_the_year(api, state):
    state.clock.advance(timedelta(days=300))  # 2027-01-04
    assert api.invoice()["number"] == "FT 01P2027/1"
    assert api.invoice(date="2026-12-31")["number"] == "FT 01P2026/1"


def test_each_register_has_its_own_series(api, state):
    second = next(r for r in api.account.registers.values() if r["series"] == "02")
    second["mode"] = "normal"
    assert api.invoice(register_id=second["id"])["number"] == "FT 02P2026/1"


def test_test_mode_has_its_own_space(api):
    real = api.invoice()
    test = api.invoice(mode="tests")
    assert test["number"] == "FT T01P2026/1"
    assert real["number"] == "FT 01P2026/1"
    assert api.get(f"documents/{test['id']}").status_code == 404
    assert api.get(f"documents/{test['id']}", mode="tests").status_code == 200
    assert api.get(f"documents/{real['id']}", mode="tests").status_code == 404
    assert [r["id"] for r in api.get("documents/").get_json()] == [real["id"]]
    assert [r["id"] for r in api.get("documents/", mode="tests").get_json()] == [test["id"]]


def test_omitted_mode_takes_the_registers_mode(api):
    created = api.invoice(register_id=api.register("tests"))
    assert created["number"] == "FT T02P2026/1"
    assert api.invoice(register_id=api.register("tests"), mode="normal")["number"] == "FT 02P2026/1"


def test_mode_override_can_be_refused(api, state):
    state.assumptions.mode_override_allowed = False
    response = api.post("documents/", {"items": [{"reference": "CAFE", "qty": 1}], "mode": "tests"})
    assert error_code(response) == "P001"


def test_missing_register_uses_first_or_is_refused(api, state):
    assert api.doc(api.invoice()["id"])["register_id"] == api.register()
    state.assumptions.default_register = "required"
    assert error_code(api.post("documents/", {"items": [{"reference": "CAFE", "qty": 1}]})) == "P001"
    assert error_code(api.post("documents/", {"items": [{"reference": "CAFE", "qty": 1}], "register_id": 1})) == "P001"


def test_future_date_is_refused_with_a001_quoting_both_dates(api):
    response = api.post("documents/", {"items": [{"reference": "CAFE", "qty": 1}], "date": "2026-03-11"})
    assert response.status_code == 403
    assert error_code(response) == "A001"
    message = response.get_json()["errors"][0]["message"]
    assert "2026-03-11" in message and TODAY in message


def test_date_before_latest_document_of_the_series_is_refused(api):
    api.invoice(date="2026-03-05")
    response = api.post("documents/", {"items": [{"reference": "CAFE", "qty": 1}], "date": "2026-03-04"})
    assert response.status_code == 403
    assert error_code(response) == "A001"
    message = response.get_json()["errors"][0]["message"]
    assert "2026-03-04" in message and "2026-03-05" in message
    # another series (type) has its own latest date
    assert api.invoice(type="PF", date="2026-03-01")["date"] == "2026-03-01"
    assert api.invoice(date="2026-03-05")["number"] == "FT 01P2026/2"


@pytest.mark.parametrize("bad", ["10-03-2026", "2026-02-30", "20260301", "yesterday"])
def test_malformed_dates_are_p001(api, bad):
    assert error_code(api.post("documents/", {"items": [{"reference": "CAFE", "qty": 1}], "date": bad})) == "P001"


def test_repeated_tx_id_returns_the_same_document(api):
    first = api.invoice(tx_id="sale-1", payments=[{"id": api.cash}])
    count = len(api.account.docs)
    again = api.invoice(tx_id="sale-1", payments=[{"id": api.cash}])
    assert again == first
    assert len(api.account.docs) == count
    # even a different body replays the first document
    assert api.create(items=[{"reference": "SUMO", "qty": 9}], tx_id="sale-1") == first
    assert api.invoice(tx_id="sale-2")["id"] != first["id"]


def test_tx_id_is_per_account(api):
    from simulator_testkit import KEY_B

    mine = api.invoice(tx_id="shared")
    theirs = api.as_key(KEY_B).invoice(tx_id="shared")
    assert mine["id"] != theirs["id"]


def test_tx_id_retention_is_switchable(api, state):
    state.assumptions.tx_id_retention_seconds = 60
    first = api.invoice(tx_id="t")
    state.clock.advance(30)
    assert api.invoice(tx_id="t")["id"] == first["id"]
    state.clock.advance(31)
    assert api.invoice(tx_id="t")["id"] != first["id"]


def test_external_reference_does_not_deduplicate_unless_assumed(api, state):
    first = api.invoice(external_reference="ext-1")
    assert api.invoice(external_reference="ext-1")["id"] != first["id"]
    state.assumptions.external_reference_dedup = True
    assert api.invoice(external_reference="ext-1")["id"] == first["id"]


@pytest.mark.parametrize("field", ["tax_rate", "discount", "product_id"])
def test_unknown_item_fields_are_p001(api, field):
    response = api.post("documents/", {"items": [{"reference": "CAFE", "qty": 1, field: 1}]})
    assert response.status_code == 403
    assert error_code(response) == "P001"
    assert field in response.get_json()["errors"][0]["message"]
    assert response.get_json()["errors"][0]["message"].startswith("Parâmetro inválido ou mal preenchido")


def test_unknown_top_level_fields_are_p001(api):
    assert error_code(api.post("documents/", {"items": [{"reference": "CAFE", "qty": 1}], "foo": 1})) == "P001"


@pytest.mark.parametrize(
    "item",
    [
        {"reference": "CAFE"},
        {"reference": "CAFE", "qty": 0},
        {"reference": "CAFE", "qty": "-1"},
        {"reference": "CAFE", "qty": "abc"},
        {"reference": "CAFE", "qty": 1, "gross_price": "-1"},
        {"reference": "CAFE", "qty": 1, "tax_id": "XYZ"},
        {"reference": "CAFE", "qty": 1, "discount_percentage": "101"},
        {"reference": "CAFE", "qty": 1, "discount_amount": "5"},
        {"id": 1, "qty": 1},
        {"qty": 1},
        {"title": "Sem preço", "qty": 1},
        {"reference": "CAFE", "qty": 1, "tax_exemption": "M07", "tax_exemption_law": "x"},
    ],
)
def test_invalid_items_are_p001(api, item):
    response = api.post("documents/", {"items": [item]})
    assert response.status_code == 403, response.get_json()
    assert error_code(response) == "P001"


def test_items_are_required(api):
    assert error_code(api.post("documents/", {"type": "FT"})) == "P001"
    assert error_code(api.post("documents/", {"type": "FT", "items": []})) == "P001"


def test_product_by_id_and_reference_with_overrides(api):
    sumo = next(p for p in api.account.products.values() if p["reference"] == "SUMO")
    created = api.create(
        items=[
            {"id": sumo["id"], "qty": 1},
            {"reference": "SUMO", "qty": 1, "gross_price": "4.00", "title": "Sumo grande", "tax_id": "INT"},
        ]
    )
    first, second = api.doc(created["id"])["items"]
    assert (first["title"], first["amounts"]["gross_unit"], first["tax"]["id"]) == (
        "Sumo natural",
        "3.50",
        "NOR",
    )
    assert (second["title"], second["amounts"]["gross_unit"], second["tax"]["id"]) == (
        "Sumo grande",
        "4.00",
        "INT",
    )
    assert first["id"] == second["id"] == sumo["id"]


def test_unknown_product_with_title_and_price_is_accepted_and_created(api, state):
    created = api.create(items=[{"reference": "NOVO", "title": "Bolo", "gross_price": "2.50", "qty": 2}])
    assert created["amount_gross"] == "5.00"
    product = api.get("products/", reference="NOVO").get_json()[0]
    assert product["title"] == "Bolo" and product["gross_price"] == "2.50"
    # vendus-api §3.4: id or reference is always required; a line without either is refused ...
    adhoc = {"title": "Serviço avulso", "gross_price": "10", "qty": 1, "type_id": "S"}
    assert error_code(api.post("documents/", {"items": [adhoc]})) == "P001"
    # ... unless the deviation is switched on
    state.assumptions.items_without_product = True
    assert api.doc(api.create(items=[adhoc])["id"])["items"][0]["id"] is None


def test_refused_document_creates_no_product_or_client(api):
    products, clients = len(api.account.products), len(api.account.clients)
    response = api.post(
        "documents/",
        {
            "type": "FR",
            "items": [{"reference": "NOVO", "title": "Bolo", "gross_price": "2.50", "qty": 1}],
            "client": {"name": "Nova Cliente", "fiscal_id": "501964843"},
        },
    )
    assert response.status_code == 403  # FR without payments
    assert (len(api.account.products), len(api.account.clients)) == (products, clients)


def test_line_discounts_are_both_taken_from_the_list_price(api):
    created = api.create(
        items=[
            {
                "reference": "KIT",
                "title": "Kit",
                "gross_price": "100",
                "qty": 1,
                "discount_amount": "20",
                "discount_percentage": "3.5",
            }
        ]
    )
    # the SDK's example (reference §7.9): 100 - 3.5 % of 100 - 20 = 76.50, net 62.20 (not 77.20)
    assert (created["amount_gross"], created["amount_net"]) == ("76.50", "62.20")
    item = api.doc(created["id"])["items"][0]
    assert item["discounts"] == {"amount": "20.00", "percentage": "3.50", "calculated_percentage": "23.50"}


def test_discount_amount_is_per_unit_or_per_line(api, state):
    item = {"reference": "KIT", "title": "Kit", "gross_price": "10", "qty": 3, "discount_amount": "1"}
    assert api.create(items=[item])["amount_gross"] == "27.00"
    state.assumptions.discount_amount_per = "line"
    assert api.create(items=[item])["amount_gross"] == "29.00"


def test_document_discount_is_spread_over_lines(api):
    created = api.create(
        items=[{"reference": "SUMO", "qty": 2}, {"reference": "CAFE", "qty": 1}], discount_percentage="10"
    )
    doc = api.doc(created["id"])
    assert doc["amount_gross"] == "7.02"  # 7.80 * 0.9
    assert sum(float(i["amounts"]["gross_total"]) for i in doc["items"]) == pytest.approx(7.02)
    assert doc["discounts"] == {"amount": "0.00", "percentage": "10.00", "total": "0.78"}


def test_rates_come_from_the_account_not_from_the_store(api):
    """vendus-api §3.4/§5.3: no per-store region; the mainland account charges 23/13/6 in every store."""
    items = [
        {"reference": f"R{t}", "title": t, "gross_price": "10", "qty": 1, "tax_id": t} for t in ("NOR", "INT", "RED")
    ]
    for register in api.account.registers.values():
        if register["mode"] == "normal":
            created = api.create(items=items, register_id=register["id"])
            detail = api.doc(created["id"])
            assert [i["tax"]["rate"] for i in detail["items"]] == [23, 13, 6]
            assert {i["tax"]["country"] for i in detail["items"]} == {"PT"}


def test_tax_custom_charges_island_rates(api):
    """vendus-api §3.4: tax_custom {country, rate, code, type} is the only way to charge PT-MA/PT-AC
    rates (values from pt-invoicing-rules §2); the line shows that country and rate."""
    items = [
        {"reference": "CAFE", "qty": 1, "tax_custom": {"country": "PT-MA", "rate": 4, "code": "RED", "type": "IVA"}},
        {"reference": "SUMO", "qty": 1, "tax_custom": {"country": "PT-AC", "rate": "16", "code": "NOR"}},
        {"reference": "PASTEL", "qty": 1},
    ]
    detail = api.doc(api.create(items=items)["id"])
    taxes = [(i["tax"]["id"], i["tax"]["country"], i["tax"]["rate"]) for i in detail["items"]]
    assert taxes == [("RED", "PT-MA", 4), ("NOR", "PT-AC", 16), ("INT", "PT", 13)]
    assert [t["rate"] for t in detail["taxes"]] == [4, 13, 16]
    # 0.80 at 4 % -> 0.77; 3.50 at 16 % -> 3.02; 1.30 at 13 % -> 1.15
    assert detail["amount_net"] == "4.94"
    assert "K1:PT-MA" in detail["qrcode_data"] and "J1:PT-AC" in detail["qrcode_data"]


@pytest.mark.parametrize(
    "custom",
    [
        {"country": "PT-XX", "rate": 22},
        {"rate": 22},
        {"country": "PT-MA", "rate": "abc"},
        {"country": "PT-MA"},
        {"country": "PT-MA", "rate": 22, "type": "IS"},
        {"country": "PT-MA", "rate": 22, "code": "XYZ"},
        {"country": "PT-MA", "rate": 22, "percent": 1},
        "PT-MA",
    ],
)
def test_tax_custom_is_validated(api, custom):
    """A tax_custom with an unknown country or a non-numeric rate is a poorly filled parameter (403 P001)."""
    response = api.post("documents/", {"items": [{"reference": "CAFE", "qty": 1, "tax_custom": custom}]})
    assert response.status_code == 403 and error_code(response) == "P001"


def test_exempt_lines_need_a_valid_code_and_the_law_is_optional(api):
    """vendus-api §3.4: tax_exemption_law is optional; tax_exemption must be one of taxes/exemptions/
    (pt-invoicing-rules §2: M44-M46 are refused with "Motivo de isenção inválido")."""
    good = {"reference": "CONSULTA", "title": "Consulta", "gross_price": "50", "qty": 1, "tax_id": "ISE",
            "tax_exemption": "M07", "tax_exemption_law": "Artigo 9.º do CIVA"}  # fmt: skip
    doc = api.doc(api.create(items=[good])["id"])
    assert doc["items"][0]["tax"]["exemption"] == "M07"
    assert doc["taxes"] == [{"rate": 0, "base": "50.00", "amount": "0.00", "total": "50.00"}]
    for broken in ({"tax_exemption": "M00"}, {"tax_exemption": "M26"}, {"tax_exemption": "M44"},
                   {"tax_exemption": "M45"}, {"tax_exemption": "M46"}):  # fmt: skip
        response = api.post("documents/", {"items": [{**good, **broken}]})
        assert (
            error_code(response) == "P001"
            and "Motivo de isenção inválido" in response.get_json()["errors"][0]["message"]
        )
    missing_law = {k: v for k, v in good.items() if k != "tax_exemption_law"}
    missing_law["tax_exemption"] = "M10"
    tax = api.doc(api.create(items=[missing_law])["id"])["items"][0]["tax"]
    assert (tax["exemption"], tax["exemption_law"]) == ("M10", "Artigo 53.º do CIVA")  # the account's law


def test_revoked_exemptions_only_by_assumption(api, state):
    item = {"reference": "LIVRO", "qty": 1, "tax_id": "ISE", "tax_exemption": "M26"}
    assert error_code(api.post("documents/", {"items": [item]})) == "P001"
    state.assumptions.accept_revoked_exemptions = True
    assert api.doc(api.create(items=[item])["id"])["items"][0]["tax"]["exemption"] == "M26"


def test_product_exemption_carries_over(api):
    doc = api.doc(api.create(items=[{"reference": "LIVRO", "qty": 1}])["id"])
    assert doc["items"][0]["tax"]["id"] == "ISE" and doc["items"][0]["tax"]["exemption"] == "M07"


def test_client_by_id_fiscal_id_or_new_data(api):
    known = next(iter(api.account.clients.values()))
    by_id = api.doc(api.invoice(client={"id": known["id"]})["id"])["client"]
    by_nif = api.doc(api.invoice(client={"fiscal_id": "PT 123 456 789"})["id"])["client"]
    assert by_id["id"] == by_nif["id"] == known["id"]
    created = api.doc(api.invoice(client={"fiscal_id": "501964843", "name": "ACME, SA"})["id"])["client"]
    assert created["name"] == "ACME, SA"
    assert api.get("clients/", fiscal_id="501964843").get_json()[0]["id"] == created["id"]
    foreign = api.doc(api.invoice(client={"fiscal_id": "ESX1234567", "name": "Cliente ES", "country": "ES"})["id"])
    assert foreign["client"]["country"] == "ES"
    assert api.doc(api.invoice()["id"])["client"] is None


@pytest.mark.parametrize("nif", ["123456780", "999999990", "12345", "023456789"])
def test_invalid_or_generic_nif_is_p001(api, nif):
    response = api.post("documents/", {"items": [{"reference": "CAFE", "qty": 1}], "client": {"fiscal_id": nif}})
    assert response.status_code == 403
    assert error_code(response) == "P001"


def test_unknown_client_id_and_unknown_client_field_are_p001(api):
    assert (
        error_code(api.post("documents/", {"items": [{"reference": "CAFE", "qty": 1}], "client": {"id": 1}})) == "P001"
    )
    body = {"items": [{"reference": "CAFE", "qty": 1}], "client": {"nif": "123456789"}}
    assert error_code(api.post("documents/", body)) == "P001"


def test_output_is_base64_and_qrcode_data_is_filled(api):
    created = api.create(items=[{"reference": "CAFE", "qty": 1}], output="pdf")
    assert created["output"]
    assert created["qrcode_data"].startswith("A:501964843*B:999999990*C:PT*D:FT*E:N*F:20260310")
    assert f"Q:{created['hash']}" in created["qrcode_data"]


def test_hash_chains_within_a_series(api):
    first, second = api.invoice(), api.invoice()
    assert first["hash"] != second["hash"]
    assert first["atcud"].split("-")[0] == second["atcud"].split("-")[0]
