"""Apply declared integrations: create what is missing, change what differs, touch nothing else.

The file is the source of truth for what it declares: a configuration section left out of it is
removed. Applying the same file twice changes nothing (no row is written, ``updated_at`` stays),
because every field is compared first, secrets included: stored keys and secrets are decrypted
for the comparison and kept as they are when equal (a Fernet token differs on every encryption).

Webhook secrets: ``generate`` creates one when the integration is created (shown once) and leaves
them alone afterwards (rotate with ``integrations rotate-secret``); a declared list is the set
that must verify: missing ones are added, and stored ones no longer declared keep working for
``rotation_overlap`` and then expire, so senders can switch without a failed request.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Integration, IntegrationStore, WebhookSecret, utcnow
from kapta_vendus.events.errors import Rejection
from kapta_vendus.integrations.channels import seal, unseal
from kapta_vendus.integrations.config import SECTIONS
from kapta_vendus.integrations.crypto import SecretUnreadable, decrypt, encrypt
from kapta_vendus.integrations.diff import Change, diff
from kapta_vendus.integrations.service import _aware, new_webhook_secret
from kapta_vendus.integrations.spec import IntegrationSpec


@dataclass
class IntegrationPlan:
    name: str
    action: str  # create|update|unchanged
    changes: list[Change] = field(default_factory=list)
    integration_id: str | None = None


@dataclass
class ApplyResult:
    plans: list[IntegrationPlan]
    new_secrets: dict[str, str] = field(default_factory=dict)  # name → generated secret, shown once

    @property
    def changed(self) -> bool:
        return any(p.action != "unchanged" for p in self.plans)


def apply_specs(session: Session, settings: Settings, specs: list[IntegrationSpec], *, dry_run: bool,
                now: datetime | None = None) -> ApplyResult:
    now = now or utcnow()
    rows = {row.name: row for row in session.scalars(
        select(Integration).where(Integration.name.in_([s.name for s in specs]))
        .options(selectinload(Integration.stores), selectinload(Integration.secrets)).with_for_update())}
    deleted = [f"{s.name}: this integration was deleted; its fiscal history is kept under this name, so "
               "declare it under a new name" for s in specs if s.name in rows and rows[s.name].status == "deleted"]
    if deleted:
        raise Rejection(deleted)
    result = ApplyResult([])
    for spec in specs:
        row = rows.get(spec.name)
        if row is None:
            result.plans.append(_create(session, settings, spec, result, dry_run=dry_run))
        else:
            spec = _keep_upserted_products(session, row.id, spec)
            changes = _changes(settings, row, spec, now)
            if changes and not dry_run:
                _update(settings, row, spec, now)
            result.plans.append(IntegrationPlan(spec.name, "update" if changes else "unchanged", changes, row.id))
        _apply_destinations(session, settings, spec, result, dry_run=dry_run)
    session.flush()
    return result


def _keep_upserted_products(session: Session, integration_id: str, spec: IntegrationSpec) -> IntegrationSpec:
    """Products that ``product.upserted`` put in the mapping stay there when a file is applied.

    The file is the source of truth for the references it maps; the others were written by the
    master-data path and, dropped, would lose their kind (a service would be judged as goods for the
    FS limit) until their next upsert. A file without a mapping section keeps that section's meaning.
    """
    from kapta_vendus.masterdata.links import upserted_products

    mapping = (spec.config or {}).get("mapping")
    upserted = upserted_products(session, integration_id) if isinstance(mapping, dict) else {}
    if not upserted:
        return spec
    products, kinds = dict(mapping.get("products") or {}), dict(mapping.get("product_kinds") or {})
    for reference, (vendus_id, kind) in upserted.items():
        if reference not in products:
            products[reference] = vendus_id
            kinds.setdefault(reference, kind)
    config = {**spec.config, "mapping": {**mapping, "products": products, "product_kinds": kinds}}
    return replace(spec, config=config)


def _apply_destinations(session: Session, settings: Settings, spec: IntegrationSpec, result: ApplyResult, *,
                        dry_run: bool) -> None:
    """The ``destinations:`` block (see destinations.declared); its changes join the integration's plan."""
    if spec.destinations is None:
        return
    from kapta_vendus.destinations.declared import apply_declared

    plan = result.plans[-1]
    changes, secrets = apply_declared(session, settings, plan.integration_id, spec.destinations, dry_run=dry_run)
    plan.changes.extend(changes)
    if changes and plan.action == "unchanged":
        plan.action = "update"
    for name, secret in secrets.items():
        result.new_secrets[f"{spec.name} → destination {name}"] = secret


