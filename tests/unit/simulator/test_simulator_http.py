"""Over a real socket (run_in_thread): dropped connections, commit-then-drop, latency, concurrency."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from simulator_testkit import CAFE, NOW

from kapta_vendus.simulator import SimClock, SimulatorState, run_in_thread

KEY = "http-key"
AUTH = (KEY, "")


@pytest.fixture
def sim():
    state = SimulatorState(api_keys=[KEY], clock=SimClock(NOW, frozen=True))
    with run_in_thread(state) as running:
        yield running


def test_serves_on_loopback_with_ephemeral_port(sim):
    assert sim.base_url == f"http://127.0.0.1:{sim.port}/ws/v1.1"
    assert sim.root_url == f"http://127.0.0.1:{sim.port}"
    response = requests.post(f"{sim.base_url}/documents/", json={"items": [CAFE]}, auth=AUTH, timeout=5)
    assert response.status_code == 201
    assert requests.get(f"{sim.root_url}/ws/documents", auth=AUTH, timeout=5).json()[0]["number"] == "FT 01P2026/1"


def test_connection_drop_is_a_connection_error(sim):
    requests.post(f"{sim.root_url}/_sim/faults", json={"drop_rate": 1, "max_hits": 1}, timeout=5)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sim.base_url}/documents/", json={"items": [CAFE]}, auth=AUTH, timeout=5)
    assert not sim.state.accounts[KEY].docs
    # the server keeps serving, also on a fresh connection
    assert requests.get(f"{sim.base_url}/account/", auth=AUTH, timeout=5).status_code == 200


def test_commit_then_drop_commits_and_a_tx_id_retry_gets_the_same_document(sim):
    sim.state.faults.add_rule(methods=["POST"], paths=["documents"], commit_then_drop_rate=1, max_hits=1)
    body = {"items": [CAFE], "tx_id": "pos-1"}
    with requests.Session() as session:
        with pytest.raises(requests.ConnectionError):
            session.post(f"{sim.base_url}/documents/", json=body, auth=AUTH, timeout=5)
        docs = sim.state.accounts[KEY].docs
        assert len(docs) == 1
        retry = session.post(f"{sim.base_url}/documents/", json=body, auth=AUTH, timeout=5)
    assert retry.status_code == 201
    assert retry.json()["id"] == next(iter(docs))
    assert len(docs) == 1
    stats = requests.get(f"{sim.root_url}/_sim/stats", timeout=5).json()
    assert stats["by_status"] == {"dropped_after_commit": 1, "201": 1}


def test_commit_then_hang_makes_the_client_time_out(sim):
    sim.state.faults.add_rule(commit_then_drop_rate=1, drop_delay_ms=400, max_hits=1)
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{sim.base_url}/documents/", json={"items": [CAFE]}, auth=AUTH, timeout=0.15)
    assert len(sim.state.accounts[KEY].docs) == 1


def test_latency_is_real_and_can_time_out(sim):
    sim.state.faults.configure({"latency_ms": 150})
    started = time.perf_counter()
    assert requests.get(f"{sim.base_url}/account/", auth=AUTH, timeout=5).status_code == 200
    assert time.perf_counter() - started >= 0.15
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{sim.base_url}/account/", auth=AUTH, timeout=0.05)


def test_slow_pages_only_slow_down_lists(sim):
    requests.post(f"{sim.base_url}/documents/", json={"items": [CAFE]}, auth=AUTH, timeout=5)
    sim.state.faults.configure({"slow_page_ms": 200})
    started = time.perf_counter()
    requests.get(f"{sim.base_url}/account/", auth=AUTH, timeout=5)
    single = time.perf_counter() - started
    started = time.perf_counter()
    requests.get(f"{sim.base_url}/documents/", auth=AUTH, timeout=5)
    listed = time.perf_counter() - started
    assert single < 0.15 <= listed


def test_concurrent_creates_stay_gapless_and_tx_id_is_atomic(sim):
    def create(index: int) -> dict:
        body = {"items": [CAFE], "tx_id": f"same-{index % 5}"}
        return requests.post(f"{sim.base_url}/documents/", json=body, auth=AUTH, timeout=10).json()

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(create, range(40)))
    docs = sim.state.accounts[KEY].docs
    assert len(docs) == 5
    assert len({r["id"] for r in results}) == 5
    assert sorted(d["seq"] for d in docs.values()) == [1, 2, 3, 4, 5]
