"""Drift detection and the legal-deadline watchdog, against PostgreSQL and the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from reconcile_testkit import API_KEY, World

from kapta_vendus.db.models import Alert, Event, StepRun
from kapta_vendus.pipeline.inbox import store_event
from kapta_vendus.pipeline.mirror import link, upsert_document
from kapta_vendus.pipeline.references import sale_key
from kapta_vendus.reconcile.deadline import watch_deadlines
from kapta_vendus.reconcile.drift import detect_drift
from kapta_vendus.reconcile.policy import ReconcilePolicy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

CHANNEL = {"url": "json://localhost/ops", "events": ["*"]}


class Outbox:
    """Stands in for apprise: records what would be sent, and can refuse."""

    def __init__(self, accept: bool = True) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.accept = accept

    def __call__(self, url: str, title: str, body: str) -> bool:
        self.sent.append((url, title, body))
        return self.accept


@pytest.fixture
def alerting(world_factory) -> World:
    return world_factory(notifications={"language": "en", "channels": [CHANNEL]})


def add_sale(world: World, sale_id: str, closed_at: datetime, *, status: str = "done") -> int:
    envelope = {"id": f"evt-{sale_id}", "type": "sale.completed", "occurred_at": closed_at.isoformat(),
                "store_id": world.store_id,
                "data": {"sale_id": sale_id, "closed_at": closed_at.isoformat(), "customer": None,
                         "lines": [{"title": "Café", "qty": "1", "unit_price": "0.80", "tax": "RED"}],
                         "payments": [], "payment_status": "pending"}}
    with world.db.unit_of_work() as session:
        stored = store_event(session, world.integration_id, source="push", envelope=envelope)
        event = session.get(Event, stored.event_id)
        event.received_at, event.status = closed_at, status
    return stored.event_id


def invoice_sale(world: World, sale_id: str, **body) -> dict:
    """The sale's FT, made in Vendus and mirrored and linked here (as the pipeline would)."""
    ft = world.create(type="FT", external_reference=sale_id, **body)
    detail = world.sim.state.get_document(API_KEY, ft["id"])
    with world.db.unit_of_work() as session:
        row = upsert_document(session, world.integration_id, detail, mode="normal", issued_here=True,
                              store_id=world.store_id)
        link(session, world.integration_id, "sale", sale_key(world.store_id, sale_id), "invoiced_by", "document",
             str(row.id))
    return ft


# -- the deadline watchdog ---------------------------------------------------------------------------
MONDAY = datetime(2026, 11, 23, 10, tzinfo=UTC)  # legal deadline of a Monday sale: Monday 2026-11-30
FRIDAY = datetime(2026, 11, 27, 12, tzinfo=UTC)  # one working day left


def test_the_watchdog_fires_once_per_sale_near_its_deadline(alerting: World):
    add_sale(alerting, "LATE-1", MONDAY)
    add_sale(alerting, "FRESH-1", FRIDAY - timedelta(hours=1))  # deadline a week away
    add_sale(alerting, "DONE-1", MONDAY)
    invoice_sale(alerting, "DONE-1")
    outbox = Outbox()

    first = watch_deadlines(alerting.db, alerting.integration_id, now=FRIDAY, sender=outbox)
    second = watch_deadlines(alerting.db, alerting.integration_id, now=FRIDAY + timedelta(hours=6), sender=outbox)

    assert (first.watched, first.approaching, first.alerted) == (2, 1, 1)
    assert (second.approaching, second.alerted) == (1, 0)
    (sent,) = outbox.sent
    assert sent[1].startswith("URGENT") and "LATE-1" in sent[2] and "2026-11-30" in sent[2]
    assert alerting.count(Alert) == 1


def test_the_watchdog_waits_for_the_margin_and_catches_overdue_sales(alerting: World):
    add_sale(alerting, "LATE-2", MONDAY)
    outbox = Outbox()
    thursday = FRIDAY - timedelta(days=1)  # two working days left
    assert watch_deadlines(alerting.db, alerting.integration_id, now=thursday, sender=outbox).alerted == 0
    wider = ReconcilePolicy(deadline_margin_days=2)
    assert watch_deadlines(alerting.db, alerting.integration_id, now=thursday, sender=outbox,
                           policy=wider).alerted == 1

    add_sale(alerting, "LATE-3", MONDAY - timedelta(days=14))
    overdue = watch_deadlines(alerting.db, alerting.integration_id, now=FRIDAY, sender=outbox)
    assert overdue.overdue == 1 and overdue.alerted == 1
    assert "it has passed" in outbox.sent[-1][2]


