"""Shared fixtures: a simulator with two default accounts and a frozen clock, driven in-process."""

from __future__ import annotations

import pytest
from simulator_testkit import KEY_A, KEY_B, NOW, Api

from kapta_vendus.simulator import SimClock, SimulatorState, create_app


@pytest.fixture
def state() -> SimulatorState:
    return SimulatorState(api_keys=[KEY_A, KEY_B], clock=SimClock(NOW, frozen=True))


@pytest.fixture
def app(state):
    return create_app(state)


@pytest.fixture
def api(app, state) -> Api:
    return Api(app.test_client(), state)
