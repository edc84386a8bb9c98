"""Transactions per event, counted where they happen (the engine's commits), not timed.

The first version ran 25 transactions for a paid sale (ARCHITECTURE, "Why three tasks and not six").
The goal is at most 8, receiver included; it is 7: 1 in the receiver (the integration is cached),
1 in ``prepare``, 4 in ``bill`` (load, claim the issuance, record it with its mirror, write the step
runs) and 1 in ``sync``. ``bench/bench_pipeline.py`` measures the same on PostgreSQL's counters.
The worker's statements went 26 → 17 → 14 → 13: bill and sync read their event and the earlier steps'
outputs in one query, bill moves its event on without reading it first, the destinations an event
goes to are cached with the integration (``destinations.active``), and a stage writes its step runs
in one executemany (one round trip).
"""

from __future__ import annotations

import json

import pytest
from pipeline_testkit import signed_post
from sqlalchemy import event

from kapta_vendus.web import create_app

pytestmark = pytest.mark.integration


class Commits:
    """Transactions: explicit commits, plus statements run in autocommit (each its own transaction)."""

    def __init__(self, engine) -> None:
        self.count = 0
        self.statements = 0
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "before_cursor_execute", self._statement)
        self.engine = engine

    def _commit(self, _conn) -> None:
        self.count += 1

    def _statement(self, conn, *_args) -> None:
        self.statements += 1
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            self.count += 1

    def close(self) -> None:
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "before_cursor_execute", self._statement)


def test_a_paid_sale_costs_at_most_7_transactions(pipeline, pipeline_settings, tenant, envelopes):
    client = create_app(pipeline_settings.replace(receiver_cache_ttl=60)).test_client()

    def push() -> int:
        envelope = envelopes.sale_completed()
        response = signed_post(client, tenant.id, tenant.secret, json.dumps(envelope), event_id=envelope["id"])
        assert response.status_code == 202
        return int(response.get_json()["event_id"])

    pipeline.run_chain(push())  # warms the receiver's and the worker's integration caches
    commits = Commits(pipeline.db.engine)
    try:
        event_id = push()
        received, received_statements = commits.count, commits.statements
        pipeline.run_chain(event_id)
    finally:
        commits.close()

    assert pipeline.event(event_id).status == "done"
    assert (received, received_statements) == (1, 1)  # the insert, committing on its own
    assert commits.count <= 7, commits.count
    # The worker's statements (see above).
    assert commits.statements - received_statements <= 13, commits.statements