def test_a_failed_delivery_is_retried_by_the_next_watch(alerting: World):
    add_sale(alerting, "LATE-4", MONDAY)
    refusing = Outbox(accept=False)
    assert watch_deadlines(alerting.db, alerting.integration_id, now=FRIDAY, sender=refusing).alerted == 0
    assert alerting.count(Alert) == 0
    working = Outbox()
    assert watch_deadlines(alerting.db, alerting.integration_id, now=FRIDAY, sender=working).alerted == 1
    assert len(working.sent) == 1


def test_sales_whose_rules_planned_no_document_are_not_watched(alerting: World):
    event_id = add_sale(alerting, "STAFF-MEAL", MONDAY)
    with alerting.db.unit_of_work() as session:
        session.add(StepRun(integration_id=alerting.integration_id, event_id=event_id, step="rules",
                            status="ok", output={"actions": [{"kind": "notify", "params": {}}]}))
    assert watch_deadlines(alerting.db, alerting.integration_id, now=FRIDAY, sender=Outbox()).watched == 0


# -- drift ---------------------------------------------------------------------------------------------
def test_drift_finds_each_kind_and_notifies_once(alerting: World):
    now = datetime.now(UTC)
    # 1. a sale accepted two hours ago, never invoiced
    add_sale(alerting, "LOST-1", now - timedelta(hours=2), status="dead")
    # 2. a document we issued that Vendus does not have
    with alerting.db.unit_of_work() as session:
        upsert_document(session, alerting.integration_id,
                        {"id": 987654, "type": "FT", "number": "FT 01P2026/999", "status": "N",
                         "date": now.date().isoformat(), "amount_gross": "1.00"},
                        mode="normal", issued_here=True, store_id=alerting.store_id)
    # 3. a receipt cancelled in Vendus after we mirrored it
    paid_ft = alerting.create(type="FT")
    rg = alerting.create(type="RG", payments=[{"id": alerting.method_id(), "amount": "0.50"}],
                         invoices=[{"document_number": paid_ft["number"]}])
    alerting.poll()
    alerting.patch(rg["id"], "A")
    # 4. our invoice, paid in part by a receipt made by hand in Vendus (unknown here)
    ft = invoice_sale(alerting, "PART-1")
    alerting.create(type="RG", payments=[{"id": alerting.method_id(), "amount": "1.00"}],
                    invoices=[{"document_number": ft["number"]}])
    outbox = Outbox()

    first = detect_drift(alerting.db, alerting.settings, alerting.integration_id, sender=outbox)
    second = detect_drift(alerting.db, alerting.settings, alerting.integration_id, sender=outbox)

    by_kind = {f.kind: f for f in first.findings}
    assert set(by_kind) == {"no_document", "missing", "status", "receipt_mismatch"}
    assert by_kind["no_document"].details["sale_id"] == "LOST-1"
    assert by_kind["missing"].details["vendus_id"] == 987654
    assert (by_kind["status"].details["ours"], by_kind["status"].details["theirs"]) == ("N", "A")
    assert (by_kind["receipt_mismatch"].details["receipts"], by_kind["receipt_mismatch"].details["paid"]) == (
        "0.00", "1.00")
    assert first.found == 4 and first.counts["alerted"] == 4
    assert second.found == 4 and second.counts["alerted"] == 0
    (sent,) = outbox.sent
    assert "4 new difference(s)" in sent[2] and "LOST-1" in sent[2]
    runs = alerting.runs("drift")
    assert [r.status for r in runs] == ["ok", "ok"] and runs[0].counts["missing"] == 1
    assert {d["kind"] for d in runs[0].details} == {"no_document", "missing", "status", "receipt_mismatch"}


def test_no_drift_when_everything_agrees(alerting: World):
    now = datetime.now(UTC)
    add_sale(alerting, "OK-1", now - timedelta(hours=2))
    ft = invoice_sale(alerting, "OK-1")
    alerting.poll()
    assert ft["id"]
    result = detect_drift(alerting.db, alerting.settings, alerting.integration_id, sender=Outbox())
    assert result.found == 0, result.findings


def test_a_sale_within_its_sla_is_not_drift(alerting: World):
    add_sale(alerting, "NEW-1", datetime.now(UTC) - timedelta(minutes=5), status="in_flight")
    assert detect_drift(alerting.db, alerting.settings, alerting.integration_id, sender=Outbox()).found == 0
