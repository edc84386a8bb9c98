"""Fixtures of the reconciliation tests: real PostgreSQL, the Vendus simulator over HTTP in a thread.

Nothing reaches a broker: the events a poll enqueues are recorded in ``enqueued``. The simulator's
account is the default fixture's (a mainland store with a normal register), under ``API_KEY``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reconcile_testkit import API_KEY, SIM_TIMEOUT, World, make_world

from kapta_vendus.config import Settings
from kapta_vendus.db.session import Database
from kapta_vendus.simulator import SimulatorState
from kapta_vendus.simulator.testing import RunningSimulator, run_in_thread


@pytest.fixture
def rsettings(settings: Settings, pg_database_url: str) -> Settings:
    return settings.replace(database_url=pg_database_url, vendus_connect_timeout=SIM_TIMEOUT[0],
                            vendus_timeout=SIM_TIMEOUT[1])


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    with run_in_thread(SimulatorState(api_keys=[API_KEY])) as sim:
        yield sim


@pytest.fixture
def world(pg_db: Database, rsettings: Settings, simulator: RunningSimulator) -> World:
    return make_world(pg_db, rsettings, simulator)


@pytest.fixture
def world_factory(pg_db: Database, rsettings: Settings, simulator: RunningSimulator):
    def make(**config) -> World:
        return make_world(pg_db, rsettings, simulator, **config)

    return make
