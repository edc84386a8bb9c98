"""Helpers of the reconciliation tests (the fixtures that build them are in conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Document, Event, ReconciliationRun, SyncCursor
from kapta_vendus.db.session import Database
from kapta_vendus.integrations.discover import discover_mapping
from kapta_vendus.integrations.service import create_integration
from kapta_vendus.pipeline import runner, steps
from kapta_vendus.reconcile.policy import DEFAULT_POLICY, ReconcilePolicy
from kapta_vendus.reconcile.poller import PollResult, poll_store
from kapta_vendus.simulator.testing import RunningSimulator
from kapta_vendus.tasks import dispatch
from kapta_vendus.vendus import VendusClient

API_KEY = "reconcile-key"
SIM_TIMEOUT = (2.0, 10.0)
CAFE = [{"reference": "CAFE", "qty": 2}]


@dataclass
class World:
    """One test's world: the database, settings, the simulator and one integration on one store."""

    db: Database
    settings: Settings
    sim: RunningSimulator
    integration_id: str
    store_id: int
    enqueued: list[int] = field(default_factory=list)

    # -- acting -------------------------------------------------------------------------------------
    def poll(self, policy: ReconcilePolicy = DEFAULT_POLICY, now: datetime | None = None,
             client: Any = None) -> PollResult:
        return poll_store(self.db, self.settings, self.integration_id, self.store_id,
                          enqueue=self.enqueued.append, policy=policy, now=now, client=client)

    def create(self, **body: Any) -> dict[str, Any]:
        """A document made directly in Vendus (as staff do in the back office)."""
        if body.get("type") != "RG":
            body.setdefault("items", CAFE)
        return self.sim.state.create_document(API_KEY, body)

    def method_id(self, kind: str = "NU") -> int:
        methods = self.sim.state.accounts[API_KEY].payment_methods
        return next(m for m, spec in methods.items() if spec["type"] == kind)

    def patch(self, doc_id: int, status: str) -> dict[str, Any]:
        return self.sim.state.patch_document(API_KEY, doc_id, {"status": status})

    def run_chain(self, event_id: int) -> list[str]:
        """The event's chain, synchronously, stage after stage (as the tasks would run it)."""
        ran = []
        for task_name in dispatch.PIPELINE:
            (name,) = [stage for stage, task in runner.TASKS.items() if task == task_name]
            outcome = runner.run_stage(self.db, self.settings, name, steps.STEPS, event_id)
            ran.append(name)
            if outcome.stop:
                break
        return ran

    # -- looking --------------------------------------------------------------------------------------
    def requests(self, template: str | None = None, method: str = "GET") -> int:
        account = str(self.sim.state.accounts[API_KEY].id)
        return self.sim.state.stats.count(method, template, account)

    def events(self, **where: Any) -> list[Event]:
        query = select(Event).where(Event.integration_id == self.integration_id).order_by(Event.id)
        for name, value in where.items():
            query = query.where(getattr(Event, name) == value)
        with self.db.unit_of_work() as session:
            rows = list(session.scalars(query))
            session.expunge_all()
            return rows

    def event_data(self, event: Event) -> dict[str, Any]:
        return json.loads(event.raw)["data"]

    def mirror(self, vendus_id: int) -> Document | None:
        with self.db.unit_of_work() as session:
            row = session.scalar(select(Document).where(Document.integration_id == self.integration_id,
                                                        Document.vendus_id == vendus_id))
            if row is not None:
                session.expunge(row)
            return row

    def count(self, model: Any) -> int:
        with self.db.unit_of_work() as session:
            return session.scalar(select(func.count()).select_from(model).where(
                model.integration_id == self.integration_id))

    def cursor(self, resource: str = "documents") -> SyncCursor | None:
        with self.db.unit_of_work() as session:
            row = session.scalar(select(SyncCursor).where(SyncCursor.integration_id == self.integration_id,
                                                          SyncCursor.resource == resource))
            if row is not None:
                session.expunge(row)
            return row

    def runs(self, kind: str) -> list[ReconciliationRun]:
        with self.db.unit_of_work() as session:
            rows = list(session.scalars(select(ReconciliationRun).where(
                ReconciliationRun.integration_id == self.integration_id, ReconciliationRun.kind == kind)
                .order_by(ReconciliationRun.id)))
            session.expunge_all()
            return rows


def make_world(db: Database, settings: Settings, simulator: RunningSimulator, *, name: str = "shop",
               **config) -> World:
    with VendusClient(simulator.base_url, API_KEY, timeout=SIM_TIMEOUT) as client:
        store_id = int(sorted(client.list_stores(), key=lambda s: int(s["id"]))[0]["id"])
        mapping = discover_mapping(client, [store_id], "normal")
    mapping.update(config.pop("mapping", {}))
    with db.unit_of_work() as session:
        integration, _secret = create_integration(
            session, settings, name=name, vendus_url=simulator.base_url, api_key=API_KEY, stores=[store_id],
            mode="normal", config={"mapping": mapping, **config})
        integration_id = integration.id
    return World(db, settings, simulator, integration_id, store_id)
