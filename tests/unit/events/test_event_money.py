"""Money, quantities and percentages: decimal strings only, Decimal out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError

from kapta_vendus.events.fields import parse_decimal_string


def money(value):
    return parse_decimal_string(value, places=2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.90", Decimal("2.90")),
        ("0", Decimal(0)),
        ("10", Decimal(10)),
        ("0.5", Decimal("0.5")),
        ("007.10", Decimal("7.10")),
    ],
)
def test_accepted(text, expected):
    assert money(text) == expected
    assert isinstance(money(text), Decimal)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2.9, 'must be a decimal string such as "2.90", not a JSON number'),
        (3, 'must be a decimal string such as "2.90", not a JSON number'),
        (Decimal("2.9"), 'must be a decimal string such as "2.90", not a JSON number'),
        (True, 'must be a decimal string such as "2.90"'),
        (None, 'must be a decimal string such as "2.90"'),
        ("2,90", "must be a decimal string such as \"2.90\" (got '2,90')"),
        ("1e3", "must be a decimal string such as \"2.90\" (got '1e3')"),
        (" 2.90", "must be a decimal string such as \"2.90\" (got ' 2.90')"),
        ("+2.90", "must be a decimal string such as \"2.90\" (got '+2.90')"),
        ("2.", "must be a decimal string such as \"2.90\" (got '2.')"),
        ("NaN", "must be a decimal string such as \"2.90\" (got 'NaN')"),
        ("-1.00", "must not be negative"),
        ("2.901", "must have at most 2 decimal places (got 2.901)"),
        ("1234567890.00", "is too large (got 1234567890.00)"),
    ],
)
def test_refused(value, message):
    with pytest.raises(ValidationError) as caught:
        money(value)
    assert caught.value.messages == [message]


def test_quantity_allows_three_decimals_and_must_be_positive():
    assert parse_decimal_string("3.530", places=3, positive=True) == Decimal("3.530")
    with pytest.raises(ValidationError, match="greater than 0"):
        parse_decimal_string("0", places=3, positive=True)
    with pytest.raises(ValidationError, match="at most 3 decimal places"):
        parse_decimal_string("1.0001", places=3, positive=True)


def test_maximum():
    assert parse_decimal_string("100", places=2, maximum=Decimal(100)) == 100
    with pytest.raises(ValidationError, match=r"must be at most 100 \(got 100.01\)"):
        parse_decimal_string("100.01", places=2, maximum=Decimal(100))


@given(
    st.decimals(
        min_value=0, max_value=Decimal("999999999.99"), places=2, allow_nan=False, allow_infinity=False
    )
)
def test_money_round_trip(amount):
    text = f"{amount:f}"
    parsed = money(text)
    assert parsed == amount
    assert f"{parsed:f}" == text


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=999))
def test_three_written_decimals_are_refused_even_when_trailing_zero(units, thousandths):
    # "1.230" is refused like "1.234": the contract's format is at most 2 decimals as written.
    with pytest.raises(ValidationError, match="at most 2 decimal places"):
        money(f"{units}.{thousandths:03d}")


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers())
def test_json_numbers_are_always_refused(number):
    with pytest.raises(ValidationError, match="not a JSON number"):
        money(number)
