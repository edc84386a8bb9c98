"""Fixtures for the pipeline's integration tests: real PostgreSQL, the Vendus simulator over HTTP.

No Celery worker and no broker: ``pipeline.run_chain`` drives the steps synchronously in the order
of ``tasks.dispatch.PIPELINE``, as the chain of thin tasks would, and every enqueue (the receiver's
after-commit hook, the sync step's notification) is recorded by ``enqueued`` instead of published.

* ``simulator``: a running simulator (``.base_url``, ``.state``) with one seeded mainland account;
* ``vendus``: a ``VendusClient`` on that account, to read what the simulator holds through its API;
* ``make_tenant(...)``: an integration made by ``create_integration`` whose mapping comes from
  ``discover_mapping`` (so payment-method and register ids are the account's own); ``tenant``;
* ``envelopes``: the envelope factory for the tenant's store (reference/events.md);
* ``receiver``: the Flask test client of ``create_app(settings)`` on the PostgreSQL database;
* ``pipeline``: all of the above together, with ``push``, ``run_chain`` and readers (see the testkit).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from enqueues import record_enqueues
from flask.testing import FlaskClient
from pipeline_testkit import API_KEY, Enqueued, Envelopes, Pipeline, Tenant

from kapta_vendus.config import Settings, set_settings
from kapta_vendus.db.session import Database
from kapta_vendus.integrations.discover import discover_mapping
from kapta_vendus.integrations.service import create_integration
from kapta_vendus.simulator import SimulatorState
from kapta_vendus.simulator.testing import RunningSimulator, run_in_thread
from kapta_vendus.vendus import VendusClient
from kapta_vendus.web import create_app

SIM_TIMEOUT = (2.0, 10.0)


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> Enqueued:
    """Nothing in these tests reaches a broker: every enqueue is recorded here."""
    return record_enqueues(monkeypatch, Enqueued())


@pytest.fixture
def pipeline_settings(settings: Settings, pg_database_url: str) -> Settings:
    # Short Vendus timeouts: a test that hangs on the simulator should fail fast, not after 30 s.
    configured = settings.replace(database_url=pg_database_url, vendus_connect_timeout=SIM_TIMEOUT[0],
                                  vendus_timeout=SIM_TIMEOUT[1])
    # The process-wide settings, as in a worker: notification URLs are decrypted with their keys.
    set_settings(configured)
    return configured


@pytest.fixture
def db(pg_db: Database) -> Database:
    return pg_db


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    with run_in_thread(SimulatorState(api_keys=[API_KEY])) as sim:
        yield sim


@pytest.fixture
def vendus(simulator: RunningSimulator) -> Iterator[VendusClient]:
    """A client on the default account, to look at what the simulator holds (never to issue)."""
    with VendusClient(simulator.base_url, API_KEY, timeout=SIM_TIMEOUT) as client:
        yield client


@pytest.fixture
def make_tenant(db: Database, pipeline_settings: Settings, simulator: RunningSimulator):
    """``make_tenant(api_key=..., store_index=0, name=..., mode=..., **config_sections)`` → an integration."""
    made: list[str] = []

    def make(*, api_key: str = API_KEY, store_index: int = 0, name: str | None = None, mode: str = "normal",
             extra_store_indexes: tuple[int, ...] = (), mapping_overrides: dict | None = None,
             **config: Any) -> Tenant:
        with VendusClient(simulator.base_url, api_key, timeout=SIM_TIMEOUT) as client:
            ordered = sorted(client.list_stores(), key=lambda s: int(s["id"]))
            store_id = int(ordered[store_index]["id"])
            store_ids = [store_id, *(int(ordered[i]["id"]) for i in extra_store_indexes)]
            mapping = {**discover_mapping(client, store_ids, mode), **(mapping_overrides or {})}
        name = name or f"shop-{len(made) + 1}"
        with db.unit_of_work() as session:
            integration, secret = create_integration(
                session, pipeline_settings, name=name, vendus_url=simulator.base_url, api_key=api_key,
                stores=store_ids, mode=mode, config={"mapping": mapping, **config})
            made.append(integration.id)
            return Tenant(integration.id, name, secret, api_key, store_id, mapping)

    return make


@pytest.fixture
def tenant(make_tenant) -> Tenant:
    return make_tenant()


@pytest.fixture
def envelopes(tenant: Tenant) -> Envelopes:
    return Envelopes(tenant.store_id)


@pytest.fixture
def receiver(pipeline_settings: Settings) -> FlaskClient:
    return create_app(pipeline_settings).test_client()


@pytest.fixture
def pipeline(db, pipeline_settings, simulator, tenant, receiver, enqueued) -> Pipeline:
    return Pipeline(db, pipeline_settings, simulator, tenant, receiver, enqueued)


@pytest.fixture
def push(pipeline: Pipeline):
    return pipeline.push


@pytest.fixture
def run_chain(pipeline: Pipeline):
    return pipeline.run_chain
