"""The verdicts of the overview and of doctor's integration check, on given facts (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from kapta_vendus.admin.event_filter import as_csv
from kapta_vendus.admin.overview import IntegrationHealth, StorePoll, problems_of
from kapta_vendus.integrations.checkup import AccountView, checkup, mapping_problems
from kapta_vendus.vendus import VendusAuthError


def health(**changes) -> IntegrationHealth:
    polls = [StorePoll(24994, datetime(2026, 1, 1, tzinfo=UTC), 60.0)]
    return IntegrationHealth(**{
        "id": "i1", "name": "lisboa", "status": "active", "last_hour": {}, "last_day": {"done": 3},
        "oldest_unfinished_seconds": None, "dead": 0, "vendus_state": "ok", "breaker_open": False,
        "recent_errors": 0, "polls": polls, "drift_open": 0, "deadline_sales": 0, **changes})


def test_a_quiet_integration_has_no_problem(settings):
    assert problems_of(health(), settings) == []


def test_each_problem_is_named(settings):
    found = problems_of(health(oldest_unfinished_seconds=7300, dead=2, vendus_state="down", breaker_open=True,
                               polls=[StorePoll(1, None, None), StorePoll(2, None, 3 * 3600.0)], drift_open=1,
                               deadline_sales=4), settings)
    assert found == ["Vendus down (breaker open)", "an event has waited 2h (SLA 60m)", "2 dead event(s)",
                     "store 1 never polled successfully", "store 2 last polled 3h ago", "1 drift finding(s)",
                     "4 sale(s) near their legal deadline"]


def test_a_disabled_integration_is_not_a_problem(settings):
    assert problems_of(health(status="disabled", dead=3), settings) == []


def integration(mapping: dict) -> SimpleNamespace:
    return SimpleNamespace(mode="normal", config={"mapping": mapping}, store_ids=[24994, 5],
                           vendus_base_url="http://vendus.test/ws", name="lisboa")


def test_mapping_ids_must_exist_in_the_account():
    account = AccountView(stores={24994}, registers={3001}, payment_methods={11, 12})
    mapping = {"payment_methods": {"cash": 11, "card": 99}, "stores": {"24994": {"register_id": 3002}}}

    assert mapping_problems(integration(mapping), account) == [
        "store 5 is not in the Vendus account", "register 3002 (store 24994) does not exist in Vendus",
        "payment method card → 99 does not exist in Vendus"]


def test_a_refused_key_is_one_line_and_polling_verdicts_are_added(settings):
    def refused(settings, integration):
        raise VendusAuthError("invalid api key", status=401)

    found = checkup(settings, integration({}), health(polls=[StorePoll(24994, None, None)], dead=5),
                    reader=refused)
    assert found == ["Vendus at http://vendus.test/ws refused the API key (401): check the key",
                     "store 24994 never polled successfully"]


def test_csv_export_neutralises_formulas():
    text = as_csv([{"id": 1, "integration": "=HYPERLINK(\"x\")", "type": "sale.completed", "last_error": None}])
    assert text.splitlines() == [
        "id,integration,type,status,source,store_id,business_key,external_id,current_step,attempts,received_at,"
        "finished_at,last_error", "1,\"'=HYPERLINK(\"\"x\"\")\",sale.completed,,,,,,,,,,"]
