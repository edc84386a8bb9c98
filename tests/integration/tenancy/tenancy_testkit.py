"""Helpers for the tenancy tests: two integrations on two Vendus accounts (the simulator, over HTTP).

``World`` holds one test's setting: the PostgreSQL database, explicit settings, the running
simulator with accounts A and B, both integrations (created by ``integrations apply`` from a
declared file, as operators do), the receiver/admin test client, and what was enqueued. The
chain is run synchronously, stage by stage, in ``tasks.dispatch.PIPELINE`` order (no worker).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kapta_vendus.config import Settings, set_settings
from kapta_vendus.db.models import Document, Event
from kapta_vendus.db.session import Database
from kapta_vendus.integrations.apply import apply_specs
from kapta_vendus.integrations.spec import parse_specs
from kapta_vendus.integrations.tokens import create_token
from kapta_vendus.pipeline import runner, steps
from kapta_vendus.pipeline.references import sale_reference
from kapta_vendus.receiver.sender import signed_headers
from kapta_vendus.simulator.testing import RunningSimulator
from kapta_vendus.tasks import dispatch

KEY_A, KEY_B = "tenancy-vendus-key-A-7f3c", "tenancy-vendus-key-B-91de"
WHSEC_A = "whsec_" + base64.b64encode(b"tenancy secret of A 0001").decode()
WHSEC_B = "whsec_" + base64.b64encode(b"tenancy secret of B 0002").decode()
ENV = {"TENANCY_KEY_A": KEY_A, "TENANCY_KEY_B": KEY_B, "TENANCY_WHSEC_A": WHSEC_A, "TENANCY_WHSEC_B": WHSEC_B}
CAFE = [{"reference": "CAFE", "title": "Café", "qty": "2", "unit_price": "0.80", "tax": "RED"},
        {"reference": "PASTEL", "title": "Pastel de nata", "qty": "1", "unit_price": "1.30", "tax": "INT"}]


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def sale_envelope(store_id: int, *, sale_id: str | None = None, method: str = "cash", total: str = "2.90",
                  event_id: str | None = None, **data: Any) -> dict[str, Any]:
    return {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": "sale.completed", "occurred_at": now_iso(),
            "store_id": store_id,
            "data": {"sale_id": sale_id or f"T-{uuid.uuid4().hex[:10]}", "closed_at": now_iso(), "customer": None,
                     "lines": CAFE, "payments": [{"method": method, "amount": total, "status": "paid"}],
                     "payment_status": "paid", **data}}


def integration_item(name: str, key_env: str, secret_env: str, store_id: int, mapping: dict[str, Any],
                     base_url: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "vendus": {"api_key_env": key_env, "base_url": base_url, "mode": "normal"},
            "stores": [store_id], "mapping": json.loads(json.dumps(mapping)),
            "webhook": {"secrets": [{"env": secret_env}], "rotation_overlap": "24h"}, **extra}


@dataclass
class Enqueued:
    events: list[tuple[int, str | None]] = field(default_factory=list)
    notifications: list[int] = field(default_factory=list)

    def event(self, event_id: int, *, start_at: str | None = None, **_admission) -> None:
        self.events.append((event_id, start_at))

    def notification(self, event_id: int) -> None:
        self.notifications.append(event_id)


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    secret: str
    api_key: str
    store_id: int


@dataclass
class World:
    db: Database
    settings: Settings
    sim: RunningSimulator
    client: FlaskClient
    enqueued: Enqueued
    document: dict[str, Any]  # the declared integrations file, as applied
    a: Tenant | None = None
    b: Tenant | None = None
    env: dict[str, str] = field(default_factory=lambda: dict(ENV))

    # -- configuration -------------------------------------------------------------------------
    def apply(self, document: dict[str, Any] | None = None, *, dry_run: bool = False):
        specs = parse_specs(document or self.document, self.settings, self.env)
        with self.db.unit_of_work() as session:
            return apply_specs(session, self.settings, specs, dry_run=dry_run)

    def token(self, *scopes: str, tenant: Tenant | None = None) -> str:
        with self.db.unit_of_work() as session:
            return create_token(session, name=f"test-{'-'.join(scopes)}", scopes=list(scopes),
                                integration_id=tenant.id if tenant else None)[1]

    def cli(self, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        """The command line in this process, on this test's database and keys."""
        full_env = {"KAPTA_DATABASE_URL": self.settings.database_url, "KAPTA_DATA_DIR": self.settings.data_dir,
                    "KAPTA_SECRET_KEYS": ",".join(self.settings.secret_keys), "KAPTA_LOG_LEVEL": "WARNING",
                    **self.env, **(env or {})}
        from kapta_vendus.cli import main

        set_settings(None)  # settings are read once per process: each invocation gets its own
        try:
            return CliRunner().invoke(main, list(args), env=full_env, input=input, catch_exceptions=False)
        finally:
            set_settings(self.settings)

    # -- events in -----------------------------------------------------------------------------
    def push(self, tenant: Tenant, envelope: dict[str, Any], *, secret: str | None = None,
             integration_id: str | None = None):
        body = json.dumps(envelope, separators=(",", ":"))
        headers = signed_headers(secret or tenant.secret, str(envelope["id"]), body)
        return self.client.post(f"/v1/integrations/{integration_id or tenant.id}/events", data=body.encode(),
                                headers=headers)

    def accept(self, tenant: Tenant, envelope: dict[str, Any]) -> int:
        response = self.push(tenant, envelope)
        assert response.status_code == 202, response.get_json()
        event_id = int(response.get_json()["event_id"])
        # The receiver's own enqueue: the tests run the chain themselves, so it is not kept.
        self.enqueued.events.remove((event_id, None))
        return event_id

    def run_chain(self, event_id: int, *, start_at: str | None = None,
                  fail_at: str | None = None, error: Callable[[], Exception] | None = None) -> list[str]:
        """Run the stages from ``start_at`` (a task name) on; ``fail_at`` (a stage, or the logical step
        of a one-step stage: ``sync``) makes that stage die instead."""
        names = list(dispatch.PIPELINE)
        names = names[names.index(start_at):] if start_at else names
        ran = []
        for task_name in names:
            (stage,) = [s for s, t in runner.TASKS.items() if t == task_name]
            if fail_at in (stage, *runner.STAGES[stage][:1]) and fail_at is not None:
                runner.mark_dead(self.db, event_id, error() if error else RuntimeError("worker lost"))
                with self.db.unit_of_work() as session:
                    session.get(Event, event_id).current_step = runner.STAGES[stage][0]
                ran.append(f"{stage}:dead")
                break
            outcome = runner.run_stage(self.db, self.settings, stage, steps.STEPS, event_id)
            ran.append(stage)
            if outcome.stop:
                break
        return ran

    def process(self, tenant: Tenant, envelope: dict[str, Any]) -> int:
        event_id = self.accept(tenant, envelope)
        self.run_chain(event_id)
        return event_id

    def run_enqueued(self) -> None:
        pending, self.enqueued.events = self.enqueued.events, []
        for event_id, start_at in pending:
            self.run_chain(event_id, start_at=start_at)

    # -- out -----------------------------------------------------------------------------------
    def event(self, event_id: int) -> Event:
        with self.db.unit_of_work() as session:
            event = session.get(Event, event_id)
            session.expunge(event)
            return event

    def event_count(self) -> int:
        with self.db.unit_of_work() as session:
            return session.scalar(select(func.count(Event.id)))

    def documents(self, tenant: Tenant) -> int:
        with self.db.unit_of_work() as session:
            return session.scalar(select(func.count(Document.id)).where(Document.integration_id == tenant.id))

    def vendus_posts(self, tenant: Tenant) -> int:
        """POST documents/ that reached the tenant's Vendus account (the simulator's own count)."""
        return self.sim.state.stats.count("POST", "documents", str(self.sim.state.accounts[tenant.api_key].id))

    def vendus_documents(self, tenant: Tenant, external_reference: str | None = None) -> list[dict[str, Any]]:
        account = self.sim.state.accounts[tenant.api_key]
        docs = [d for _, d in sorted(account.docs.items()) if d["mode"] == "normal" and d["type"] != "RG"]
        # A sale id names our reference for that sale too (integration tag, store, sale id).
        refs = {external_reference, sale_reference(tenant.id, tenant.store_id, str(external_reference))}
        return [d for d in docs if external_reference is None or d.get("external_reference") in refs]

    def admin(self, token: str | None, path: str, *, method: str = "GET", body: Any = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.open(f"/admin/v1{path}", method=method, headers=headers, json=body)


def dump_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
