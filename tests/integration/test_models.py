"""The models round-trip on both databases: money stays Decimal, instants stay aware, JSON stays JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, StatementError

from kapta_vendus.db import (
    Document,
    Event,
    Integration,
    IntegrationStore,
    Issuance,
    Link,
    ReconciliationRun,
    StepRun,
    SyncCursor,
    WebhookSecret,
    on_commit,
)

pytestmark = pytest.mark.integration

LISBON_SUMMER = timezone(timedelta(hours=1))
OCCURRED = datetime(2026, 7, 25, 10, 0, 0, 123456, tzinfo=LISBON_SUMMER)


def _integration(name: str = "Loja do Chiado") -> Integration:
    return Integration(
        name=name,
        vendus_base_url="http://127.0.0.1:9000/ws/v1.1",
        vendus_api_key_enc="gAAAAA-not-really",
        config={"events": ["sale.completed"], "fs_limit": "1000.00"},
        stores=[IntegrationStore(store_id=24994), IntegrationStore(store_id=24995)],
        secrets=[
            WebhookSecret(secret_enc="enc-1", expires_at=datetime(2026, 12, 1, tzinfo=UTC)),
            WebhookSecret(secret_enc="enc-2"),
        ],
    )


def _event(integration_id: str, dedup_key: str = "evt_01J0000000000000000000001") -> Event:
    return Event(
        integration_id=integration_id,
        source="push",
        type="sale.completed",
        dedup_key=dedup_key,
        external_id=dedup_key,
        store_id=24994,
        business_key="sale-42",
        occurred_at=OCCURRED,
        raw='{"id": "evt_01J…", "type": "sale.completed"}',
    )


def test_round_trip_of_every_model(any_db):
    with any_db.unit_of_work() as session:
        integration = _integration()
        session.add(integration)
        session.flush()
        event = _event(integration.id)
        session.add(event)
        session.flush()
        session.add_all([
            StepRun(integration_id=integration.id, event_id=event.id, step="validate", status="ok",
                    summary="valid", output={"lines": 2}, duration_ms=3),
            StepRun(integration_id=integration.id, event_id=event.id, step="bill", status="retrying",
                    attempt=2, error="VendusUnavailable", duration_ms=30001),
            Document(integration_id=integration.id, vendus_id=9001, type="FR", number="FR 01P2026/1",
                     date=date(2026, 7, 25), store_id=24994, amount_gross=Decimal("12.34"),
                     amount_net=Decimal("10.03"), total_unpaid=Decimal("0.00"),
                     external_reference="sale-42", issued_here=True,
                     raw={"id": 9001, "amount_gross": "12.34", "items": [{"qty": "1.000"}]}),
            Link(integration_id=integration.id, from_kind="sale", from_key="sale-42",
                 relation="invoiced_by", to_kind="document", to_key="9001"),
            Issuance(integration_id=integration.id, idempotency_key="a" * 64, kind="issue_document",
                     business_key="sale-42", event_id=event.id, state="issued", document_type="FR",
                     request={"type": "FR", "items": [{"gross_price": "12.34"}]}, vendus_id=9001,
                     document_number="FR 01P2026/1", attempts=1),
            SyncCursor(integration_id=integration.id, store_id=24994, resource="documents",
                       cursor_date=date(2026, 7, 24), position={"page": 3, "last_id": 9001}),
            ReconciliationRun(integration_id=integration.id, store_id=24994, kind="poll", status="ok",
                              counts={"seen": 10, "new": 1}, details=[{"vendus_id": 9001, "change": "new"}],
                              finished_at=OCCURRED + timedelta(seconds=5)),
        ])
        integration_id, event_id = integration.id, event.id

    with any_db.unit_of_work() as session:
        integration = session.get(Integration, integration_id)
        assert integration.name == "Loja do Chiado"
        assert (integration.status, integration.mode) == ("active", "normal")
        assert integration.config == {"events": ["sale.completed"], "fs_limit": "1000.00"}
        assert integration.store_ids == [24994, 24995]
        assert [s.secret_enc for s in integration.secrets] == ["enc-1", "enc-2"]
        assert integration.secrets[0].expires_at == datetime(2026, 12, 1, tzinfo=UTC)
        assert integration.secrets[1].expires_at is None

        event = session.get(Event, event_id)
        assert (event.status, event.attempts, event.business_key) == ("received", 0, "sale-42")
        assert event.raw == '{"id": "evt_01J…", "type": "sale.completed"}'
        assert event.occurred_at == OCCURRED
        assert [(s.step, s.status, s.attempt) for s in event.steps] == [
            ("validate", "ok", 1), ("bill", "retrying", 2)]
        assert event.steps[0].output == {"lines": 2}
        assert event.steps[1].output is None

        document = session.scalars(select(Document)).one()
        assert type(document.amount_gross) is Decimal
        assert document.amount_gross == Decimal("12.34")
        assert str(document.amount_gross) == "12.34"
        assert str(document.amount_net) == "10.03"
        assert document.total_unpaid == Decimal("0.00")
        assert document.date == date(2026, 7, 25)
        assert document.raw == {"id": 9001, "amount_gross": "12.34", "items": [{"qty": "1.000"}]}
        assert document.issued_here is True
        assert (document.mode, document.status) == ("normal", "N")

        link = session.scalars(select(Link)).one()
        assert (link.from_kind, link.from_key, link.relation, link.to_kind, link.to_key) == (
            "sale", "sale-42", "invoiced_by", "document", "9001")

        issuance = session.scalars(select(Issuance)).one()
        assert (issuance.state, issuance.vendus_id, issuance.event_id) == ("issued", 9001, event_id)
        assert issuance.request == {"type": "FR", "items": [{"gross_price": "12.34"}]}

        cursor = session.scalars(select(SyncCursor)).one()
        assert cursor.position == {"page": 3, "last_id": 9001}
        assert cursor.cursor_date == date(2026, 7, 24)

        run = session.scalars(select(ReconciliationRun)).one()
        assert run.counts == {"seen": 10, "new": 1}
        assert run.details == [{"vendus_id": 9001, "change": "new"}]
        assert run.finished_at == OCCURRED + timedelta(seconds=5)
        assert run.started_at.tzinfo is not None


def test_money_keeps_every_cent(any_db):
    amounts = [Decimal("0.01"), Decimal("0.10"), Decimal("12.34"), Decimal("999999999999.99"),
               Decimal("-12.34")]
    with any_db.unit_of_work() as session:
        integration = _integration()
        session.add(integration)
        session.flush()
        for n, amount in enumerate(amounts):
            session.add(Document(integration_id=integration.id, vendus_id=n, type="FT",
                                 number=f"FT 1/{n}", amount_gross=amount))
    with any_db.unit_of_work() as session:
        stored = session.scalars(select(Document.amount_gross).order_by(Document.vendus_id)).all()
    assert all(type(a) is Decimal for a in stored)
    assert [str(a) for a in stored] == [str(a) for a in amounts]


def test_datetimes_come_back_aware_in_utc(any_db):
    with any_db.unit_of_work() as session:
        integration = _integration()
        session.add(integration)
        session.flush()
        session.add(_event(integration.id))
    with any_db.unit_of_work() as session:
        event = session.scalars(select(Event)).one()
        for value in (event.occurred_at, event.received_at, event.updated_at):
            assert value.tzinfo is not None
            assert value.utcoffset() == timedelta(0)
        assert event.occurred_at == OCCURRED
        assert event.occurred_at.hour == 9  # 10:00 at +01:00, stored and returned as UTC
        assert abs(event.received_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_aware_comparisons_in_queries(any_db):
    # The sweeper asks "updated before <cutoff>": that must work whatever offset the cutoff has.
    with any_db.unit_of_work() as session:
        integration = _integration()
        session.add(integration)
        session.flush()
        session.add(_event(integration.id))
    before = OCCURRED.astimezone(timezone(timedelta(hours=-5))) - timedelta(seconds=1)
    after = OCCURRED.astimezone(timezone(timedelta(hours=9))) + timedelta(seconds=1)
    with any_db.unit_of_work() as session:
        assert session.scalars(select(Event).where(Event.occurred_at > before)).all()
        assert session.scalars(select(Event).where(Event.occurred_at < after)).all()
        assert not session.scalars(select(Event).where(Event.occurred_at > after)).all()


def test_naive_datetimes_are_refused(any_db):
    with pytest.raises(StatementError, match="naive datetime"), any_db.unit_of_work() as session:
        integration = _integration()
        integration.deleted_at = datetime(2026, 7, 25, 10, 0)  # naive: the point of the test
        session.add(integration)


def test_dedup_key_is_unique_per_integration(any_db):
    with any_db.unit_of_work() as session:
        first, second = _integration("A"), _integration("B")
        session.add_all([first, second])
        session.flush()
        session.add(_event(first.id))
        session.add(_event(second.id))  # same key, other tenant: fine
        first_id = first.id
    with pytest.raises(IntegrityError), any_db.unit_of_work() as session:
        session.add(_event(first_id))
    with any_db.unit_of_work() as session:
        count = select(func.count()).select_from(Event).where(Event.integration_id == first_id)
        assert session.scalar(count) == 1


def test_foreign_keys_are_enforced(any_db):
    with pytest.raises(IntegrityError), any_db.unit_of_work() as session:
        session.add(_event("no-such-integration"))


def test_unit_of_work_rolls_back_on_error(any_db):
    with pytest.raises(RuntimeError), any_db.unit_of_work() as session:
        session.add(_integration())
        session.flush()
        raise RuntimeError("boom")
    with any_db.unit_of_work() as session:
        assert session.scalars(select(Integration)).all() == []


def test_on_commit_hooks_run_after_commit(any_db):
    calls: list[str] = []
    with any_db.unit_of_work() as session:
        session.add(_integration())
        on_commit(session, lambda: calls.append("first"))
        on_commit(session, lambda: calls.append("second"))
        session.flush()
        assert calls == [], "nothing runs before the data is durable"
    assert calls == ["first", "second"]


def test_on_commit_hooks_see_committed_data(any_db):
    seen: list[int] = []

    def count_from_another_session() -> None:
        with any_db.unit_of_work() as other:
            seen.append(len(other.scalars(select(Integration)).all()))

    with any_db.unit_of_work() as session:
        session.add(_integration())
        on_commit(session, count_from_another_session)
    assert seen == [1]


def test_on_commit_hooks_are_dropped_on_rollback(any_db):
    calls: list[str] = []
    with pytest.raises(RuntimeError), any_db.unit_of_work() as session:
        on_commit(session, lambda: calls.append("rolled back"))
        raise RuntimeError("boom")
    with any_db.unit_of_work() as session:
        on_commit(session, lambda: calls.append("committed"))
    assert calls == ["committed"], "a rolled-back hook must not leak into a later transaction"


def test_savepoint_rollback_drops_only_its_own_hooks(any_db):
    # The receiver's dedup: insert in a savepoint, and on a duplicate roll only that back.
    calls: list[str] = []
    with any_db.unit_of_work() as session:
        integration = _integration()
        session.add(integration)
        session.flush()
        session.add(_event(integration.id))
        session.flush()
        on_commit(session, lambda: calls.append("outer"))
        with pytest.raises(IntegrityError), session.begin_nested():
            on_commit(session, lambda: calls.append("duplicate"))
            session.add(_event(integration.id))
            session.flush()
        with session.begin_nested():
            on_commit(session, lambda: calls.append("released savepoint"))
        on_commit(session, lambda: calls.append("after"))
    assert calls == ["outer", "released savepoint", "after"]


def test_a_failing_hook_does_not_undo_the_commit(any_db, caplog):
    calls: list[str] = []

    def broken() -> None:
        raise ConnectionError("broker down")

    with any_db.unit_of_work() as session:
        session.add(_integration())
        on_commit(session, broken)
        on_commit(session, lambda: calls.append("next"))
    assert calls == ["next"]
    assert "after-commit hook failed" in caplog.text
    with any_db.unit_of_work() as session:
        assert len(session.scalars(select(Integration)).all()) == 1
