"""Contract suite fixtures: a fresh simulator on a real loopback socket per test, and real clients.

The simulator's clock starts at a fixed day and keeps ticking (rate-limit windows follow it). The
clients never really sleep between retries unless a test asks for it: backoff delays are recorded
in ``sleeps`` instead, so fault tests stay fast while still going through the retry code.
"""

from __future__ import annotations

import pytest
from contract_kit import KEY_A, KEY_B, NOW, Shop

from kapta_vendus.simulator import SimClock, SimulatorState, run_in_thread
from kapta_vendus.vendus import VendusClient


@pytest.fixture
def sim():
    state = SimulatorState(api_keys=[KEY_A, KEY_B], clock=SimClock(NOW))
    with run_in_thread(state) as running:
        yield running
    state.close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(sim, sleeps):
    created: list[VendusClient] = []

    def make(key: str = KEY_A, *, base_url: str | None = None, **kwargs) -> VendusClient:
        kwargs.setdefault("timeout", (2.0, 5.0))
        kwargs.setdefault("sleep", sleeps.append)
        client = VendusClient(base_url or sim.base_url, key, **kwargs)
        created.append(client)
        return client

    yield make
    for client in created:
        client.close()


@pytest.fixture
def client(make_client) -> VendusClient:
    return make_client()


@pytest.fixture
def client_b(make_client) -> VendusClient:
    return make_client(KEY_B)


@pytest.fixture
def shop(client) -> Shop:
    return Shop(client)
