"""Each endpoint method hits the right method, path, query and body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
import responses
from responses import matchers
from vendus_testkit import url


def query(**params):
    return [matchers.query_param_matcher(params)]


def test_create_document_returns_short_object(rsps, client):
    short = {
        "id": 501,
        "type": "FR",
        "number": "FR T01P2026/1",
        "amount_gross": "12.30",
        "tax_authority_id": "",
    }
    rsps.add(responses.POST, url("documents/"), status=201, json=short)
    doc = client.create_document({"type": "FR", "tx_id": "abc", "mode": "tests", "items": []})
    assert doc["id"] == 501 and doc["amount_gross"] == Decimal("12.30")
    assert json.loads(rsps.calls[0].request.body)["tx_id"] == "abc"


def test_create_accepts_200_too(rsps, client):
    rsps.add(responses.POST, url("documents/"), status=200, json={"id": 1})
    assert client.create_document({"items": []}) == {"id": 1}


def test_get_test_mode_document_and_extra_params(rsps, client):
    rsps.add(
        responses.GET,
        url("documents/501"),
        json={"id": 501},
        match=query(mode="tests", output="pdf_url", return_qrcode="1"),
    )
    assert client.get_document(501, mode="tests", output="pdf_url", return_qrcode=1) == {"id": 501}


def test_get_document_without_mode_sends_no_mode(rsps, client):
    rsps.add(responses.GET, url("documents/501"), json={"id": 501}, match=query())
    assert client.get_document("501") == {"id": 501}


def test_cancel_is_patch_status_a(rsps, client):
    rsps.add(responses.PATCH, url("documents/7"), json={"id": 7, "status": "A"})
    assert client.cancel_document(7, mode="tests") == {"id": 7, "status": "A"}
    assert json.loads(rsps.calls[0].request.body) == {"status": "A", "mode": "tests"}
    assert rsps.calls[0].request.headers["Content-Type"] == "application/json"


def test_patch_document_extra_fields(rsps, client):
    rsps.add(responses.PATCH, url("documents/7"), json={"id": 7, "status": "N"})
    client.patch_document(7, "N", stock="no")
    assert json.loads(rsps.calls[0].request.body) == {"status": "N", "stock": "no"}


def test_find_by_external_reference_keeps_exact_or_unknown_matches(rsps, client):
    rows = [
        {"id": 1, "external_reference": "SALE-1"},
        {"id": 2, "external_reference": "SALE-10"},  # a loose server-side match
        {"id": 3},  # row without the field: may be the one, keep it
        {"id": 4, "external_reference": " SALE-1 "},
    ]
    rsps.add(
        responses.GET,
        url("documents/"),
        json=rows,
        match=query(external_reference="SALE-1", mode="tests", page="1", per_page="100"),
    )
    found = client.find_documents_by_external_reference("SALE-1", mode="tests")
    assert [d["id"] for d in found] == [1, 3, 4]


def test_find_by_external_reference_none(rsps, client):
    rsps.add(
        responses.GET,
        url("documents/"),
        status=404,
        json={"errors": [{"code": "A001", "message": "No data"}]},
    )
    assert client.find_documents_by_external_reference("SALE-404") == []


def test_clients(rsps, client):
    rsps.add(responses.POST, url("clients/"), status=201, json={"id": 11, "name": "Ana"})
    rsps.add(responses.GET, url("clients/11"), json={"id": 11, "balance": {"total": "5.00"}})
    rsps.add(responses.PATCH, url("clients/11"), json={"id": 11, "email": "ana@x.pt"})
    rsps.add(
        responses.GET,
        url("clients/"),
        json=[{"id": 11}],
        match=query(fiscal_id="123456789", page="1", per_page="100"),
    )
    assert client.create_client({"name": "Ana", "fiscal_id": "123456789"})["id"] == 11
    assert client.get_client(11)["balance"]["total"] == Decimal("5.00")
    assert client.update_client(11, {"email": "ana@x.pt"})["email"] == "ana@x.pt"
    found = client.list_clients(fiscal_id="123456789")
    assert isinstance(found, Iterator)
    assert list(found) == [{"id": 11}]
    assert json.loads(rsps.calls[2].request.body) == {"email": "ana@x.pt"}


def test_products(rsps, client):
    rsps.add(responses.POST, url("products/"), status=201, json={"id": 3, "gross_price": "2.50"})
    rsps.add(responses.GET, url("products/3"), json={"id": 3, "gross_price": "2.50"})
    rsps.add(
        responses.GET,
        url("products/"),
        json=[{"id": 3}],
        match=query(reference="CAF", page="1", per_page="100"),
    )
    assert client.create_product({"title": "Café", "unit_id": 1, "gross_price": Decimal("2.5")})["id"] == 3
    assert json.loads(rsps.calls[0].request.body)["gross_price"] == "2.50"
    assert client.get_product(3)["gross_price"] == Decimal("2.50")
    assert list(client.list_products(reference="CAF")) == [{"id": 3}]


@pytest.mark.parametrize(
    ("method_name", "path", "kwargs", "expected_query"),
    [
        ("list_payment_methods", "documents/paymentmethods/", {}, {}),
        (
            "list_registers",
            "registers/",
            {"store_id": 24994, "isActive": True},
            {"store_id": "24994", "isActive": "yes"},
        ),
        ("list_stores", "stores/", {"type": "all"}, {"type": "all"}),
        ("list_taxes", "taxes/", {"all": "yes"}, {"all": "yes"}),
        ("list_tax_exemptions", "taxes/exemptions/", {}, {}),
        ("list_document_types", "documents/types/", {"visible_filter": "yes"}, {"visible_filter": "yes"}),
    ],
)
def test_small_collections_return_lists(rsps, client, method_name, path, kwargs, expected_query):
    body = [{"id": 1, "title": "A"}, {"id": 2, "title": "B"}]
    rsps.add(responses.GET, url(path), json=body, match=query(**expected_query, page="1", per_page="100"))
    result = getattr(client, method_name)(**kwargs)
    assert isinstance(result, list) and result == body


@pytest.mark.parametrize(
    ("method_name", "path"),
    [
        ("get_payment_method", "documents/paymentmethods/24934"),
        ("get_register", "registers/24934"),
        ("get_store", "stores/24934"),
    ],
)
def test_get_by_id(rsps, client, method_name, path):
    rsps.add(responses.GET, url(path), json={"id": 24934})
    assert getattr(client, method_name)(24934) == {"id": 24934}


def test_account(rsps, client):
    rsps.add(responses.GET, url("account/"), json={"id": 1, "irs": {"retention_rate": "25.00"}})
    assert client.get_account()["irs"]["retention_rate"] == Decimal("25.00")


@pytest.mark.parametrize("bad", ["../account", "7?mode=tests", "", True, 1.5, "-1"])
def test_ids_cannot_change_the_path(client, bad):
    with pytest.raises(ValueError):
        client.get_document(bad)


def test_list_endpoint_returning_an_object_is_an_error(rsps, make_client):
    from kapta_vendus.vendus import VendusUnavailable

    client = make_client(get_retries=0)
    rsps.add(responses.GET, url("stores/"), json={"unexpected": True})
    with pytest.raises(VendusUnavailable):
        client.list_stores()
