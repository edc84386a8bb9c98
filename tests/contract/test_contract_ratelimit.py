"""Contract: per-key rate limits (Rate-Limit-* headers, 429) and the client's gate.

Budgets are small. One test really waits for a 1-second window; the others give the client a
``sleep`` that moves the simulator's clock forward instead (the simulator's windows follow its clock),
so they wait exactly as long as the client decided to, without spending the time.
"""

from __future__ import annotations

import time

import pytest
import requests
from contract_kit import KEY_A, KEY_B, Shop, route_count

from kapta_vendus.vendus import RateLimited

RATE_HEADERS = ("Rate-Limit-Limit", "Rate-Limit-Remaining", "Rate-Limit-Used", "Rate-Limit-Reset")


def _limit(sim, credits: int, window_seconds: float) -> None:
    response = requests.post(
        f"{sim.root_url}/_sim/rate-limit", json={"credits": credits, "window_seconds": window_seconds}, timeout=5
    )
    assert response.json()["rate_limit"]["credits"] == credits


@pytest.fixture
def sim_sleep(sim):
    """A client ``sleep`` that advances the simulator's clock and records what was asked."""
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        sim.state.clock.advance(seconds)

    sleep.waited = waited
    return sleep


def test_limits_are_off_by_default(sim):
    response = requests.get(f"{sim.base_url}/account/", auth=(KEY_A, ""), timeout=5)
    assert not any(name in response.headers for name in RATE_HEADERS)


def test_headers_count_the_budget_and_429_when_it_is_spent(sim):
    _limit(sim, 3, 20)
    seen = []
    for _ in range(4):
        response = requests.get(f"{sim.base_url}/account/", auth=(KEY_A, ""), timeout=5)
        seen.append((response.status_code, *(response.headers[name] for name in RATE_HEADERS)))
    assert [s[:4] for s in seen] == [
        (200, "3", "2", "1"),
        (200, "3", "1", "2"),
        (200, "3", "0", "3"),
        (429, "3", "0", "3"),
    ]
    assert all(0 < int(s[4]) <= 20 for s in seen)
    refused = requests.get(f"{sim.base_url}/account/", auth=(KEY_A, ""), timeout=5)
    assert refused.json()["errors"][0]["code"] == "A001"
    # the budget is per key
    assert requests.get(f"{sim.base_url}/account/", auth=(KEY_B, ""), timeout=5).status_code == 200


def test_the_gate_waits_for_the_reset_and_succeeds_in_real_time(sim, make_client):
    _limit(sim, 3, 1)
    client = make_client(sleep=time.sleep, max_rate_wait=5)
    for _ in range(3):
        client.get_account()
    started = time.monotonic()
    assert client.get_account()["id"]  # budget spent: the gate waits ~1 s instead of sending
    assert 0.5 < time.monotonic() - started < 3
    stats = requests.get(f"{sim.root_url}/_sim/stats", timeout=5).json()
    assert "429" not in stats["by_status"]
    assert stats["by_status"]["200"] == 4


def test_a_429_followed_by_waiting_for_the_reset_succeeds(sim, make_client, sim_sleep):
    _limit(sim, 2, 20)
    other_worker = make_client()
    other_worker.get_account()
    other_worker.get_account()  # the budget is spent by someone this client knows nothing about
    client = make_client(sleep=sim_sleep, max_rate_wait=30)
    shop_payload = {"type": "FT", "items": [{"reference": "CAFE", "qty": 1}], "tx_id": "rl-1"}
    with pytest.raises(RateLimited) as caught:
        client.create_document(shop_payload)  # a POST is never retried by the client
    assert 0 < caught.value.reset_after <= 20
    assert caught.value.status == 429
    assert route_count(sim, "POST documents") == 1
    assert sim.state.accounts[KEY_A].docs == {}
    # the caller retries with the same tx_id: the gate now waits for the reset, then it succeeds
    created = client.create_document(shop_payload)
    assert created["number"].startswith("FT ")
    assert sim_sleep.waited == [pytest.approx(caught.value.reset_after, abs=0.5)]
    assert route_count(sim, "POST documents") == 2


def test_a_get_429_is_waited_out_inside_one_call(sim, make_client, sim_sleep):
    _limit(sim, 2, 20)
    other_worker = make_client()
    Shop(other_worker)  # two GETs: payment methods and registers
    client = make_client(sleep=sim_sleep, max_rate_wait=30)
    assert client.get_account()["id"]
    assert len(sim_sleep.waited) == 1 and 0 < sim_sleep.waited[0] <= 20
    stats = requests.get(f"{sim.root_url}/_sim/stats", timeout=5).json()
    assert stats["by_route"]["GET account"] == 2 and stats["by_status"]["429"] == 1


def test_without_waiting_allowance_the_client_raises_rate_limited(sim, make_client, sim_sleep):
    _limit(sim, 2, 20)
    # this client's gate runs on the simulator's clock, so moving that clock moves both
    client = make_client(sleep=sim_sleep, clock=sim.state.clock.timestamp, max_rate_wait=0)
    client.get_account()
    client.get_account()  # Remaining: 0, Reset: 20 -> the gate knows the budget is spent
    before = route_count(sim, "GET account")
    with pytest.raises(RateLimited) as caught:
        client.get_account()
    assert caught.value.reset_after == pytest.approx(20, abs=0.5)
    assert route_count(sim, "GET account") == before  # refused locally: nothing was sent
    assert sim_sleep.waited == []
    # a fresh client learns it from the 429 itself, and does not retry past it
    fresh = make_client(sleep=sim_sleep, max_rate_wait=0)
    with pytest.raises(RateLimited) as from_server:
        list(fresh.list_documents())
    assert from_server.value.reset_after is not None and from_server.value.reset_after > 0
    assert route_count(sim, "GET documents") == 1
    with pytest.raises(RateLimited):
        fresh.create_document({"items": [{"reference": "CAFE", "qty": 1}]})
    assert route_count(sim, "POST documents") == 0  # the gate refused it before sending
    # once the window has passed, everything works again
    sim.state.clock.advance(21)
    assert client.get_account()["id"]
