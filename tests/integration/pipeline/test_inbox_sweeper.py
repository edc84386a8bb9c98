"""The inbox sweeper on PostgreSQL: nothing accepted is lost even if the broker loses every message.

An event is picked when it is unfinished, untouched for ``sweep_grace`` seconds and not waiting
for a scheduled retry; it is enqueued only after the sweep commits, and never twice in a row.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kapta_vendus.db.models import Event, utcnow
from kapta_vendus.pipeline.inbox import store_event
from kapta_vendus.pipeline.sweeper import sweep_inbox

pytestmark = pytest.mark.integration


@pytest.fixture
def inbox(pipeline, envelopes):
    """``inbox(status=..., age=seconds, retry_in=seconds)`` → the id of a stored event."""

    def add(*, status: str = "received", age: float = 0, retry_in: float | None = None) -> int:
        with pipeline.db.unit_of_work() as session:
            stored = store_event(session, pipeline.tenant.id, source="push",
                                 envelope=envelopes.sale_completed(), status=status)
        values = {"updated_at": utcnow() - timedelta(seconds=age)}
        if retry_in is not None:
            values["retry_at"] = utcnow() + timedelta(seconds=retry_in)
        pipeline.set_event(stored.event_id, **values)
        return stored.event_id

    return add


class Recorder:
    def __init__(self, db):
        self.db, self.ids, self.committed, self.starts = db, [], [], []

    def __call__(self, event_id: int, *, start_at: str | None = None) -> None:
        self.ids.append(event_id)
        self.starts.append(start_at)
        with self.db.unit_of_work() as session:  # another connection: sees only committed work
            self.committed.append(session.scalar(select(Event.updated_at).where(Event.id == event_id)))


def test_stale_unfinished_events_are_enqueued_again(pipeline, inbox):
    grace = pipeline.settings.sweep_grace
    never_enqueued = inbox(age=grace + 5)
    worker_died = inbox(status="in_flight", age=grace + 5)
    recent = inbox(age=grace - 30)
    recorder = Recorder(pipeline.db)

    swept = sweep_inbox(pipeline.db, pipeline.settings, enqueue=recorder)

    assert swept == [never_enqueued, worker_died]
    assert recorder.ids == swept
    assert recent not in recorder.ids
    # The touch is committed before the enqueue, so the next sweep leaves them alone for a while.
    assert all(when > utcnow() - timedelta(seconds=5) for when in recorder.committed)
    assert sweep_inbox(pipeline.db, pipeline.settings, enqueue=recorder) == []
    assert recorder.ids == swept


def test_events_waiting_for_a_retry_are_left_alone(pipeline, inbox):
    grace = pipeline.settings.sweep_grace
    waiting = inbox(status="in_flight", age=grace + 5, retry_in=60)
    retry_due = inbox(status="in_flight", age=grace + 5, retry_in=-1)
    recorder = Recorder(pipeline.db)

    assert sweep_inbox(pipeline.db, pipeline.settings, enqueue=recorder) == [retry_due]
    assert waiting not in recorder.ids


@pytest.mark.parametrize("status", ["done", "rejected", "dead", "imported"])
def test_finished_events_are_never_swept(pipeline, inbox, status):
    inbox(status=status, age=pipeline.settings.sweep_grace * 100)
    recorder = Recorder(pipeline.db)

    assert sweep_inbox(pipeline.db, pipeline.settings, enqueue=recorder) == []
    assert recorder.ids == []


def test_concurrent_sweeps_skip_each_others_rows(pipeline, inbox):
    grace = pipeline.settings.sweep_grace
    held, free = inbox(age=grace + 5), inbox(age=grace + 5)
    recorder = Recorder(pipeline.db)

    with pipeline.db.unit_of_work() as other_sweep:  # another beat holds one row
        other_sweep.execute(select(Event.id).where(Event.id == held).with_for_update())
        assert sweep_inbox(pipeline.db, pipeline.settings, enqueue=recorder) == [free]

    assert recorder.ids == [free]


def test_a_swept_event_runs_to_done_with_one_document(pipeline, envelopes):
    # Accepted, but the broker lost the message: only the sweeper knows about it.
    event_id = pipeline.accept(envelopes.sale_completed())
    pipeline.set_event(event_id, updated_at=utcnow() - timedelta(seconds=pipeline.settings.sweep_grace + 1))
    swept: list[int] = []

    sweep_inbox(pipeline.db, pipeline.settings, enqueue=lambda event_id, start_at=None: swept.append(event_id))
    for swept_id in swept:
        pipeline.run_chain(swept_id)

    assert swept == [event_id]
    assert pipeline.event(event_id).status == "done"
    assert len(pipeline.documents(type="FS")) == 1


def test_batches_are_bounded(pipeline, inbox):
    grace = pipeline.settings.sweep_grace
    ids = [inbox(age=grace + 5) for _ in range(3)]

    first = sweep_inbox(pipeline.db, pipeline.settings, enqueue=lambda _id, **_: None, limit=2)
    second = sweep_inbox(pipeline.db, pipeline.settings, enqueue=lambda _id, **_: None, limit=2)

    assert first == ids[:2] and second == ids[2:]


def test_a_swept_event_resumes_at_the_stage_it_stopped_in(pipeline, inbox):
    grace = pipeline.settings.sweep_grace
    fresh, billing = inbox(age=grace + 5), inbox(status="in_flight", age=grace + 5)
    pipeline.set_event(billing, current_step="actions", updated_at=utcnow() - timedelta(seconds=grace + 5))
    recorder = Recorder(pipeline.db)

    sweep_inbox(pipeline.db, pipeline.settings, enqueue=recorder)

    assert list(zip(recorder.ids, recorder.starts, strict=True)) == [(fresh, "kapta.pipeline.prepare"),
                                                        (billing, "kapta.billing.bill")]


def test_after_a_redis_loss_every_unfinished_event_is_swept_at_once_oldest_first(pipeline, inbox):
    ids = [inbox(age=1), inbox(status="in_flight", age=0), inbox(age=2)]
    waiting = inbox(status="waiting", age=500)  # parked: the resumer's, not the sweeper's
    recorder = Recorder(pipeline.db)

    assert sweep_inbox(pipeline.db, pipeline.settings, enqueue=recorder) == []  # within the grace
    assert sweep_inbox(pipeline.db, pipeline.settings, enqueue=recorder, rebuild=True) == ids
    assert waiting not in recorder.ids
