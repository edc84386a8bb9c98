"""The reconciliation tasks as Celery runs them (eagerly here; a real worker and beat in the e2e tests)."""

from __future__ import annotations

import pytest
from reconcile_testkit import World

from kapta_vendus.config import set_settings
from kapta_vendus.tasks import reconcile as tasks

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def sent(world: World, monkeypatch) -> list[tuple]:
    set_settings(world.settings)
    messages: list[tuple] = []

    class Signature:
        def __init__(self, name: str, args: tuple) -> None:
            self.name, self.args = name, args

        def apply_async(self, **options) -> None:
            messages.append((self.name, self.args, options))

    monkeypatch.setattr(tasks.app, "signature", lambda name, args: Signature(name, tuple(args)))
    monkeypatch.setattr(tasks, "enqueue_event", world.enqueued.append)
    return messages


def test_beat_fans_out_one_expiring_batch_of_stores_per_integration(world: World, world_factory, sent):
    other = world_factory(name="second")
    assert tasks.schedule_polls.apply().get() == 2
    assert sorted(sent) == sorted([
        ("kapta.reconcile.poll_stores", (world.integration_id, [world.store_id]), {"expires": 300}),
        ("kapta.reconcile.poll_stores", (other.integration_id, [other.store_id]), {"expires": 300})])


def test_a_batch_polls_its_stores_and_one_failure_spares_the_others(world: World, sent):
    world.create(type="FT")
    result = tasks.poll_stores.apply(args=(world.integration_id, [world.store_id, 987654])).get()
    assert result == {"integration_id": world.integration_id, "polled": 1, "failed": [987654]}
    assert len(world.enqueued) == 1


def test_checks_fan_out_per_integration(world: World, sent):
    assert tasks.schedule_checks.apply().get() == 1
    assert sent == [("kapta.reconcile.check_integration", (world.integration_id,), {"expires": 900})]
    result = tasks.check_integration.apply(args=(world.integration_id,)).get()
    assert result["drift"] == 0 and result["deadlines"]["watched"] == 0
    assert [r.kind for r in world.runs("drift")] == ["drift"]


def test_the_poll_task_polls_and_enqueues_after_commit(world: World, sent):
    world.create(type="FT")
    result = tasks.poll_store.apply(args=(world.integration_id, world.store_id)).get()
    assert result["counts"]["events"] == 1 and len(world.enqueued) == 1


def test_a_poll_of_a_deleted_integration_is_skipped(world: World, sent):
    result = tasks.poll_store.apply(args=("0" * 36, world.store_id)).get()
    assert result["skipped"]