def _create(session: Session, settings: Settings, spec: IntegrationSpec, result: ApplyResult, *,
            dry_run: bool) -> IntegrationPlan:
    changes = [Change("status", "added", new=spec.status), Change("vendus.base_url", "added", new=spec.base_url),
               Change("vendus.mode", "added", new=spec.mode),
               Change("vendus.api_key", "added", new=f"<secret from {spec.api_key_source}>"),
               Change("stores", "added", new=list(spec.stores))]
    for section in SECTIONS:
        changes.extend(diff(None, spec.config.get(section), section))
    webhook = spec.webhook
    changes.append(Change("webhook.secrets", "added", new="<1 generated secret, shown once>" if webhook.generate
                          else f"<{len(webhook.secrets)} declared: {', '.join(webhook.sources)}>"))
    plan = IntegrationPlan(spec.name, "create", changes)
    if dry_run:
        return plan
    secrets = list(webhook.secrets)
    if webhook.generate:
        secrets = [new_webhook_secret()]
        result.new_secrets[spec.name] = secrets[0]
    row = Integration(name=spec.name, status=spec.status, vendus_base_url=spec.base_url, mode=spec.mode,
                      vendus_api_key_enc=encrypt(settings, spec.api_key), config=seal(settings, spec.config),
                      stores=[IntegrationStore(store_id=s) for s in spec.stores],
                      secrets=[WebhookSecret(secret_enc=encrypt(settings, s)) for s in secrets])
    session.add(row)
    session.flush()
    plan.integration_id = row.id
    return plan


def _stored_key(settings: Settings, row: Integration) -> str | None:
    try:
        return decrypt(settings, row.vendus_api_key_enc)
    except SecretUnreadable:
        return None


def _changes(settings: Settings, row: Integration, spec: IntegrationSpec, now: datetime) -> list[Change]:
    changes = []
    for path, old, new in (("status", row.status, spec.status), ("vendus.base_url", row.vendus_base_url,
                           spec.base_url), ("vendus.mode", row.mode, spec.mode)):
        if old != new:
            changes.append(Change(path, "changed", old, new))
    if _stored_key(settings, row) != spec.api_key:
        changes.append(Change("vendus.api_key", "changed", "<secret>", f"<new secret from {spec.api_key_source}>"))
    if sorted(row.store_ids) != sorted(spec.stores):
        changes.append(Change("stores", "changed", sorted(row.store_ids), list(spec.stores)))
    stored = unseal(settings, row.config)
    for section in sorted(set(SECTIONS) | set(stored)):
        changes.extend(diff(stored.get(section), spec.config.get(section), section))
    changes.extend(change for change, _ in _secret_plan(settings, row, spec, now))
    return changes


def _secret_plan(settings: Settings, row: Integration, spec: IntegrationSpec, now: datetime):
    """(change, action) pairs for declared webhook secrets; nothing when they are generated."""
    webhook = spec.webhook
    if webhook.generate:
        return []
    live = [(s, _plain(settings, s)) for s in row.secrets if s.expires_at is None or _aware(s.expires_at) > now]
    plan = []
    for index, (secret, source) in enumerate(zip(webhook.secrets, webhook.sources, strict=True)):
        match = next((s for s, plain in live if plain == secret), None)
        if match is None:
            plan.append((Change(f"webhook.secrets[{index}]", "added", new=f"<secret from {source}>"),
                         ("add", secret)))
        elif match.expires_at is not None:
            plan.append((Change(f"webhook.secrets[{index}]", "changed", f"<expires {_when(match.expires_at)}>",
                                "<does not expire>"), ("keep", match)))
    until = now + webhook.overlap
    for secret, plain in live:
        if plain not in webhook.secrets and (secret.expires_at is None or _aware(secret.expires_at) > until):
            plan.append((Change(f"webhook.secret #{secret.id}", "changed", "<active, not declared>",
                                f"<expires {_when(until)}>"), ("expire", secret)))
    return plan


def _plain(settings: Settings, secret: WebhookSecret) -> str | None:
    try:
        return decrypt(settings, secret.secret_enc)
    except SecretUnreadable:
        return None


def _when(moment: datetime) -> str:
    return _aware(moment).strftime("%Y-%m-%d %H:%M UTC")


def _update(settings: Settings, row: Integration, spec: IntegrationSpec, now: datetime) -> None:
    # Only what differs is assigned, so an unchanged integration is never written.
    for attr, value in (("status", spec.status), ("vendus_base_url", spec.base_url), ("mode", spec.mode)):
        if getattr(row, attr) != value:
            setattr(row, attr, value)
    if _stored_key(settings, row) != spec.api_key:
        row.vendus_api_key_enc = encrypt(settings, spec.api_key)
    wanted = set(spec.stores)
    for store in [s for s in row.stores if s.store_id not in wanted]:
        row.stores.remove(store)
    have = set(row.store_ids)
    row.stores.extend(IntegrationStore(store_id=s) for s in spec.stores if s not in have)
    if unseal(settings, row.config) != dict(spec.config):
        row.config = seal(settings, spec.config)
    for _change, (action, target) in _secret_plan(settings, row, spec, now):
        if action == "add":
            row.secrets.append(WebhookSecret(secret_enc=encrypt(settings, target)))
        elif action == "keep":
            target.expires_at = None
        else:
            target.expires_at = now + spec.webhook.overlap
