"""Clients, products, payment methods, document types, stores, registers, taxes and account."""

from __future__ import annotations

import base64

import pytest
from simulator_testkit import KEY_B, error_code


def test_create_get_and_list_clients(api):
    response = api.post("clients/", {"fiscal_id": "501964843", "name": "ACME, SA", "email": "geral@acme.pt"})
    assert response.status_code == 201
    client = response.get_json()
    assert client["status"] == "active" and client["country"] == "PT"
    assert api.get(f"clients/{client['id']}").get_json()["name"] == "ACME, SA"
    assert [c["id"] for c in api.get("clients/", fiscal_id="501964843").get_json()] == [client["id"]]
    assert [c["id"] for c in api.get("clients/", name="acme").get_json()] == [client["id"]]
    assert [c["id"] for c in api.get("clients/", email="GERAL@acme.pt").get_json()] == [client["id"]]
    assert [c["id"] for c in api.get("clients/", q="acme").get_json()] == [client["id"]]
    assert len(api.get("clients/", status="active").get_json()) == 2
    assert api.get("clients/", status="inactive").status_code == 404
    assert api.get("clients/999").status_code == 404


def test_client_external_reference_filter_and_patch(api):
    client = api.post("clients/", {"name": "Zé", "external_reference": "pos-42"}).get_json()
    assert api.get("clients/", external_reference="pos-42").get_json()[0]["id"] == client["id"]
    patched = api.patch(f"clients/{client['id']}", {"email": "ze@example.com", "status": "inactive"})
    assert patched.get_json()["email"] == "ze@example.com"
    assert api.get("clients/", status="inactive").get_json()[0]["id"] == client["id"]


@pytest.mark.parametrize(
    "body",
    [{"fiscal_id": "123456789"}, {"fiscal_id": "123456780"}, {"fiscal_id": "999999990"}, {"nif": "1"}],
)
def test_client_create_refusals(api, body):
    response = api.post("clients/", {"name": "X", **body})
    assert response.status_code == 403
    assert error_code(response) == "P001"


def test_same_fiscal_id_in_another_account_is_fine(api):
    assert api.as_key(KEY_B).get("clients/", fiscal_id="123456789").status_code == 200
    assert api.post("clients/", {"fiscal_id": "501964843"}).status_code == 201
    assert api.as_key(KEY_B).post("clients/", {"fiscal_id": "501964843"}).status_code == 201


def test_products(api):
    response = api.post(
        "products/", {"title": "Bola de Berlim", "unit_id": 1, "reference": "BOLA", "gross_price": "1.5"}
    )
    assert response.status_code == 201
    product = response.get_json()
    assert product["gross_price"] == "1.50" and product["status"] == "on"
    assert api.get(f"products/{product['id']}").get_json()["reference"] == "BOLA"
    assert [p["id"] for p in api.get("products/", reference="BOLA").get_json()] == [product["id"]]
    assert [p["id"] for p in api.get("products/", title="berlim").get_json()] == [product["id"]]
    off = api.post("products/", {"title": "Antigo", "unit_id": 1, "status": "off"}).get_json()
    listed = [p["id"] for p in api.get("products/").get_json()]
    assert product["id"] in listed and off["id"] not in listed
    assert [p["id"] for p in api.get("products/", status="off").get_json()] == [off["id"]]
    assert off["id"] in [p["id"] for p in api.get("products/", status="all").get_json()]
    assert api.create(items=[{"reference": "BOLA", "qty": 2}])["amount_gross"] == "3.00"


@pytest.mark.parametrize(
    "body",
    [{"unit_id": 1}, {"title": "X"}, {"title": "X", "unit_id": 99}, {"title": "X", "unit_id": 1, "colour": "red"},
     {"title": "X", "unit_id": 1, "reference": "CAFE"}, {"title": "X", "unit_id": 1, "tax_id": "VAT"}],
)  # fmt: skip
def test_product_create_refusals(api, body):
    assert error_code(api.post("products/", body)) == "P001"


def test_units(api):
    units = api.get("products/units/").get_json()
    assert units[0] == {"id": 1, "title": "Unidade", "default": "on", "decimal": "no"}
    assert api.get("products/units/2").get_json()["title"] == "Kg"


def test_payment_methods(api):
    methods = api.get("documents/paymentmethods/").get_json()
    types = {m["title"]: m["type"] for m in methods}
    assert types["Dinheiro"] == "NU" and types["MB WAY"] == "MBWAY" and types["Transferência Bancária"] == "TR"
    assert {"CD", "CC"} <= set(types.values())
    cash = next(m for m in methods if m["title"] == "Dinheiro")
    assert cash["change"] == 1 and cash["status"] == "on"
    assert api.get(f"documents/paymentmethods/{cash['id']}").get_json() == cash
    created = api.post("documents/paymentmethods/", {"title": "Cheque", "type": "CH"})
    assert created.status_code == 201
    assert api.create(items=[{"reference": "CAFE", "qty": 1}], payments=[{"id": created.get_json()["id"]}])


