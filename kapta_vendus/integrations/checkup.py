"""`doctor`'s look at each active integration: does what it needs from Vendus still exist?

Unlike the overview (database only), this asks Vendus: the key must answer, and every register
and payment method the mapping names must exist in the account (ids belong to each account, and
a register closed in the Vendus back office makes every later sale fail). It then adds the
overview's own verdicts on polling and the SLA of unfinished events.
"""

from __future__ import annotations

from dataclasses import dataclass

from kapta_vendus.admin.overview import IntegrationHealth, problems_of
from kapta_vendus.config import Settings
from kapta_vendus.db.models import Integration
from kapta_vendus.events.errors import Rejection
from kapta_vendus.integrations.crypto import SecretUnreadable
from kapta_vendus.integrations.preflight import explain
from kapta_vendus.integrations.service import api_key
from kapta_vendus.pipeline.mapping import IntegrationMapping
from kapta_vendus.vendus import VendusClient, VendusError


@dataclass(frozen=True)
class AccountView:
    stores: set[int]
    registers: set[int]
    payment_methods: set[int]


def read_account(settings: Settings, integration: Integration) -> AccountView:
    """Raises VendusError or SecretUnreadable."""
    # A health check waits less than a billing call: a silent Vendus must not stall doctor for minutes.
    timeout = (settings.vendus_connect_timeout, min(settings.vendus_timeout, 10.0))
    with VendusClient(integration.vendus_base_url, api_key(settings, integration), timeout=timeout) as client:
        return AccountView({int(s["id"]) for s in client.list_stores()},
                           {int(r["id"]) for r in client.list_registers()},
                           {int(m["id"]) for m in client.list_payment_methods()})


def mapping_problems(integration: Integration, account: AccountView) -> list[str]:
    try:
        mapping = IntegrationMapping.from_dict({"mode": integration.mode, **((integration.config or {}).get("mapping")
                                                                             or {})})
    except Rejection as exc:
        return [f"mapping invalid: {'; '.join(exc.reasons)}"]
    problems = [f"store {s} is not in the Vendus account" for s in integration.store_ids if s not in account.stores]
    registers = {store: m.register_id for store, m in mapping.stores.items() if m.register_id is not None}
    if mapping.default_register_id is not None:
        registers["default"] = mapping.default_register_id
    problems += [f"register {rid} (store {store}) does not exist in Vendus" for store, rid in registers.items()
                 if rid not in account.registers]
    problems += [f"payment method {name} → {mid} does not exist in Vendus"
                 for name, mid in mapping.payment_methods.items() if mid not in account.payment_methods]
    return problems


def checkup(settings: Settings, integration: Integration, health: IntegrationHealth, *,
            reader=read_account) -> list[str]:
    """Every problem of one integration, each one short line; empty when it is healthy."""
    try:
        problems = mapping_problems(integration, reader(settings, integration))
    except SecretUnreadable:
        problems = ["its API key cannot be decrypted with KAPTA_SECRET_KEYS"]
    except VendusError as exc:
        problems = [explain(exc, integration.vendus_base_url, hint="")]
    verdicts = [p for p in problems_of(health, settings) if "polled" in p or "waited" in p]
    return problems + verdicts
