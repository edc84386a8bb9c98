"""Helpers for the pipeline's integration tests (the fixtures that use them are in conftest.py).

``Pipeline`` bundles one test's world: the database, the settings, the running simulator, one
tenant and the receiver's test client. It pushes signed envelopes, runs the chain synchronously
in ``tasks.dispatch.PIPELINE`` order, and reads back what our database and the simulator hold.
``Envelopes`` builds the wire shapes of reference/events.md.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import BigInteger, cast, func, select

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Document, Event, Issuance, Link, StepRun
from kapta_vendus.db.session import Database
from kapta_vendus.pipeline import runner, steps
from kapta_vendus.pipeline.references import sale_key, sale_reference
from kapta_vendus.receiver.sender import signed_headers
from kapta_vendus.simulator.testing import RunningSimulator
from kapta_vendus.tasks import dispatch

API_KEY = "pipeline-key"
MADEIRA_KEY = "pipeline-key-madeira"
# The default fixture's islands account with its Funchal store only (the rest of the catalogue
# comes from the default account: the same products and payment methods).
MADEIRA_ACCOUNT = {
    "api_key": MADEIRA_KEY,
    "company": "Ilhas Exemplo, Lda",
    "fiscal_id": "100000002",
    "region": "madeira",
    "stores": [{"title": "Loja Funchal", "region": "madeira", "postalcode": "9000-018",
                "registers": [{"title": "Caixa Funchal", "mode": "normal", "series": "01", "type": "api"}]}],
}
NIF_COMPANY = "501964843"  # a valid PT NIF (the default simulator account's own)
NIF_FINAL_CONSUMER = "999999990"
NIF_BAD_CHECK_DIGIT = "123456780"

CAFE_LINES = (
    {"reference": "CAFE", "title": "Café", "qty": "2", "unit_price": "0.80", "tax": "RED"},
    {"reference": "PASTEL", "title": "Pastel de nata", "qty": "1", "unit_price": "1.30", "tax": "INT"},
)


def stage_of_task(task_name: str) -> str:
    """``kapta.billing.bill`` → ``bill``: the stage a chain task runs."""
    (stage,) = [stage for stage, task in runner.TASKS.items() if task == task_name]
    return stage


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def money_total(lines: list[dict] | tuple[dict, ...]) -> str:
    total = sum((Decimal(line["qty"]) * Decimal(line["unit_price"]) for line in lines), Decimal(0))
    return f"{total.quantize(Decimal('0.01')):f}"


def sim_documents(sim: RunningSimulator, api_key: str = API_KEY, mode: str = "normal") -> list[dict]:
    """The simulator's own records of an account's documents, in id order."""
    account = sim.state.accounts[api_key]
    return [doc for _, doc in sorted(account.docs.items()) if doc["mode"] == mode]


def signed_post(client: FlaskClient, integration_id: str, secret: str, body: str | bytes, *,
                event_id: str, timestamp: float | None = None, **header_overrides: str):
    """POST ``body`` to the receiver with Standard Webhooks headers signed by ``secret``."""
    text = body.decode() if isinstance(body, bytes) else body
    headers = signed_headers(secret, event_id, text, timestamp=timestamp)
    headers.update(header_overrides)
    return client.post(f"/v1/integrations/{integration_id}/events", data=text.encode(), headers=headers)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class Enqueued:
    """What would have been published to the broker."""

    events: list[int] = field(default_factory=list)
    notifications: list[int] = field(default_factory=list)
    # Set by a test to check something at the moment of the enqueue (e.g. "is the row committed?").
    on_event: Callable[[int], None] | None = None

    def event(self, event_id: int, *, start_at: str | None = None, **_admission) -> None:
        if self.on_event is not None:
            self.on_event(event_id)
        self.events.append(event_id)

    def notification(self, event_id: int) -> None:
        self.notifications.append(event_id)


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    secret: str
    api_key: str
    store_id: int
    mapping: dict[str, Any]


@dataclass
class Envelopes:
    """Envelopes of reference/events.md for one store."""

    store_id: int

    def envelope(self, event_type: str, data: Any, *, event_id: str | None = None,
                 store_id: int | None = None) -> dict[str, Any]:
        return {"id": event_id or new_event_id(), "type": event_type, "occurred_at": now_iso(),
                "store_id": self.store_id if store_id is None else store_id, "data": data}

    def sale_completed(self, *, sale_id: str | None = None, lines: list[dict] | tuple[dict, ...] = CAFE_LINES,
                       customer: dict | None = None, payment_status: str = "paid",
                       payments: list[dict] | None = None, method: str = "cash",
                       event_id: str | None = None, store_id: int | None = None, **data_fields: Any) -> dict:
        """A closed sale; by default the café sale of events.md, paid in full in cash.

        Without ``payments``: paid → one paid payment of the total; pending → one pending payment.
        """
        lines = [dict(line) for line in lines]
        if payments is None:
            total = money_total(lines)
            status = {"paid": "paid", "pending": "pending"}.get(payment_status)
            payments = [{"method": method, "amount": total, "status": status}] if status else []
        data = {"sale_id": sale_id or f"T1-{uuid.uuid4().hex[:8]}", "closed_at": now_iso(),
                "customer": customer, "lines": lines, "payments": payments, "payment_status": payment_status,
                **data_fields}
        return self.envelope("sale.completed", data, event_id=event_id, store_id=store_id)

    def payment_confirmed(self, *, sale_id: str, amount: str, method: str = "card",
                          payment_id: str | None = None, event_id: str | None = None,
                          store_id: int | None = None) -> dict:
        data = {"sale_id": sale_id, "payment_id": payment_id or f"P-{uuid.uuid4().hex[:8]}", "method": method,
                "amount": amount, "confirmed_at": now_iso()}
        return self.envelope("payment.confirmed", data, event_id=event_id, store_id=store_id)

    def sale_refunded(self, *, sale_id: str, reason: str | None = "Devolução ao balcão",
                      lines: list[dict] | None = None, refund_id: str | None = None,
                      event_id: str | None = None, store_id: int | None = None) -> dict:
        """A refund; ``reason=None`` leaves the field out, ``lines=None`` refunds everything."""
        data: dict[str, Any] = {"sale_id": sale_id, "refund_id": refund_id or f"R-{uuid.uuid4().hex[:8]}"}
        if reason is not None:
            data["reason"] = reason
        if lines is not None:
            data["lines"] = lines
        return self.envelope("sale.refunded", data, event_id=event_id, store_id=store_id)

    def customer_changed(self, *, sale_id: str, customer: dict, change_id: str | None = None,
                         reason: str | None = None, event_id: str | None = None,
                         store_id: int | None = None) -> dict:
        data: dict[str, Any] = {"sale_id": sale_id, "change_id": change_id or f"C-{uuid.uuid4().hex[:8]}",
                                "customer": customer}
        if reason is not None:
            data["reason"] = reason
        return self.envelope("sale.customer_changed", data, event_id=event_id, store_id=store_id)

    def document_event(self, event_type: str, document: dict[str, Any], *, event_id: str | None = None) -> dict:
        """``invoice.created`` and friends: ``data`` is the Vendus document, as the API returns it."""
        return self.envelope(event_type, json.loads(json.dumps(document, default=str)), event_id=event_id)


@dataclass
class Pipeline:
    db: Database
    settings: Settings
    sim: RunningSimulator
    tenant: Tenant
    receiver: FlaskClient
    enqueued: Enqueued

    # -- in ------------------------------------------------------------------------------------------
    def push(self, envelope: dict[str, Any], *, tenant: Tenant | None = None, secret: str | None = None,
             timestamp: float | None = None, **header_overrides: str):
        """A signed POST of ``envelope`` to the receiver, as a POS bridge sends it."""
        tenant = tenant or self.tenant
        body = json.dumps(envelope, separators=(",", ":"))
        return signed_post(self.receiver, tenant.id, secret or tenant.secret, body,
                           event_id=str(envelope["id"]), timestamp=timestamp, **header_overrides)

    def accept(self, envelope: dict[str, Any], **kwargs: Any) -> int:
        """Push and insist on 202; returns the inbox id."""
        response = self.push(envelope, **kwargs)
        assert response.status_code == 202, response.get_json()
        return int(response.get_json()["event_id"])

    # -- through -------------------------------------------------------------------------------------
    def run_chain(self, event_id: int) -> list[tuple[str, runner.Outcome]]:
        """Every stage in chain order, stopping where an outcome says so (as the tasks do)."""
        ran = []
        for task_name in dispatch.PIPELINE:
            stage = stage_of_task(task_name)
            outcome = runner.run_stage(self.db, self.settings, stage, steps.STEPS, event_id)
            ran.append((stage, outcome))
            if outcome.stop:
                break
        return ran

    def run_step(self, name: str, event_id: int) -> runner.Outcome:
        """Run the stage of logical step ``name`` (``actions`` → ``bill``), as its task would."""
        return runner.run_stage(self.db, self.settings, runner.stage_of(name), steps.STEPS, event_id)

    def process(self, envelope: dict[str, Any], **kwargs: Any) -> int:
        """Push, then run the chain; returns the inbox id."""
        event_id = self.accept(envelope, **kwargs)
        self.run_chain(event_id)
        return event_id

    # -- out: our database ---------------------------------------------------------------------------
    def event(self, event_id: int) -> Event:
        with self.db.unit_of_work() as session:
            event = session.get(Event, event_id)
            session.expunge(event)
            return event

    def set_event(self, event_id: int, **values: Any) -> None:
        with self.db.unit_of_work() as session:
            event = session.get(Event, event_id)
            for name, value in values.items():
                setattr(event, name, value)

    def step_runs(self, event_id: int) -> list[StepRun]:
        with self.db.unit_of_work() as session:
            runs = list(session.scalars(select(StepRun).where(StepRun.event_id == event_id).order_by(StepRun.id)))
            session.expunge_all()
            return runs

    def actions_output(self, event_id: int) -> dict[str, Any]:
        """The results of the latest run of each billing action, and the notices the rules decided."""
        runs = self.step_runs(event_id)
        actions = [r for r in runs if r.step == "actions" and r.status == "ok"]
        assert actions, "no successful actions step"
        latest = {r.output["index"]: r.output["result"] for r in actions if r.output.get("result")}
        [*_, rules] = [r for r in runs if r.step == "rules" and r.status == "ok"]
        notices = [a["params"] for a in rules.output["actions"] if a["kind"] == "notify"]
        return {"results": [latest[i] for i in sorted(latest)], "notify": notices}

    def issuances(self) -> list[Issuance]:
        with self.db.unit_of_work() as session:
            rows = list(session.scalars(select(Issuance).order_by(Issuance.id)))
            session.expunge_all()
            return rows

    def mirror(self, vendus_id: int) -> Document:
        with self.db.unit_of_work() as session:
            row = session.scalar(select(Document).where(Document.integration_id == self.tenant.id,
                                                        Document.vendus_id == vendus_id))
            assert row is not None, f"document {vendus_id} is not mirrored"
            session.expunge(row)
            return row

    def mirrored(self) -> list[Document]:
        with self.db.unit_of_work() as session:
            rows = list(session.scalars(select(Document).order_by(Document.id)))
            session.expunge_all()
            return rows

    def links(self, from_kind: str, from_key: str, tenant: Tenant | None = None) -> list[tuple[str, str]]:
        """(relation, mirrored document number) for the links of one business object."""
        with self.db.unit_of_work() as session:
            rows = session.execute(
                select(Link.relation, Document.number)
                .join(Document, Document.id == cast(Link.to_key, BigInteger))
                .where(Link.integration_id == (tenant or self.tenant).id, Link.from_kind == from_kind,
                       Link.from_key == from_key)
                .order_by(Link.id))
            return [(relation, number) for relation, number in rows]

    def event_count(self) -> int:
        with self.db.unit_of_work() as session:
            return session.scalar(select(func.count(Event.id)))

    def sale_key(self, sale_id: str, store_id: int | None = None) -> str:
        """The ``from_key`` of a sale's links: sale ids are unique per store only."""
        return sale_key(self.tenant.store_id if store_id is None else store_id, sale_id)

    def sale_links(self, sale_id: str, store_id: int | None = None,
                   tenant: Tenant | None = None) -> list[tuple[str, str]]:
        return self.links("sale", self.sale_key(sale_id, store_id), tenant)

    def sale_ref(self, sale_id: str, *, store_id: int | None = None, tenant: Tenant | None = None) -> str:
        """The external reference of a sale's invoice: integration tag, store and sale id."""
        tenant = tenant or self.tenant
        return sale_reference(tenant.id, tenant.store_id if store_id is None else store_id, sale_id)

    # -- out: the simulator --------------------------------------------------------------------------
    def documents(self, api_key: str | None = None, *, type: str | None = None) -> list[dict]:
        docs = sim_documents(self.sim, api_key or self.tenant.api_key)
        return [d for d in docs if type is None or d["type"] == type]

    def posts(self) -> int:
        """How many POST documents/ reached the emulated API (faults included)."""
        return self.sim.state.stats.count("POST", "documents")
