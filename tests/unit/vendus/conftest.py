"""Fixtures for the Vendus client tests: a mocked HTTP layer and a fake clock that never sleeps."""

from __future__ import annotations

import pytest
import responses
from vendus_testkit import API_KEY, BASE, FakeTime

from kapta_vendus.vendus import VendusClient


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def make_client(fake_time):
    created: list[VendusClient] = []

    def make(**kwargs) -> VendusClient:
        kwargs.setdefault("sleep", fake_time.sleep)
        kwargs.setdefault("clock", fake_time.clock)
        client = VendusClient(kwargs.pop("base_url", BASE), kwargs.pop("api_key", API_KEY), **kwargs)
        created.append(client)
        return client

    yield make
    for client in created:
        client.close()


@pytest.fixture
def client(make_client) -> VendusClient:
    return make_client()
