"""Working days and the legal deadline (5th working day after the sale; PT national holidays)."""

from __future__ import annotations

from datetime import date

import pytest

from kapta_vendus.reconcile.deadline import add_working_days, is_working_day, legal_deadline, working_days_between


@pytest.mark.parametrize(("sale_day", "deadline"), [
    (date(2026, 11, 23), date(2026, 11, 30)),  # Monday: Tue..Fri, then Monday
    (date(2026, 11, 13), date(2026, 11, 20)),  # Friday: the weekend does not count
    (date(2026, 11, 28), date(2026, 12, 7)),  # Saturday: Dec 1 (Restoration of Independence) is a holiday
    (date(2026, 12, 4), date(2026, 12, 14)),  # Dec 8 (Immaculate Conception) is a holiday
    (date(2026, 4, 1), date(2026, 4, 9)),  # Good Friday 2026-04-03 moves with Easter
    (date(2026, 6, 1), date(2026, 6, 9)),  # Corpus Christi 2026-06-04
    (date(2025, 12, 23), date(2025, 12, 31)),  # Christmas
    (date(2027, 3, 24), date(2027, 4, 1)),  # Good Friday 2027-03-26
])
def test_the_legal_deadline_is_the_fifth_working_day_after_the_sale(sale_day, deadline):
    assert legal_deadline(sale_day) == deadline


def test_weekends_and_national_holidays_are_not_working_days():
    assert not is_working_day(date(2026, 11, 28))  # Saturday
    assert not is_working_day(date(2026, 11, 29))  # Sunday
    assert not is_working_day(date(2026, 6, 10))  # Dia de Portugal
    assert not is_working_day(date(2024, 3, 29))  # Good Friday 2024
    assert is_working_day(date(2026, 11, 25))


def test_working_days_between_counts_the_days_after_the_start():
    assert working_days_between(date(2026, 11, 27), date(2026, 11, 30)) == 1  # Fri → Mon
    assert working_days_between(date(2026, 11, 30), date(2026, 11, 30)) == 0
    assert working_days_between(date(2026, 12, 2), date(2026, 11, 30)) == -1  # Dec 1 is a holiday
    assert add_working_days(date(2026, 11, 30), 0) == date(2026, 11, 30)
