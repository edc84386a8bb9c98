"""List rows are fingerprinted without a Decimal per amount, with the very same result."""

from __future__ import annotations

import pytest

from kapta_vendus.pipeline.mirror import _money, _money_text, fingerprint


@pytest.mark.parametrize("value", ["12.30", "0.00", "-1.50", "100000.99", "12.3", "12", "1e2", "007.00", "-0.00",
                                   "", None, "abc", 3.5, 12])
def test_the_fast_money_text_is_the_decimal_one(value):
    assert _money_text(value) == str(_money(value))


def test_a_fingerprint_changes_with_what_the_poller_compares_only():
    row = {"id": 1, "type": "FT", "number": "FT 1/1", "status": "N", "amount_gross": "12.30",
           "payment_status": "unpaid", "total_unpaid": "12.30", "date": "2026-11-30"}
    assert fingerprint(row) == fingerprint({**row, "amount_gross": "12.3", "date": "2026-12-01"})
    assert fingerprint(row) != fingerprint({**row, "total_unpaid": "0.00"})
    assert fingerprint(row) != fingerprint({**row, "status": {"id": "A"}})
