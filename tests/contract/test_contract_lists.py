"""Contract: GET documents/ filters, lazy pagination, paginator headers and the empty-list 404."""

from __future__ import annotations

from datetime import date

import pytest
import requests
from contract_kit import KEY_A, KEY_B, ROW_FIELDS, TODAY, Shop, assert_money_is_decimal, route_count


@pytest.fixture
def catalogue(shop, client_b):
    """A small, varied set of documents (dates, types, registers, modes, clients, references)."""
    docs = {
        "ft_0301": shop.sale(date="2026-03-01", external_reference="ord-1"),
        "ft_0305": shop.sale(date="2026-03-05", client={"fiscal_id": "123456789"}),
        "fr_0305": shop.paid_sale("FR", date="2026-03-05", external_reference="ord-2"),
        "ft_today": shop.sale(external_reference="ord-3"),
        "ot_today": shop.sale("OT"),
        "ft_register2": shop.sale(register_id=shop.test_register, mode="normal", client={"fiscal_id": "123456789"}),
        "ft_tests": shop.sale(mode="tests", external_reference="ord-1"),
    }
    docs["rg"] = shop.receipt([docs["ft_today"]])
    shop.client.cancel_document(docs["rg"]["id"])
    Shop(client_b).sale(external_reference="ord-1")  # another account's document never shows up
    return docs


def _ids(rows) -> list[int]:
    return sorted(row["id"] for row in rows)


def _of(docs, *names) -> list[int]:
    return sorted(docs[name]["id"] for name in names)


def test_rows_come_in_the_list_shape(client, catalogue):
    rows = list(client.list_documents())
    assert rows and all(set(row) >= ROW_FIELDS and isinstance(row["status"], str) for row in rows)
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    assert_money_is_decimal(rows)


def test_since_and_until_are_inclusive_dates(client, catalogue):
    docs = catalogue
    rows = client.list_documents(since=date(2026, 3, 5), until="2026-03-05")
    assert _ids(rows) == _of(docs, "ft_0305", "fr_0305")  # an FR makes no automatic RG (§7.2)
    assert _ids(client.list_documents(until="2026-03-01")) == _of(docs, "ft_0301")
    since_today = _ids(client.list_documents(since=TODAY))
    assert docs["ft_today"]["id"] in since_today and docs["ft_0305"]["id"] not in since_today


def test_type_takes_a_comma_list(client, catalogue):
    docs = catalogue
    assert _ids(client.list_documents(type="OT")) == _of(docs, "ot_today")
    both = _ids(client.list_documents(type=["FR", "OT"]))  # the client sends "FR,OT"
    assert both == _of(docs, "fr_0305", "ot_today")
    assert _ids(client.list_documents(type="FR,OT")) == both
    assert {r["type"] for r in client.list_documents(type=("FT", "FR", "RG"))} == {"FT", "FR", "RG"}


def test_status_filter(client, catalogue):
    assert _ids(client.list_documents(status="A")) == [catalogue["rg"]["id"]]
    assert catalogue["rg"]["id"] not in _ids(client.list_documents(status="N"))


def test_store_and_register_filters(client, client_b, shop, catalogue):
    every = _ids(client.list_documents())
    assert _ids(client.list_documents(store_id=shop.store)) == every
    other_store = client_b.list_stores()[0]["id"]
    assert list(client.list_documents(store_id=other_store)) == []
    assert _ids(client.list_documents(register_id=shop.test_register)) == _of(catalogue, "ft_register2")
    assert catalogue["ft_register2"]["id"] not in _ids(client.list_documents(register_id=shop.register))


def test_external_reference_and_client_fiscal_id_filters(client, catalogue):
    assert _ids(client.list_documents(external_reference="ord-1")) == _of(catalogue, "ft_0301")
    assert _ids(client.find_documents_by_external_reference("ord-2")) == _of(catalogue, "fr_0305")
    assert _ids(client.find_documents_by_external_reference("ord-1", mode="tests")) == _of(catalogue, "ft_tests")
    assert client.find_documents_by_external_reference("ord-404") == []
    by_nif = _ids(client.list_documents(client_fiscal_id="123456789"))
    assert by_nif == _of(catalogue, "ft_0305", "ft_register2")


def test_mode_filter(client, catalogue):
    assert _ids(client.list_documents(mode="tests")) == _of(catalogue, "ft_tests")
    assert catalogue["ft_tests"]["id"] not in _ids(client.list_documents())
    assert catalogue["ft_tests"]["id"] not in _ids(client.list_documents(mode="normal"))


def test_filters_combine(client, catalogue):
    rows = client.list_documents(type="FT", since="2026-03-05", client_fiscal_id="123456789")
    assert _ids(rows) == _of(catalogue, "ft_0305", "ft_register2")


def test_pages_are_fetched_lazily(sim, client):
    requests.post(f"{sim.root_url}/_sim/bulk", json={"api_key": KEY_A, "n": 45}, timeout=10).raise_for_status()
    before = route_count(sim, "GET documents")
    pages = client.iter_document_pages(per_page=10)
    assert route_count(sim, "GET documents") == before  # nothing is fetched until asked for
    first = next(pages)
    assert route_count(sim, "GET documents") == before + 1
    assert (first.page, first.pages, first.total, len(first.items)) == (1, 5, 45, 10)
    second = next(pages)
    assert route_count(sim, "GET documents") == before + 2
    assert second.items[0]["id"] == first.items[-1]["id"] + 1
    rest = list(pages)
    assert [p.page for p in rest] == [3, 4, 5]
    assert len(rest[-1].items) == 5
    assert route_count(sim, "GET documents") == before + 5  # never asks for a 6th page
    ids = [row["id"] for page in (first, second, *rest) for row in page.items]
    assert len(ids) == len(set(ids)) == 45


def test_stopping_early_costs_one_request(sim, client):
    requests.post(f"{sim.root_url}/_sim/bulk", json={"api_key": KEY_A, "n": 30}, timeout=10).raise_for_status()
    before = route_count(sim, "GET documents")
    first_row = next(iter(client.list_documents(per_page=5)))
    assert first_row["number"].endswith("/1")
    assert route_count(sim, "GET documents") == before + 1


def test_default_page_size_is_20_with_paginator_headers(sim):
    requests.post(f"{sim.root_url}/_sim/bulk", json={"api_key": KEY_A, "n": 45}, timeout=10).raise_for_status()
    response = requests.get(f"{sim.base_url}/documents/", auth=(KEY_A, ""), timeout=5)
    assert response.status_code == 200
    assert len(response.json()) == 20
    assert response.headers["X-Paginator-Items"] == "45"
    assert response.headers["X-Paginator-Pages"] == "3"
    last = requests.get(f"{sim.base_url}/documents/", params={"page": 3}, auth=(KEY_A, ""), timeout=5)
    assert len(last.json()) == 5
    past = requests.get(f"{sim.base_url}/documents/", params={"page": 4}, auth=(KEY_A, ""), timeout=5)
    assert past.status_code == 404


def test_empty_result_is_a_404_a001_on_the_wire_and_an_empty_list_in_the_client(sim, client):
    response = requests.get(f"{sim.base_url}/documents/", auth=(KEY_B, ""), timeout=5)
    assert response.status_code == 404
    assert response.json() == {"errors": [{"code": "A001", "message": "No data"}]}
    assert list(client.list_documents()) == []
    assert list(client.iter_document_pages()) == []
    assert client.find_documents_by_external_reference("nothing") == []
    assert list(client.list_clients(fiscal_id="501964843")) == []
    assert route_count(sim, "GET documents") == 3  # one request each, no retries on the empty 404