def test_document_types(api):
    types = api.get("documents/types/").get_json()
    codes = [t["id"] for t in types]
    assert {"FT", "FS", "FR", "NC", "RG", "PF", "OT", "EC", "DC"} <= set(codes)
    assert types[0] == {"id": "FT", "title": "Fatura", "visible_filter": "yes", "visible_finalize": "yes"}
    assert api.get("documents/types/", visible_filter="no").status_code == 404


def test_stores_and_registers(api):
    store = api.get("stores/").get_json()[0]
    # vendus-api §6: a store has a postalcode and no region (§3.4: the region is read from it)
    assert store["postalcode"] == "1100-053" and store["type"] == "store" and "region" not in store
    assert api.get(f"stores/{store['id']}").get_json()["title"] == store["title"]
    assert api.get("stores/", type="warehouse").status_code == 404
    registers = api.get("registers/").get_json()
    assert [r["mode"] for r in registers] == ["normal", "tests", "normal", "normal"]
    assert "series" not in registers[0]
    assert api.get(f"registers/{registers[0]['id']}").get_json()["store_id"] == store["id"]
    assert len(api.get("registers/", store_id=store["id"], isActive="yes").get_json()) == 2
    assert api.get("registers/", type="pos").status_code == 404


def test_taxes_follow_the_account_region(api, state):
    mainland = {t["id"]: t["rate"] for t in api.get("taxes/").get_json()}
    assert mainland == {"NOR": 23, "INT": 13, "RED": 6, "ISE": 0, "OUT": 0}
    state.add_account({"api_key": "azores", "region": "azores"})
    azores = {t["id"]: (t["rate"], t["country"]) for t in api.as_key("azores").get("taxes/").get_json()}
    assert azores["NOR"] == (16, "PT-AC") and azores["INT"] == (9, "PT-AC") and azores["RED"] == (4, "PT-AC")
    assert len(api.get("taxes/", all="yes").get_json()) == 15


def test_exemptions(api):
    """vendus-api §2/§5.3, pt-invoicing-rules §2: ``{id, text, law}``, law = the legal article, text = the
    label; M01-M16, M19-M21, M25, M30-M34, M40-M43, M99; M44-M46 absent; revoked codes marked."""
    codes = {e["id"]: e for e in api.get("taxes/exemptions/").get_json()}
    expected = {f"M{n:02d}" for n in [*range(1, 17), 19, 20, 21, 25, 26, 30, 31, 32, 33, 34, 40, 41, 42, 43, 99]}
    assert set(codes) == expected and not {"M44", "M45", "M46"} & set(codes)
    assert codes["M07"] == {"id": "M07", "text": "Isento artigo 9.º do CIVA", "law": "Artigo 9.º do CIVA"}
    assert codes["M10"]["law"] == "Artigo 53.º do CIVA" and codes["M10"]["text"] == "IVA - regime de isenção"
    for revoked in ("M03", "M08", "M26"):
        assert "revogado" in codes[revoked]["text"] or "expirado" in codes[revoked]["text"]


def test_account(api):
    account = api.get("account/").get_json()
    assert account["fiscal_id"] == "501964843" and account["locale"] == {"currency": "EUR"}
    assert api.get(f"account/{account['id']}").status_code == 200
    assert api.get("account/1").status_code == 404


def test_product_patch_by_id_keeps_references_unique(api):
    """PATCH products/{id} takes the create fields (reference/vendus-api.md §6 Product); a reference
    already used by another product is refused with P001, as on create."""
    first = api.post("products/", {"title": "Chá", "unit_id": 1, "reference": "CHA-1", "gross_price": "1.20"})
    other = api.post("products/", {"title": "Café", "unit_id": 1, "reference": "CAFE-1"}).get_json()
    product = first.get_json()
    patched = api.patch(f"products/{product['id']}", {"gross_price": "1.5", "type_id": "S", "status": "off",
                                                    "barcode": "5601"})
    assert patched.status_code == 200
    body = patched.get_json()
    assert (body["gross_price"], body["type_id"], body["status"], body["barcode"]) == ("1.50", "S", "off", "5601")
    clash = api.patch(f"products/{product['id']}", {"reference": other["reference"]})
    assert clash.status_code == 403 and error_code(clash) == "P001"
    assert api.patch(f"products/{product['id']}", {"unit_id": 999}).status_code == 403
    assert api.patch("products/999999", {"title": "X"}).status_code == 404


def test_a_second_client_with_the_same_nif_is_refused(api):
    """SDK clients_create.md: a POST with a fiscal_id that already exists is an error."""
    assert api.post("clients/", {"name": "A", "fiscal_id": "501964843"}).status_code == 201
    again = api.post("clients/", {"name": "B", "fiscal_id": "501964843"})
    assert again.status_code == 403 and error_code(again) == "P001"


def test_a_document_pdf_is_a_real_pdf(api):
    """documents/{id}.pdf returns the raw PDF, output=pdf a base64 one (reference/vendus-api.md §2, §3.3)."""
    doc = api.invoice()
    pdf = api.get(f"documents/{doc['id']}.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-1.4")

    detail = api.get(f"documents/{doc['id']}", output="pdf").get_json()
    assert base64.b64decode(detail["output"]) == pdf.data
