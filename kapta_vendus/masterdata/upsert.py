"""``customer.upserted`` and ``product.upserted`` into Vendus: exactly once per record and version.

Each record's map row is locked for the whole upsert, so two deliveries of the same record are
serialised. A version (``occurred_at``) not newer than the one applied writes nothing; a newer one
whose Vendus body did not change writes nothing either. A record without a map row is looked up in
Vendus before anything is created (a client by NIF, then by ``external_reference`` = the source's
customer_id; a product by reference), so a retry after a lost reply, or a client that exists in
Vendus already, is adopted rather than duplicated (Vendus refuses a second client with one NIF).

Where it runs: ``prepare`` only decides (``steps.rules`` plans one ``upsert_masterdata`` action), and
``bill`` executes it like any billing action, inside the integration's circuit breaker and request
budget, waiting out a Vendus outage instead of failing the event.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kapta_vendus.events.errors import Rejection
from kapta_vendus.integrations.service import get_integration
from kapta_vendus.masterdata.links import locked_link
from kapta_vendus.masterdata.vendus_payloads import client_body, fingerprint, product_body, real_nif
from kapta_vendus.pipeline import context as c
from kapta_vendus.pipeline.mapping import IntegrationMapping
from kapta_vendus.pipeline.runner import StepContext, StepResult
from kapta_vendus.vendus import VendusClient, VendusRejected

UPSERTS = ("customer.upserted", "product.upserted")


@dataclass(frozen=True)
class UpsertOutcome:
    kind: str
    key: str
    vendus_id: int | None
    action: str  # created|updated|adopted|unchanged|stale

    def summary(self) -> str:
        return f"{self.kind} {self.key}: Vendus id {self.vendus_id} ({self.action})"


def validate_masterdata(ctx: StepContext) -> StepResult:
    """``validate`` of a master-data event: a change polled from Vendus ends here (recorded and
    forwarded only); an upsert goes on to be decided and, in ``bill``, written into Vendus."""
    event = c.validated(ctx)
    if event.type.value not in UPSERTS:
        return StepResult(f"{event.type.value} {event.data.get('id')} recorded", finish="done")
    return StepResult(f"{event.type.value} {record_key(ctx)[1]} valid")


def record_key(ctx: StepContext) -> tuple[str, str]:
    """(customer|product, its business key) of an upsert event."""
    event = c.validated(ctx)
    if event.type.value == "customer.upserted":
        return "customer", str(event.data["customer_id"])
    return "product", str(event.data["reference"])


def execute_upsert(ctx: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    """The ``upsert_masterdata`` action (run by ``bill``): the record is read again from the stored
    event, so the decision carries only what it is about."""
    event = c.validated(ctx)
    outcome = upsert(ctx, params["record"], dict(event.data), event.occurred_at)
    return {**outcome.__dict__, "summary": outcome.summary()}


def upsert(ctx: StepContext, kind: str, data: dict[str, Any], version: datetime) -> UpsertOutcome:
    client = c.vendus(ctx)
    key = data["customer_id"] if kind == "customer" else data["reference"]
    with ctx.db.unit_of_work() as session:
        link = locked_link(session, ctx.integration_id, kind, key)
        if link.version is not None and version <= link.version:
            return UpsertOutcome(kind, key, link.vendus_id, "stale")
        body = client_body(data) if kind == "customer" else product_body(data, _unit_id(client, data.get("unit")))
        digest = fingerprint(body)
        if link.vendus_id is not None and link.fingerprint == digest:
            link.version = version
            return UpsertOutcome(kind, key, link.vendus_id, "unchanged")
        if kind == "customer":
            vendus_id, action = _write_client(client, link.vendus_id, body)
            link.fiscal_id = body.get("fiscal_id")
        else:
            vendus_id, action = _write_product(client, link.vendus_id, body)
            link.details = {"kind": data.get("kind") or "goods"}
            _point_mapping(session, ctx.integration_id, key, vendus_id, data.get("kind") or "goods")
        link.vendus_id, link.version, link.fingerprint = vendus_id, version, digest
        return UpsertOutcome(kind, key, vendus_id, action)


def _write_client(client: VendusClient, mapped: int | None, body: dict[str, Any]) -> tuple[int, str]:
    if mapped is not None:
        client.update_client(mapped, body)
        return mapped, "updated"
    existing = _find_client(client, body)
    if existing is not None:
        client.update_client(existing, body)
        return existing, "adopted"
    try:
        created = client.create_client(body)
    except VendusRejected:
        # Created meanwhile (another path, or the back office): adopt it; otherwise a real refusal.
        existing = _find_client(client, body)
        if existing is None:
            raise
        client.update_client(existing, body)
        return existing, "adopted"
    return int(created["id"]), "created"


def _find_client(client: VendusClient, body: dict[str, Any]) -> int | None:
    if body.get("fiscal_id"):
        for row in client.list_clients(fiscal_id=body["fiscal_id"]):
            if real_nif(str(row.get("fiscal_id") or "")) == body["fiscal_id"]:
                return int(row["id"])
    for row in client.list_clients(external_reference=body["external_reference"]):
        if str(row.get("external_reference") or "") == body["external_reference"]:
            return int(row["id"])
    return None


def _write_product(client: VendusClient, mapped: int | None, body: dict[str, Any]) -> tuple[int, str]:
    if mapped is None:
        found = [r for r in client.list_products(reference=body["reference"], status="all")
                 if str(r.get("reference") or "") == body["reference"]]
        if found:
            mapped = int(found[0]["id"])
            client.update_product(mapped, body)
            return mapped, "adopted"
        return int(client.create_product(body)["id"]), "created"
    client.update_product(mapped, body)
    return mapped, "updated"


def _unit_id(client: VendusClient, unit: Any) -> int:
    if isinstance(unit, int):
        return unit
    units = client.get("products/units/") or []
    if unit is None:
        default = [u for u in units if u.get("default") == "on"] or units
        if default:
            return int(default[0]["id"])
        raise Rejection(["unit: the Vendus account lists no unit; give a unit id"])
    for row in units:
        if str(row.get("title", "")).strip().lower() == str(unit).strip().lower():
            return int(row["id"])
    raise Rejection([f"data.unit: no Vendus unit titled {unit!r}"])


def _point_mapping(session, integration_id: str, reference: str, vendus_id: int, kind: str) -> None:
    """The integration's product mapping follows: sales naming the reference use this product, and
    (where the mapping knows per-product kinds) are goods or services as the product is."""
    integration = get_integration(session, integration_id)
    config = dict(integration.config or {})
    mapping = dict(config.get("mapping") or {})
    wanted = {"products": {**(mapping.get("products") or {}), reference: vendus_id}}
    if "product_kinds" in {f.name for f in dataclasses.fields(IntegrationMapping)}:
        wanted["product_kinds"] = {**(mapping.get("product_kinds") or {}), reference: kind}
    if any(mapping.get(name) != value for name, value in wanted.items()):
        config["mapping"] = {**mapping, **wanted}
        integration.config = config
