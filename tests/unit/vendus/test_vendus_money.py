"""Money is Decimal in both directions; flags and text sharing a key name are left alone."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st
from vendus_testkit import url

from kapta_vendus.vendus import VendusPayloadError
from kapta_vendus.vendus.money import decimalize, dumps, format_money, format_qty, loads

DETAIL = {
    "id": 501,
    "type": "FT",
    "number": "FT T01P2026/12",
    "amount_gross": "123.00",
    "amount_net": "100.00",
    "status": {"id": "N", "date": "2026-11-25", "user_id": 3},
    "taxes": [{"rate": "23.00", "base": "100.00", "amount": "23.00", "total": "123.00"}],
    "discounts": {"amount": "0.00", "percentage": "0.00", "total": "0.00"},
    "payments": [{"id": 24934, "title": "Dinheiro", "amount": "123.00", "change": "0.00"}],
    "debt": {"total": "123.00", "paid": "123.00", "unpaid": "0.00"},
    "items": [
        {
            "id": 9,
            "qty": "3.530",
            "qty_nc": "3.530",
            "title": "Café 1.50",
            "reference": "1.50",
            "amounts": {
                "net_unit": "28.33",
                "net_total": "100.00",
                "gross_unit": "34.84",
                "gross_total": "123.00",
            },
            "discounts": {"amount": "0.00", "percentage": "0", "calculated_percentage": "0.00"},
            "tax": {"id": "NOR", "rate": 23, "exemption": "", "exemption_law": ""},
        }
    ],
    "related_docs": [{"id": 502, "type": "RG", "number": "RG T01P2026/3", "amount": "123.00", "status": "N"}],
    "client": {"id": 7, "fiscal_id": "123456789", "name": "Ana", "postalcode": "1000-001"},
}


def test_document_detail_money_and_qty_become_decimal():
    doc = decimalize(DETAIL)
    assert doc["amount_gross"] == Decimal("123.00") and isinstance(doc["amount_gross"], Decimal)
    assert doc["amount_net"] == Decimal("100.00")
    assert doc["taxes"][0] == {
        "rate": Decimal("23.00"),
        "base": Decimal("100.00"),
        "amount": Decimal("23.00"),
        "total": Decimal("123.00"),
    }
    assert doc["payments"][0]["amount"] == Decimal("123.00")
    assert doc["payments"][0]["change"] == Decimal("0.00")
    assert doc["debt"] == {"total": Decimal("123.00"), "paid": Decimal("123.00"), "unpaid": Decimal("0.00")}
    item = doc["items"][0]
    assert item["qty"] == Decimal("3.530") and str(item["qty"]) == "3.530"
    assert item["qty_nc"] == Decimal("3.530")
    assert set(item["amounts"].values()) == {
        Decimal("28.33"),
        Decimal("100.00"),
        Decimal("34.84"),
        Decimal("123.00"),
    }
    assert item["discounts"]["percentage"] == Decimal("0")
    assert doc["related_docs"][0]["amount"] == Decimal("123.00")


def test_text_ids_and_flags_are_left_alone():
    doc = decimalize(DETAIL)
    assert doc["number"] == "FT T01P2026/12"
    assert doc["items"][0]["title"] == "Café 1.50"
    assert doc["items"][0]["reference"] == "1.50"
    assert doc["client"]["fiscal_id"] == "123456789"
    assert doc["status"]["id"] == "N"
    assert decimalize({"id": 1, "title": "MB", "change": "1", "type": "NU"})["change"] == "1"


def test_list_row_and_product_fields():
    row = decimalize(
        {"id": 1, "amount_gross": "10.50", "total_unpaid": "10.50", "status": "N", "qty_left_to_invoice": "2"}
    )
    assert row["total_unpaid"] == Decimal("10.50") and row["qty_left_to_invoice"] == Decimal("2")
    product = decimalize(
        {"gross_price": "2.50", "supply_price": "1.00", "prices": [{"id": 1, "price": "2.40"}]}
    )
    assert product["gross_price"] == Decimal("2.50") and product["prices"][0]["price"] == Decimal("2.40")


def test_json_numbers_never_become_float():
    data = loads(b'{"amount_gross": 12.3, "rate": 23.0, "id": 7, "other": 0.1}')
    assert data == {
        "amount_gross": Decimal("12.3"),
        "rate": Decimal("23.0"),
        "id": 7,
        "other": Decimal("0.1"),
    }
    assert not any(isinstance(v, float) for v in data.values())


def test_client_returns_decimals(rsps, client):
    rsps.add(responses.GET, url("documents/501"), body=json.dumps(DETAIL))
    doc = client.get_document(501)
    assert doc["debt"]["unpaid"] == Decimal("0.00")


def test_payload_money_two_decimals_qty_plain(rsps, client):
    rsps.add(responses.POST, url("documents/"), status=201, json={"id": 1, "amount_gross": "7.50"})
    created = client.create_document(
        {
            "type": "FR",
            "date": date(2026, 11, 25),
            "items": [
                {"qty": Decimal("1.500"), "gross_price": Decimal("5"), "discount_percentage": Decimal("3.5")},
                {"qty": 2, "gross_price": Decimal("0.1"), "discount_amount": Decimal("0.10")},
            ],
            "payments": [{"id": 24934, "amount": Decimal("7.50")}],
        }
    )
    assert created["amount_gross"] == Decimal("7.50")
    sent = json.loads(rsps.calls[0].request.body)
    assert sent["date"] == "2026-11-25"
    assert sent["items"][0] == {"qty": "1.500", "gross_price": "5.00", "discount_percentage": "3.5"}
    assert sent["items"][1] == {"qty": "2", "gross_price": "0.10", "discount_amount": "0.10"}
    assert sent["payments"] == [{"id": 24934, "amount": "7.50"}]


@pytest.mark.parametrize(
    "payload",
    [
        {"items": [{"qty": 1, "gross_price": 1.1}]},
        {"payments": [{"id": 1, "amount": Decimal("1.005")}]},
        {"items": [{"qty": 0.5}]},
        {"items": [{"qty": 1, "gross_price": Decimal("NaN")}]},
    ],
)
def test_unsafe_money_is_refused_before_sending(rsps, client, payload):
    with pytest.raises(VendusPayloadError):
        client.create_document(payload)
    assert len(rsps.calls) == 0


def test_format_helpers():
    assert format_money(Decimal("10.000")) == "10.00"
    assert format_money(3) == "3.00"
    assert format_money("2.5") == "2.50"
    assert format_qty(Decimal("1E+1")) == "10"
    assert dumps({"amount": Decimal("1.2")}) == b'{"amount":"1.20"}'
    assert dumps({"rate": Decimal("23")}) == b'{"rate":"23"}'


@settings(derandomize=True, database=None)
@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_money_round_trips_exactly(value):
    text = format_money(value)
    assert Decimal(text) == value
    assert len(text.split(".")[1]) == 2
    assert decimalize({"amount": text})["amount"] == value
