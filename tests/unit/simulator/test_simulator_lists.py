"""GET documents/: filters, paging headers, empty results and large lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from simulator_testkit import KEY_A, error_code


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_json()
    return [row["id"] for row in response.get_json()]


def test_empty_list_is_404_no_data(api):
    response = api.get("documents/")
    assert response.status_code == 404
    assert response.get_json() == {"errors": [{"code": "A001", "message": "No data"}]}


def test_default_page_size_headers_and_id_order(api):
    created = [api.invoice()["id"] for _ in range(25)]
    response = api.get("documents/")
    assert ids(response) == created[:20]
    assert response.headers["X-Paginator-Items"] == "25"
    assert response.headers["X-Paginator-Pages"] == "2"
    assert ids(api.get("documents/", page=2)) == created[20:]
    assert api.get("documents/", page=3).status_code == 404
    assert ids(api.get("documents/", per_page=10, page=3)) == created[20:]


def test_paginator_headers_on_single_page_are_switchable(api, state):
    api.invoice()
    assert api.get("documents/").headers["X-Paginator-Pages"] == "1"
    state.assumptions.paginator_headers_on_single_page = False
    assert "X-Paginator-Pages" not in api.get("documents/").headers


def test_per_page_maximum_clamps_or_fails(api, state):
    api.state.bulk_create_documents(KEY_A, 120)
    state.assumptions.per_page_max = 100
    response = api.get("documents/", per_page=500)
    assert len(response.get_json()) == 100
    assert response.headers["X-Paginator-Pages"] == "2"
    state.assumptions.per_page_over_max = "error"
    assert error_code(api.get("documents/", per_page=500)) == "P001"


def test_default_max_is_1000(api, state):
    api.state.bulk_create_documents(KEY_A, 1001)
    assert len(api.get("documents/", per_page=5000).get_json()) == 1000


@pytest.mark.parametrize("params", [{"page": 0}, {"per_page": "x"}, {"page": "-1"}, {"since": "2026/01/01"}])
def test_bad_paging_or_dates_are_p001(api, params):
    api.invoice()
    assert error_code(api.get("documents/", **params)) == "P001"


def test_since_and_until_are_inclusive_dates_on_the_document_date(api, state):
    state.clock.set(state.clock.now() - timedelta(days=5), frozen=True)  # 2026-03-05
    early = api.invoice()["id"]
    state.clock.advance(timedelta(days=2))
    middle = api.invoice()["id"]
    state.clock.advance(timedelta(days=3))  # back to 2026-03-10
    late = api.invoice()["id"]
    backdated = api.invoice(type="PF", date="2026-03-01")["id"]
    assert ids(api.get("documents/", since="2026-03-07", until="2026-03-07")) == [middle]
    assert ids(api.get("documents/", since="2026-03-05")) == [early, middle, late]
    assert ids(api.get("documents/", until="2026-03-07")) == [early, middle, backdated]
    assert api.get("documents/", since="2026-03-11").status_code == 404


def test_since_until_can_use_system_time_instead(api, state):
    backdated = api.invoice(date="2026-03-01")["id"]
    assert ids(api.get("documents/", since="2026-03-01", until="2026-03-01")) == [backdated]
    state.assumptions.list_date_field = "system_time"
    assert api.get("documents/", since="2026-03-01", until="2026-03-01").status_code == 404
    assert ids(api.get("documents/", since="2026-03-10", until="2026-03-10")) == [backdated]


def test_type_filter_accepts_comma_lists(api, state):
    ft = api.invoice()["id"]
    fr = api.create(type="FR", items=[{"reference": "CAFE", "qty": 1}], payments=[{"id": api.cash}])["id"]
    pf = api.invoice(type="PF")["id"]
    assert ids(api.get("documents/", type="FT")) == [ft]
    assert ids(api.get("documents/", type="FT,FR")) == [ft, fr]
    assert ids(api.get("documents/", type="FR,PF")) == [fr, pf]
    response = api.get("documents/", type="FT,FG")
    assert response.status_code == 403 and error_code(response) == "A001"
    state.assumptions.type_filter_accepts_lists = False
    assert error_code(api.get("documents/", type="FT,FR")) == "A001"


def test_field_filters(api):
    second_register = next(r for r in api.account.registers.values() if r["mode"] == "tests")
    plain = api.invoice(external_reference="ext-1")["id"]
    with_client = api.invoice(client={"fiscal_id": "123456789"})["id"]
    other_register = api.invoice(register_id=second_register["id"], mode="normal")["id"]
    quote = api.invoice(type="OT")["id"]
    api.patch(f"documents/{quote}", {"status": "A"})
    assert ids(api.get("documents/", external_reference="ext-1")) == [plain]
    assert ids(api.get("documents/", client_fiscal_id="123456789")) == [with_client]
    assert ids(api.get("documents/", client_id=api.doc(with_client)["client"]["id"])) == [with_client]
    assert ids(api.get("documents/", register_id=second_register["id"])) == [other_register]
    assert ids(api.get("documents/", store_id=second_register["store_id"])) == [
        plain,
        with_client,
        other_register,
        quote,
    ]
    assert ids(api.get("documents/", status="A")) == [quote]
    assert ids(api.get("documents/", status="N", type="FT", q="01P2026/2")) == [with_client]
    assert api.get("documents/", store_id=1).status_code == 404
    assert error_code(api.get("documents/", status="Z")) == "P001"


def test_mode_filter_defaults_to_normal(api):
    real = api.invoice()["id"]
    test = api.invoice(mode="tests")["id"]
    assert ids(api.get("documents/")) == [real]
    assert ids(api.get("documents/", mode="tests")) == [test]
    assert error_code(api.get("documents/", mode="both")) == "P001"


def test_view_detailed_adds_client_to_rows(api, state):
    api.invoice(client={"fiscal_id": "123456789"})
    assert "client" not in api.get("documents/").get_json()[0]
    assert api.get("documents/", view="detailed").get_json()[0]["client"]["name"] == "Cliente Exemplo"
    state.assumptions.list_rows_client = "never"
    assert "client" not in api.get("documents/", view="detailed").get_json()[0]


def test_list_over_100k_documents_pages_filters_and_numbers(api, state):
    """100k documents: windows, far pages and type filters still answer correctly (how fast is a
    benchmark's question: bench/bench_import.py serves pages of the same bulk documents)."""
    state.bulk_create_documents(KEY_A, 100_000, start_date="2025-03-11", end_date="2026-03-09")
    state.bulk_create_documents(KEY_A, 50, payment_method_id=api.cash, paid=True)
    window = api.get("documents/", since="2026-03-10", until="2026-03-10", per_page=1000)
    last_page = api.get("documents/", page=5005)
    by_type = api.get("documents/", type="RG")
    assert window.headers["X-Paginator-Items"] == "100"  # 50 FT + their 50 RGs, all today
    assert last_page.headers["X-Paginator-Items"] == "100100"
    assert by_type.headers["X-Paginator-Items"] == "50"
    by_series: dict[tuple, list[int]] = {}
    for doc in state.accounts[KEY_A].docs.values():
        by_series.setdefault((doc["type"], doc["series"]), []).append(doc["seq"])
    assert set(by_series) == {("FT", "01P2025"), ("FT", "01P2026"), ("RG", "01P2026")}
    assert all(sorted(seqs) == list(range(1, len(seqs) + 1)) for seqs in by_series.values())
