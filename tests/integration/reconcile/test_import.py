"""The historical import: mirror, links and imported events in bulk; resumable; rules only when asked."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from reconcile_testkit import API_KEY, SIM_TIMEOUT, World, make_world
from sqlalchemy import func, select

from kapta_vendus.db.models import Document, Event, Link, SyncCursor
from kapta_vendus.reconcile.importer import import_documents
from kapta_vendus.reconcile.replay import replay_imported
from kapta_vendus.simulator.ratelimit import RateLimitConfig
from kapta_vendus.vendus import VendusClient, VendusUnavailable

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def history(world: World, n: int, *, days: int = 300, prefix: str = "H-", **options) -> list[int]:
    today = date.fromisoformat(world.sim.state.today(API_KEY))
    return world.sim.state.bulk_create_documents(API_KEY, n, start_date=(today - timedelta(days=days)).isoformat(),
                                                 end_date=today.isoformat(), external_reference_prefix=prefix,
                                                 **options)


def since(world: World, days: int = 400) -> date:
    return date.fromisoformat(world.sim.state.today(API_KEY)) - timedelta(days=days)


def run_import(world: World, **options):
    options.setdefault("since", since(world))
    return import_documents(world.db, world.settings, world.integration_id, world.store_id, **options)


def mirrored_ids(world: World) -> list[int]:
    with world.db.unit_of_work() as session:
        return sorted(session.scalars(select(Document.vendus_id)
                                      .where(Document.integration_id == world.integration_id)))


def test_import_mirrors_links_and_records_without_billing(world: World):
    invoices = history(world, 250)
    paid = history(world, 40, days=0, prefix="P-", paid=True)  # each with its automatic RG (§7.2: FT only)
    quote = world.create(type="PF")
    world.patch(quote["id"], "F")
    posts = world.requests("documents", "POST")

    report = run_import(world, per_page=100)

    every = sorted(world.sim.state.accounts[API_KEY].docs)
    assert report.complete and report.documents == len(every) == 250 + 80 + 1
    assert mirrored_ids(world) == every
    assert report.by_type_status == {"FT N": 290, "RG N": 40, "PF F": 1}
    assert list(report.unmapped.values()) == [1]  # the quote: which invoice it became is not listed
    events = world.events()
    assert len(events) == report.events_created == 330
    assert {e.status for e in events} == {"imported"} and {e.source for e in events} == {"import"}
    assert {e.type for e in events} == {"invoice.created", "receipt.issued"}
    assert all(e.dedup_key == f"vendus:{json.loads(e.raw)['data']['id']}:N" for e in events)
    assert world.enqueued == [] and world.requests("documents", "POST") == posts
    assert world.count(Link) == 250 + 40  # the invoices carry their sale's reference
    first = world.mirror(invoices[0])
    assert (first.type, first.external_reference, first.fingerprint is not None) == ("FT", "H-1", True)
    assert world.mirror(paid[0]).status == "N"
    (run,) = world.runs("import")
    assert run.status == "ok" and run.counts["documents"] == 331


def test_an_interrupted_import_resumes_with_no_duplicates_and_no_gaps(world: World):
    history(world, 1000)

    class FailsOnPage4(VendusClient):
        def iter_pages(self, path, **filters):
            for page in super().iter_pages(path, **filters):
                if page.page == 4:
                    raise VendusUnavailable("connection reset")
                yield page

    client = FailsOnPage4(world.sim.base_url, API_KEY, timeout=SIM_TIMEOUT)
    with client, pytest.raises(VendusUnavailable):
        run_import(world, per_page=100, client=client)
    assert len(mirrored_ids(world)) == 300 and world.count(Event) == 300
    assert world.cursor("import:documents").position["page"] == 3
    assert world.runs("import")[0].status == "failed"

    stopped = run_import(world, per_page=100, max_pages=2)  # stopped again, cleanly this time
    assert (stopped.resumed_from_page, stopped.documents, stopped.complete) == (3, 200, False)

    before = world.requests("documents")
    done = run_import(world, per_page=100)
    assert done.complete and done.resumed_from_page == 5 and done.documents == 500
    assert world.requests("documents") - before == 5  # pages 6..10: nothing read twice
    assert mirrored_ids(world) == sorted(world.sim.state.accounts[API_KEY].docs)
    assert world.count(Event) == 1000
    with world.db.unit_of_work() as session:
        assert session.scalar(select(func.count(func.distinct(Event.dedup_key)))) == 1000
    assert done.by_type_status == {"FT N": 1000}  # the counts of the earlier runs are kept

    again = run_import(world, per_page=100)
    assert again.complete and again.documents == 0 and again.pages == 0


def test_a_restart_imports_again_without_duplicates(world: World):
    history(world, 120)
    run_import(world, per_page=50)
    report = run_import(world, per_page=50, restart=True)
    assert report.documents == 120 and report.events_created == 0
    assert world.count(Event) == 120 and world.count(Document) == 120


def test_a_different_window_does_not_reuse_the_checkpoint(world: World):
    history(world, 100, days=100)
    run_import(world, per_page=50, max_pages=1, since=since(world, 50))
    report = run_import(world, per_page=50, since=since(world, 120))
    assert report.resumed_from_page == 0 and report.complete
    assert world.count(Document) == 100


def test_after_an_import_polls_see_nothing_new(world: World):
    history(world, 500, days=10)
    run_import(world)
    before = world.requests()
    result = world.poll()
    # One call per watched resource: documents, and the clients and products of the first store.
    assert world.requests() - before == 3
    assert result.counts["new"] == result.counts["changed"] == result.counts["events"] == 0
    assert result.counts["unchanged"] == result.counts["listed"] > 0


def test_the_import_respects_the_rate_limit(world: World):
    history(world, 400)
    world.sim.state.rate_limiter.configure(RateLimitConfig(credits=4, window_seconds=1))
    report = run_import(world, per_page=50)
    assert report.complete and report.documents == 400
    assert "429" not in world.sim.state.stats.snapshot()["by_status"]


def test_rules_run_on_imported_events_only_when_asked(world_factory):
    world = world_factory(rules=[{"name": "big", "events": ["invoice.created"], "when": "total > 5",
                                  "actions": [{"kind": "notify", "params": {"template": "document_seen"}}]}])
    history(world, 30)
    run_import(world)
    assert all(e.status == "imported" for e in world.events())

    dry = replay_imported(world.db, world.integration_id, dry_run=True)
    assert dry.events == 30 and dry.rules == {"big": 30} and dry.actions == {"notify": 30}
    assert dry.invalid == {} and all(e.status == "imported" for e in world.events())

    done = replay_imported(world.db, world.integration_id, dry_run=False, enqueue=world.enqueued.append)
    assert done.enqueued == 30 and sorted(world.enqueued) == sorted(e.id for e in world.events())
    assert {e.status for e in world.events()} == {"received"}
    world.run_chain(world.enqueued[0])
    assert world.events(id=world.enqueued[0])[0].status == "done"


def test_the_import_works_on_sqlite_too(sqlite_db, rsettings, simulator):
    world = make_world(sqlite_db, rsettings.replace(database_url=str(sqlite_db.url)), simulator)
    history(world, 150)
    report = run_import(world, per_page=40)
    assert report.complete and report.events_created == 150
    assert world.count(Document) == 150 and world.count(Link) == 150
    assert run_import(world, per_page=40, restart=True).events_created == 0


def test_the_celery_window_job_continues_until_complete(world: World, monkeypatch):
    from kapta_vendus.config import set_settings
    from kapta_vendus.tasks import reconcile as tasks

    history(world, 300)
    set_settings(world.settings)
    continued: list[tuple] = []
    monkeypatch.setattr(tasks, "IMPORT_BUDGET", 0.0)  # stop after every page
    monkeypatch.setattr(tasks.import_window, "apply_async", lambda args: continued.append(tuple(args)))
    first, last = since(world).isoformat(), world.sim.state.today(API_KEY)

    result = tasks.import_window.apply(args=(world.integration_id, world.store_id, first, last)).get()
    assert not result["complete"] and continued == [(world.integration_id, world.store_id, first, last, False)]
    while continued:
        result = tasks.import_window.apply(args=continued.pop()).get()
    assert result["complete"] and world.count(Document) == 300
    with world.db.unit_of_work() as session:
        (resource,) = session.scalars(select(SyncCursor.resource).where(SyncCursor.resource.like("import:%")))
    assert resource == f"import:documents:{first}"
