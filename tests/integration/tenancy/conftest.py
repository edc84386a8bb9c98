"""Fixtures of the tenancy tests: real PostgreSQL, the Vendus simulator over HTTP, two integrations.

* ``world``: a ``World`` (see tenancy_testkit) with integrations ``shop-a`` and ``shop-b`` applied
  from a declared file (API keys and webhook secrets from environment references), each on its
  own Vendus account, with the mapping the account itself proposes (``discover_mapping``);
* ``enqueued``: nothing reaches a broker; every enqueue is recorded (and can be run).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from enqueues import record_enqueues
from tenancy_testkit import ENV, KEY_A, KEY_B, WHSEC_A, WHSEC_B, Enqueued, Tenant, World, integration_item

from kapta_vendus.commands import common
from kapta_vendus.config import Settings, set_settings
from kapta_vendus.db.session import Database
from kapta_vendus.integrations.discover import discover_mapping
from kapta_vendus.simulator import SimulatorState
from kapta_vendus.simulator.testing import RunningSimulator, run_in_thread
from kapta_vendus.vendus import VendusClient
from kapta_vendus.web import create_app

SIM_TIMEOUT = (2.0, 10.0)


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> Enqueued:
    """Nothing in these tests reaches a broker: every enqueue is recorded here."""
    return record_enqueues(monkeypatch, Enqueued())


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch):
    # Rich wraps at 80 columns without a terminal; tests read whole lines.
    monkeypatch.setattr(common.console, "_width", 250)


@pytest.fixture
def tenancy_settings(settings: Settings, pg_database_url: str) -> Settings:
    configured = settings.replace(database_url=pg_database_url, vendus_connect_timeout=SIM_TIMEOUT[0],
                                  vendus_timeout=SIM_TIMEOUT[1])
    set_settings(configured)
    return configured


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with run_in_thread(SimulatorState(api_keys=[KEY_A, KEY_B])) as running:
        yield running


def _proposal(sim: RunningSimulator, key: str) -> tuple[int, dict]:
    with VendusClient(sim.base_url, key, timeout=SIM_TIMEOUT) as client:
        store_id = int(client.list_stores()[0]["id"])
        mapping = discover_mapping(client, [store_id], "normal")
    mapping.pop("mode")
    return store_id, mapping


@pytest.fixture
def world(pg_db: Database, tenancy_settings: Settings, sim: RunningSimulator, enqueued: Enqueued) -> World:
    store_a, mapping_a = _proposal(sim, KEY_A)
    store_b, mapping_b = _proposal(sim, KEY_B)
    document = {"integrations": [
        integration_item("shop-a", "TENANCY_KEY_A", "TENANCY_WHSEC_A", store_a, mapping_a, sim.base_url),
        integration_item("shop-b", "TENANCY_KEY_B", "TENANCY_WHSEC_B", store_b, mapping_b, sim.base_url),
    ]}
    built = World(pg_db, tenancy_settings, sim, create_app(tenancy_settings).test_client(), enqueued, document,
                  env=dict(ENV))
    result = built.apply()
    ids = {plan.name: plan.integration_id for plan in result.plans}
    built.a = Tenant(ids["shop-a"], "shop-a", WHSEC_A, KEY_A, store_a)
    built.b = Tenant(ids["shop-b"], "shop-b", WHSEC_B, KEY_B, store_b)
    return built
