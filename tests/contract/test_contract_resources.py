"""Contract: clients, products, payment methods, document types, stores, registers, taxes, account."""

from __future__ import annotations

from decimal import Decimal

import pytest
from contract_kit import KEY_A, assert_money_is_decimal

from kapta_vendus.vendus import VendusNotFound, VendusRejected


def test_clients_create_get_and_list_with_filters(client):
    created = client.create_client(
        {"fiscal_id": "501964843", "name": "Restaurante Novo", "email": "geral@novo.pt", "external_reference": "c-9"}
    )
    assert created["fiscal_id"] == "501964843" and isinstance(created["id"], int)
    fetched = client.get_client(created["id"])
    assert fetched["name"] == "Restaurante Novo"
    assert_money_is_decimal(fetched)
    assert fetched["balance"]["total"] == Decimal("0.00")
    for filters in (
        {"fiscal_id": "501964843"},
        {"name": "novo"},
        {"email": "geral@novo.pt"},
        {"external_reference": "c-9"},
        {"q": "restaurante"},
    ):
        assert [c["id"] for c in client.list_clients(**filters)] == [created["id"]], filters
    assert len(list(client.list_clients())) == 2  # the account's own client plus the new one
    assert list(client.list_clients(fiscal_id="100000002")) == []


def test_clients_refuse_a_duplicate_or_invalid_fiscal_id(client):
    with pytest.raises(VendusRejected) as duplicate:
        client.create_client({"fiscal_id": "123456789", "name": "Outro"})
    assert duplicate.value.status == 403 and duplicate.value.code == "P001"
    with pytest.raises(VendusRejected):
        client.create_client({"fiscal_id": "999999990", "name": "Consumidor final"})
    with pytest.raises(VendusRejected):
        client.create_client({"fiscal_id": "123456780", "name": "Dígito errado"})
    with pytest.raises(VendusRejected):
        client.create_client({"fiscal_id": "501964843", "name": "X", "nif": "501964843"})
    assert len(list(client.list_clients())) == 1


def test_clients_update_and_missing_ids(client):
    created = client.create_client({"name": "Sem NIF"})
    assert client.update_client(created["id"], {"city": "Porto"})["city"] == "Porto"
    with pytest.raises(VendusNotFound):
        client.get_client(999_999)


def test_products_need_title_and_unit_id(client):
    with pytest.raises(VendusRejected) as no_unit:
        client.create_product({"title": "Bolo", "gross_price": Decimal("2.50")})
    assert no_unit.value.code == "P001" and "unit_id" in no_unit.value.message
    with pytest.raises(VendusRejected) as no_title:
        client.create_product({"unit_id": 1, "gross_price": Decimal("2.50")})
    assert "title" in no_title.value.message
    product = client.create_product(
        {"title": "Bolo de arroz", "unit_id": 1, "reference": "BOLO", "gross_price": Decimal("2.50"), "tax_id": "INT"}
    )
    fetched = client.get_product(product["id"])
    assert fetched["title"] == "Bolo de arroz" and fetched["gross_price"] == Decimal("2.50")
    assert [p["id"] for p in client.list_products(reference="BOLO")] == [product["id"]]
    assert {p["reference"] for p in client.list_products()} >= {"CAFE", "PASTEL", "BOLO"}
    with pytest.raises(VendusRejected):
        client.create_product({"title": "Outro", "unit_id": 1, "reference": "BOLO"})
    with pytest.raises(VendusNotFound):
        client.get_product(999_999)
    assert_money_is_decimal(list(client.list_products()))


def test_a_new_product_can_be_sold_by_reference(shop):
    shop.client.create_product({"title": "Queque", "unit_id": 1, "reference": "QUEQUE", "gross_price": "1.10"})
    doc = shop.sale(items=[{"reference": "QUEQUE", "qty": 3}])
    assert doc["amount_gross"] == Decimal("3.30")


def test_payment_methods(client):
    methods = client.list_payment_methods()
    by_type = {m["type"]: m for m in methods}
    assert by_type["NU"]["title"] == "Dinheiro" and by_type["NU"]["change"] == 1
    assert {"CD", "CC", "MBWAY", "DNP"} <= set(by_type)
    assert client.get_payment_method(by_type["MBWAY"]["id"])["title"] == "MB WAY"
    with pytest.raises(VendusNotFound):
        client.get_payment_method(1)


def test_document_types(client):
    types = {t["id"] for t in client.list_document_types()}
    assert {"FT", "FS", "FR", "NC", "RG", "PF", "OT", "EC", "DC"} <= types
    assert client.list_document_types(visible_filter=True)  # the client sends "yes"


def test_stores_and_registers(client, shop):
    stores = client.list_stores()
    # §6 store shape with its postal code: Lisboa, Funchal (Madeira 9000-9399), Ponta Delgada (Azores 9500-9999)
    assert stores[0]["id"] == shop.store
    assert [s["postalcode"] for s in stores] == ["1100-053", "9000-018", "9500-150"]
    assert all("region" not in s for s in stores)
    assert client.get_store(shop.store)["title"] == stores[0]["title"]
    registers = client.list_registers(store_id=shop.store)
    assert {r["mode"] for r in registers} == {"normal", "tests"}
    assert client.get_register(shop.register)["mode"] == "normal"
    every_register = client.list_registers(isActive="yes", type="api")
    assert [r["id"] for r in every_register][:2] == [r["id"] for r in registers]
    assert {r["store_id"] for r in every_register} == {s["id"] for s in stores}
    with pytest.raises(VendusNotFound):
        client.get_register(1)
    assert client.list_stores(type="warehouse") == []


def test_taxes_and_exemptions(client):
    rates = {t["id"]: t["rate"] for t in client.list_taxes()}
    assert rates == {"NOR": 23, "INT": 13, "RED": 6, "ISE": 0, "OUT": 0}
    every = client.list_taxes(all=True)
    assert {t["country"] for t in every} == {"PT", "PT-MA", "PT-AC"}
    exemptions = {e["id"]: e for e in client.list_tax_exemptions()}
    # §2/§5.3: {id, text, law}; law is the legal article (pt-rules §2), M44-M46 are not listed
    assert exemptions["M07"]["law"] == "Artigo 9.º do CIVA" and exemptions["M10"]["law"] == "Artigo 53.º do CIVA"
    assert exemptions["M10"]["text"] == "IVA - regime de isenção"
    assert not {"M44", "M45", "M46"} & set(exemptions)
    assert all(
        "revogado" in exemptions[c]["text"] or "expirado" in exemptions[c]["text"] for c in ("M03", "M08", "M26")
    )


def test_account(sim, client):
    account = client.get_account()
    assert account["id"] == sim.state.accounts[KEY_A].id
    assert account["locale"] == {"currency": "EUR"}
    assert account["irs"]["retention_rate"] == Decimal("0.00")
