"""Polling over the real stack: the simulator, receiver, worker (and beat) as processes, Redis, PostgreSQL.

Changes made directly in the simulator (as staff do in the Vendus back office) reach the inbox
through ``kapta-vendus reconcile`` (the beat job's code), and the worker takes them to ``done``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import e2e_events as ev
import pytest
from e2e_stack import API_KEY, Stack, reconcile_stack
from processes import wait_until
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Event, ReconciliationRun

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_admin_url, e2e_redis_url, e2e_fernet_key) -> Iterator[Stack]:
    # A Redis database of its own (see e2e_stack.RECONCILE_REDIS_URL).
    with reconcile_stack(tmp_path_factory, pg_admin_url, e2e_fernet_key, "e2e-reconcile") as running:
        yield running


def reconcile(stack: Stack) -> dict:
    return json.loads(stack.cli("reconcile", "--integration", stack.integration_id, "--json").stdout)


def polled(stack: Stack, vendus_id: int, status: str = "N") -> Event | None:
    with Session(stack.engine) as session:
        return session.scalar(select(Event).where(Event.integration_id == stack.integration_id,
                                                  Event.dedup_key == f"vendus:{vendus_id}:{status}"))


def wait_done(stack: Stack, vendus_id: int, status: str = "N") -> Event:
    def done() -> Event | None:
        event = polled(stack, vendus_id, status)
        return event if event is not None and event.status == "done" else None

    return wait_until(done, timeout=30, what=f"the event of document {vendus_id} ({status}) to be done",
                      describe=lambda: repr(polled(stack, vendus_id, status)))


def sim_patch(stack: Stack, doc_id: int, status: str) -> None:
    reply = stack.http.patch(f"{stack.sim_url}/ws/v1.1/documents/{doc_id}", json={"status": status},
                             auth=(API_KEY, ""), timeout=10)
    assert reply.status_code == 200, reply.text


def test_a_document_made_in_vendus_is_an_event_after_one_poll(stack: Stack):
    ft = stack.sim_post("documents/", {"type": "FT", "items": [{"reference": "CAFE", "qty": 1}],
                                       "external_reference": ev.unique("BACKOFFICE")})
    summary = reconcile(stack)
    assert summary["polls"][0]["counts"]["events"] >= 1
    event = wait_done(stack, ft["id"])
    assert (event.type, event.source) == ("invoice.created", "poll")
    (row,) = stack.documents(vendus_id=ft["id"])
    assert row.number == ft["number"] and not row.issued_here


def test_a_cancel_in_vendus_becomes_document_cancelled(stack: Stack):
    ft = stack.sim_post("documents/", {"type": "FT", "items": [{"reference": "CAFE", "qty": 2}]})
    methods = stack.sim_get("documents/paymentmethods/")
    cash = next(m["id"] for m in methods if m["type"] == "NU")
    rg = stack.sim_post("documents/", {"type": "RG", "payments": [{"id": cash, "amount": "1.00"}],
                                       "invoices": [{"document_number": ft["number"]}]})
    reconcile(stack)
    wait_done(stack, rg["id"])

    sim_patch(stack, rg["id"], "A")
    reconcile(stack)

    cancelled = wait_done(stack, rg["id"], "A")
    assert cancelled.type == "document.cancelled"
    assert stack.documents(vendus_id=rg["id"])[0].status == "A"


def test_push_and_poll_of_the_same_document_is_processed_once(stack: Stack):
    ft = stack.sim_post("documents/", {"type": "FT", "items": [{"reference": "AGUA", "qty": 1}]})
    detail = stack.sim_get(f"documents/{ft['id']}")
    envelope = ev.document_event("invoice.created", stack.store_id, detail)
    assert stack.push(envelope).status_code == 202
    stack.wait_done(envelope["id"])

    summary = reconcile(stack)

    # The push's chain mirrored the document, so the poll finds it unchanged (had it not run yet, the
    # poll's event would have been the push's, by its dedup key: see the integration tests).
    assert summary["polls"][0]["counts"]["events"] == 0
    with Session(stack.engine) as session:
        rows = session.scalars(select(Event).where(Event.dedup_key == f"vendus:{ft['id']}:N")).all()
    assert [(e.source, e.status) for e in rows] == [("push", "done")]


def test_an_idle_store_costs_one_request_per_poll(stack: Stack):
    reconcile(stack)  # whatever the earlier tests left is seen now
    for _ in range(3):
        before = stack.sim_count("GET documents"), stack.sim_count("GET documents/{id}")
        summary = json.loads(stack.cli("reconcile", "--integration", stack.integration_id, "--no-drift",
                                       "--json").stdout)
        after = stack.sim_count("GET documents"), stack.sim_count("GET documents/{id}")
        assert (after[0] - before[0], after[1] - before[1]) == (1, 0)
        assert summary["polls"][0]["counts"]["events"] == 0


def test_two_beats_never_poll_twice(stack: Stack):
    """RedBeat's lock: the second beat waits while the first one schedules; polls are not doubled."""
    assert stack.worker is not None and stack.worker.alive
    env = {"KAPTA_RECONCILE_INTERVAL": "1"}
    def polls() -> int:
        """Polls recorded: run rows for those that found something, the idle counter for the rest."""
        with Session(stack.engine) as session:
            runs = session.scalar(select(func.count()).select_from(ReconciliationRun)
                                  .where(ReconciliationRun.kind == "poll"))
        return runs + sum(int(v) for v in stack.redis.hvals("kapta:polls:idle"))

    runs_before = polls()
    started = time.monotonic()
    first = stack._start("beat", "beat", **env)
    first.wait_for_log(r"beat: Starting")
    second = stack._start("beat", "beat", **env)
    second.wait_for_log(r"beat: Starting")
    time.sleep(8)
    first.stop()
    second.stop()
    elapsed = time.monotonic() - started

    sends = [len(re.findall(r"Sending due task poll-stores", p.log_text())) for p in (first, second)]
    assert sum(sends) >= 4, sends  # it did poll
    assert min(sends) == 0, f"both beats scheduled polls: {sends}"
    assert sum(sends) <= elapsed / 1 + 3, sends
    time.sleep(1)  # the last polls finish
    runs = polls() - runs_before
    assert 1 <= runs <= sum(sends), (runs, sends)
