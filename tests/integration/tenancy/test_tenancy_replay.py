"""Replay of dead or rejected events: only from the failed step, and never a second document.

The simulator counts what reached the Vendus API, so "no duplicate" is checked where it matters:
in the Vendus account, not only in our tables.
"""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select
from tenancy_testkit import sale_envelope

from kapta_vendus.db.models import Issuance
from kapta_vendus.pipeline import runner

pytestmark = pytest.mark.integration


def _run_until_dead(world, event_id: int) -> None:
    """Run the chain; an error that escapes a step ends the event dead, as exhausted retries would."""
    try:
        world.run_chain(event_id)
    except Exception as exc:
        runner.mark_dead(world.db, event_id, exc)


def _replay(world, token: str, event_id: int, tenant=None):
    tenant = tenant or world.a
    return world.admin(token, f"/integrations/{tenant.id}/events/{event_id}/replay", method="POST")


def test_replay_from_sync_reaches_no_vendus(world, enqueued):
    envelope = sale_envelope(world.a.store_id)
    event_id = world.accept(world.a, envelope)
    world.run_chain(event_id, fail_at="sync")  # the document is issued, then the worker is lost
    assert world.event(event_id).status == "dead"
    posts = world.vendus_posts(world.a)
    operate = world.token("operate", tenant=world.a)

    response = _replay(world, operate, event_id)

    assert response.status_code == 202, response.get_json()
    assert response.get_json()["replayed"] == [{"event_id": event_id, "from_step": "sync"}]
    assert enqueued.events[-1] == (event_id, "kapta.pipeline.sync")
    world.run_enqueued()
    assert world.event(event_id).status == "done"
    assert world.vendus_posts(world.a) == posts
    assert len(world.vendus_documents(world.a, envelope["data"]["sale_id"])) == 1


def test_replay_after_an_unknown_outcome_adopts_the_document_vendus_made(world, enqueued):
    envelope = sale_envelope(world.a.store_id)
    event_id = world.accept(world.a, envelope)
    world.sim.state.faults.add_rule(methods=["POST"], paths=["documents"], commit_then_drop_rate=1, max_hits=1)
    _run_until_dead(world, event_id)  # Vendus created it, the answer was lost
    assert world.event(event_id).status == "dead"
    assert world.event(event_id).current_step == "actions"
    sale_id = envelope["data"]["sale_id"]
    assert len(world.vendus_documents(world.a, sale_id)) == 1

    assert _replay(world, world.token("operate", tenant=world.a), event_id).status_code == 202
    world.run_enqueued()

    assert world.event(event_id).status == "done"
    assert len(world.vendus_documents(world.a, sale_id)) == 1  # adopted, not issued again
    with world.db.unit_of_work() as session:
        (issuance,) = session.scalars(select(Issuance).where(Issuance.integration_id == world.a.id))
        assert issuance.state == "issued" and issuance.vendus_id is not None


def test_rejected_by_mapping_is_fixed_then_replayed_from_the_failed_step(world, enqueued):
    envelope = sale_envelope(world.a.store_id, method="voucher")
    event_id = world.process(world.a, envelope)
    event = world.event(event_id)
    assert (event.status, event.current_step) == ("rejected", "map")
    assert "voucher" in event.last_error

    fixed = copy.deepcopy(world.document)
    methods = fixed["integrations"][0]["mapping"]["payment_methods"]
    methods["voucher"] = methods["cash"]
    world.apply(fixed)
    response = _replay(world, world.token("operate", tenant=world.a), event_id)
    world.run_enqueued()

    assert response.get_json()["replayed"] == [{"event_id": event_id, "from_step": "map"}]
    assert world.event(event_id).status == "done"
    assert world.event(event_id).last_error is None
    assert len(world.vendus_documents(world.a, envelope["data"]["sale_id"])) == 1


def test_refused_by_vendus_is_resent_with_the_same_key_once_fixed(world, enqueued):
    broken = copy.deepcopy(world.document)
    store_key = str(world.a.store_id)
    good_register = broken["integrations"][0]["mapping"]["stores"][store_key]["register_id"]
    broken["integrations"][0]["mapping"]["stores"][store_key]["register_id"] = 999999
    world.apply(broken)
    envelope = sale_envelope(world.a.store_id)
    event_id = world.process(world.a, envelope)
    assert world.event(event_id).status == "rejected"
    with world.db.unit_of_work() as session:
        key = session.scalar(select(Issuance.idempotency_key).where(Issuance.state == "rejected"))

    broken["integrations"][0]["mapping"]["stores"][store_key]["register_id"] = good_register
    world.apply(broken)
    assert _replay(world, world.token("operate", tenant=world.a), event_id).status_code == 202
    world.run_enqueued()

    assert world.event(event_id).status == "done"
    docs = world.vendus_documents(world.a, envelope["data"]["sale_id"])
    assert len(docs) == 1
    with world.db.unit_of_work() as session:
        (issuance,) = session.scalars(select(Issuance))
        assert (issuance.idempotency_key, issuance.state) == (key, "issued")


def test_a_done_event_is_not_replayable_and_a_replayed_one_not_twice(world):
    done = world.process(world.a, sale_envelope(world.a.store_id))
    dead = world.accept(world.a, sale_envelope(world.a.store_id))
    world.run_chain(dead, fail_at="sync")
    operate = world.token("operate", tenant=world.a)

    assert _replay(world, operate, done).status_code == 409
    assert _replay(world, operate, dead).status_code == 202
    second = _replay(world, operate, dead)  # a double click before the worker ran
    assert second.status_code == 409
    assert "received" in second.get_json()["message"]
    assert _replay(world, operate, 987654).status_code == 404


def test_batch_replay_takes_only_this_integrations_matching_events(world, enqueued):
    dead_a = []
    for _ in range(3):
        event_id = world.accept(world.a, sale_envelope(world.a.store_id))
        world.run_chain(event_id, fail_at="sync")
        dead_a.append(event_id)
    rejected_a = world.process(world.a, sale_envelope(world.a.store_id, method="voucher"))
    dead_b = world.accept(world.b, sale_envelope(world.b.store_id))
    world.run_chain(dead_b, fail_at="sync")
    posts = world.vendus_posts(world.a)
    operate = world.token("operate", tenant=world.a)
    path = f"/integrations/{world.a.id}/replay"

    preview = world.admin(operate, path, method="POST", body={"statuses": ["dead"], "dry_run": True}).get_json()
    assert [r["event_id"] for r in preview["replayed"]] == dead_a and preview["dry_run"] is True
    assert enqueued.events == [] and world.event(dead_a[0]).status == "dead"

    done = world.admin(operate, path, method="POST", body={"statuses": ["dead"], "limit": 2}).get_json()
    assert [r["event_id"] for r in done["replayed"]] == dead_a[:2]
    rest = world.admin(operate, path, method="POST", body={}).get_json()
    assert {r["event_id"] for r in rest["replayed"]} == {dead_a[2], rejected_a}
    world.run_enqueued()

    assert all(world.event(e).status == "done" for e in dead_a)
    assert world.event(rejected_a).status == "rejected"  # still unmapped: rejected again, with its reason
    assert world.event(dead_b).status == "dead"  # another integration: untouched
    assert world.vendus_posts(world.a) == posts  # replayed from sync: nothing re-sent


def test_batch_replay_validates_its_filter(world):
    operate = world.token("operate", tenant=world.a)
    response = world.admin(operate, f"/integrations/{world.a.id}/replay", method="POST",
                           body={"statuses": ["done"], "limit": 0})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["json"]) == {"statuses", "limit"}
