"""Lazy pagination: pages are fetched only when consumed, and iteration stops at the right place."""

from __future__ import annotations

import responses
from responses import matchers
from vendus_testkit import NO_DATA, url

from kapta_vendus.vendus import Page
from kapta_vendus.vendus.money import decimalize


def rows(start: int, count: int) -> list[dict]:
    return [{"id": i, "amount_gross": "1.00"} for i in range(start, start + count)]


def add_page(rsps, path, number, body, *, per_page=2, headers=None, status=200, extra=None):
    query = {"page": str(number), "per_page": str(per_page), **(extra or {})}
    rsps.add(
        responses.GET,
        url(path),
        json=body,
        status=status,
        headers=headers or {},
        match=[matchers.query_param_matcher(query)],
    )


def test_second_page_is_not_fetched_until_consumed(rsps, make_client):
    client = make_client(per_page=2)
    headers = {"X-Paginator-Items": "3", "X-Paginator-Pages": "2"}
    add_page(rsps, "documents/", 1, rows(1, 2), headers=headers)
    add_page(rsps, "documents/", 2, rows(3, 1), headers=headers)

    pages = client.iter_document_pages()
    assert len(rsps.calls) == 0  # creating the iterator costs nothing
    first = next(pages)
    assert first == Page(items=decimalize(rows(1, 2)), page=1, pages=2, total=3)
    assert len(rsps.calls) == 1
    second = next(pages)
    assert (second.page, [r["id"] for r in second.items]) == (2, [3])
    assert len(rsps.calls) == 2
    assert next(pages, None) is None
    assert len(rsps.calls) == 2  # page 2 of 2 was the last one: no extra request


def test_rows_stream_lazily_across_pages(rsps, make_client):
    client = make_client(per_page=2)
    add_page(rsps, "documents/", 1, rows(1, 2))
    add_page(rsps, "documents/", 2, rows(3, 2))
    add_page(rsps, "documents/", 3, rows(5, 1))
    documents = client.list_documents()
    seen = [next(documents)["id"], next(documents)["id"]]
    assert seen == [1, 2] and len(rsps.calls) == 1
    seen.append(next(documents)["id"])
    assert len(rsps.calls) == 2
    seen.extend(d["id"] for d in documents)
    assert seen == [1, 2, 3, 4, 5]
    assert len(rsps.calls) == 3  # stopped at the short page without headers


def test_empty_404_on_a_later_page_ends_iteration(rsps, make_client):
    client = make_client(per_page=2)
    add_page(rsps, "clients/", 1, rows(1, 2))
    add_page(rsps, "clients/", 2, NO_DATA, status=404)
    assert [c["id"] for c in client.list_clients()] == [1, 2]
    assert len(rsps.calls) == 2


def test_empty_first_page_yields_nothing(rsps, make_client):
    client = make_client(per_page=2)
    add_page(rsps, "products/", 1, NO_DATA, status=404)
    assert list(client.iter_pages("products/")) == []


def test_paginator_header_is_trusted_over_a_short_page(rsps, make_client):
    # If Vendus caps per_page below what we asked, pages are "short" but more exist.
    client = make_client(per_page=1000)
    headers = {"X-Paginator-Items": "150", "X-Paginator-Pages": "2"}
    add_page(rsps, "documents/", 1, rows(1, 100), per_page=1000, headers=headers)
    add_page(rsps, "documents/", 2, rows(101, 50), per_page=1000, headers=headers)
    assert len(list(client.list_documents())) == 150


def test_endpoint_ignoring_page_does_not_loop_forever(rsps, make_client):
    client = make_client(per_page=2)
    rsps.add(responses.GET, url("taxes/"), json=[{"id": "NOR", "rate": 23}, {"id": "RED", "rate": 6}])
    assert [t["id"] for t in client.list_taxes()] == ["NOR", "RED"]
    assert len(rsps.calls) == 2


def test_filters_and_per_page_in_query(rsps, make_client):
    client = make_client()
    add_page(
        rsps,
        "documents/",
        3,
        rows(1, 1),
        per_page=50,
        extra={"type": "FT,FR", "since": "2026-11-01", "store_id": "24994", "mode": "tests"},
    )
    result = list(
        client.list_documents(
            type=["FT", "FR"],
            since="2026-11-01",
            store_id=24994,
            mode="tests",
            until=None,
            page=3,
            per_page=50,
        )
    )
    assert [r["id"] for r in result] == [1]


def test_default_per_page_is_100(rsps, client):
    add_page(rsps, "stores/", 1, rows(1, 3), per_page=100)
    assert len(client.list_stores()) == 3
