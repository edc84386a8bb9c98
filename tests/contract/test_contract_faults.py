"""Contract: every injected fault, seen through the real client over a real socket.

What the client promises (kapta_vendus/vendus/errors.py): GETs are retried on 5xx, 429 and
transport failures; a POST is sent once and fails with
- ``VendusUnavailable`` when it was provably not processed (503, 408, connection refused),
- ``OutcomeUnknown`` when it may have been (500/502/504, timeout or reset after sending),
- ``RateLimited`` on 429.
Whatever happened, repeating the POST with the same ``tx_id`` yields exactly one document.
"""

from __future__ import annotations

import socket
import time

import pytest
import requests
from contract_kit import KEY_A, NOW, Shop, reset_sim, route_count, set_faults, sim_stats

from kapta_vendus.simulator import SimClock, SimulatorState, run_in_thread
from kapta_vendus.vendus import OutcomeUnknown, RateLimited, VendusClient, VendusUnavailable

SALE = [{"reference": "CAFE", "qty": 1}]


def _wait_for(predicate, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def _documents_with(shop: Shop, reference: str) -> list[dict]:
    return shop.client.find_documents_by_external_reference(reference)


# -- latency ---------------------------------------------------------------------------------------


def test_fixed_latency_applies_to_api_requests_only(sim, client):
    set_faults(sim, {"latency_ms": 250})
    started = time.monotonic()
    client.get_account()
    assert time.monotonic() - started >= 0.25
    started = time.monotonic()
    sim_stats(sim)  # control endpoints are never faulted
    assert time.monotonic() - started < 0.25


def test_random_latency_stays_within_its_range(sim, client):
    set_faults(sim, {"seed": 3, "latency_ms": [20, 80]})
    for _ in range(4):
        started = time.monotonic()
        client.get_account()
        assert 0.02 <= time.monotonic() - started < 0.6


def test_latency_beyond_the_read_timeout(sim, make_client, sleeps):
    """A GET that times out is retried; a POST that times out is an unknown outcome (and did commit)."""
    client = make_client(timeout=(1.0, 0.25))
    shop = Shop(client)
    sim.state.faults.add_rule(methods=["GET"], latency_ms=600, max_hits=1)
    assert client.get_account()["id"]
    assert len(sleeps) == 1
    # the timed-out request is counted when the server finishes it, after its latency
    _wait_for(lambda: route_count(sim, "GET account") == 2)

    sim.state.faults.add_rule(methods=["POST"], paths=["documents"], latency_ms=600, max_hits=1)
    with pytest.raises(OutcomeUnknown):
        shop.sale(tx_id="slow-1", external_reference="slow-1")
    # the server was only slow: the document appears once it gets there
    _wait_for(lambda: len(_documents_with(shop, "slow-1")) == 1)
    again = shop.sale(tx_id="slow-1", external_reference="slow-1")
    assert [d["id"] for d in _documents_with(shop, "slow-1")] == [again["id"]]
    assert route_count(sim, "POST documents") == 2


# -- error rates -------------------------------------------------------------------------------------


def test_seeded_error_rates_on_gets_are_retried_until_they_succeed(sim, make_client, sleeps):
    client = make_client(get_retries=8)
    set_faults(
        sim, {"seed": 11, "rules": [{"methods": ["GET"], "errors": {"500": 0.2, "502": 0.2, "503": 0.2, "429": 0.1}}]}
    )
    for _ in range(15):
        assert client.get_account()["id"]
    stats = sim_stats(sim)
    failures = sum(stats["faults"].values())
    assert {"error_500", "error_502", "error_503", "error_429"} <= set(stats["faults"])
    assert stats["by_route"]["GET account"] == 15 + failures
    assert len(sleeps) == failures  # one backoff per retry, never a real wait in this test


@pytest.mark.parametrize(
    "status,error",
    [(500, OutcomeUnknown), (502, OutcomeUnknown), (504, OutcomeUnknown), (503, VendusUnavailable), (429, RateLimited)],
)
def test_post_errors_map_to_the_documented_classes_and_are_not_retried(sim, shop, status, error):
    set_faults(sim, {"methods": ["POST"], "errors": {str(status): 1}, "max_hits": 1})
    with pytest.raises(error) as caught:
        shop.sale(items=SALE, tx_id="err-1", external_reference="err-1")
    assert caught.value.status == status
    assert route_count(sim, "POST documents") == 1
    assert _documents_with(shop, "err-1") == []  # injected errors are answered without touching data
    shop.sale(items=SALE, tx_id="err-1", external_reference="err-1")
    assert len(_documents_with(shop, "err-1")) == 1


# -- connection drops ----------------------------------------------------------------------------------


def test_connection_drop(sim, shop, sleeps):
    sim.state.faults.add_rule(drop_rate=1, max_hits=1)
    assert next(m["title"] for m in shop.client.list_payment_methods()) == "Dinheiro"  # GET: retried
    assert len(sleeps) == 1
    sim.state.faults.add_rule(methods=["POST"], drop_rate=1, max_hits=1)
    with pytest.raises(OutcomeUnknown):
        shop.sale(tx_id="drop-1", external_reference="drop-1")
    assert _documents_with(shop, "drop-1") == []  # dropped before it was handled
    shop.sale(tx_id="drop-1", external_reference="drop-1")
    assert len(_documents_with(shop, "drop-1")) == 1
    assert sim_stats(sim)["faults"]["drop"] == 2


@pytest.mark.parametrize("drop_delay_ms", [0, 800], ids=["reset", "timeout"])
def test_commit_then_drop_then_retry_with_the_same_tx_id_yields_exactly_one_document(sim, make_client, drop_delay_ms):
    client = make_client(timeout=(1.0, 0.3))
    shop = Shop(client)
    set_faults(
        sim,
        {
            "rules": [
                {
                    "methods": ["POST"],
                    "paths": ["documents"],
                    "commit_then_drop_rate": 1,
                    "drop_delay_ms": drop_delay_ms,
                    "max_hits": 1,
                }
            ]
        },
    )
    payload = {"tx_id": "sale-777", "external_reference": "order-777", "payments": [{"id": shop.cash}]}
    with pytest.raises(OutcomeUnknown):
        shop.sale("FR", **payload)
    committed = _documents_with(shop, "order-777")
    assert len(committed) == 1  # it was created although the client never heard back
    retried = shop.sale("FR", **payload)
    assert retried["id"] == committed[0]["id"] and retried["number"] == committed[0]["number"]
    assert [d["id"] for d in _documents_with(shop, "order-777")] == [retried["id"]]
    assert len(list(client.list_documents(type="FR"))) == 1
    assert list(client.list_documents(type="RG")) == []  # an FR is its own receipt (§7.2)
    stats = sim_stats(sim)
    assert stats["faults"] == {"commit_then_drop": 1}
    assert stats["by_route"]["POST documents"] == 2


def test_a_simulator_that_is_not_listening_means_not_sent(make_client):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(base_url=f"http://127.0.0.1:{port}/ws/v1.1", get_retries=0)
    with pytest.raises(VendusUnavailable, match="not sent"):
        client.create_document({"items": SALE, "tx_id": "never-sent"})


# -- slow pages ------------------------------------------------------------------------------------------


def test_slow_pages_slow_list_pages_only(sim, client):
    requests.post(f"{sim.root_url}/_sim/bulk", json={"api_key": KEY_A, "n": 25}, timeout=10).raise_for_status()
    set_faults(sim, {"paths": ["documents"], "slow_page_ms": 150})
    started = time.monotonic()
    pages = list(client.iter_document_pages(per_page=10))
    assert len(pages) == 3 and time.monotonic() - started >= 0.45
    started = time.monotonic()
    client.get_document(pages[0].items[0]["id"])  # a single document is not a page
    assert time.monotonic() - started < 0.15


def test_a_page_slower_than_the_read_timeout_is_fetched_again(sim, make_client, sleeps):
    client = make_client(timeout=(1.0, 0.25))
    requests.post(f"{sim.root_url}/_sim/bulk", json={"api_key": KEY_A, "n": 3}, timeout=10).raise_for_status()
    sim.state.faults.add_rule(paths=["documents"], slow_page_ms=600, max_hits=1)
    assert len(list(client.list_documents())) == 3
    assert len(sleeps) == 1
    _wait_for(lambda: route_count(sim, "GET documents") == 2)


# -- reproducibility ---------------------------------------------------------------------------------------

SEEDED = {
    "seed": 5,
    "rules": [
        {"errors": {"500": 0.15, "503": 0.15}},
        {"drop_rate": 0.1},
        {"methods": ["POST"], "commit_then_drop_rate": 0.25},
    ],
}


def _run_scenario(*, configure_at_startup: bool) -> tuple[list[str], dict]:
    state = SimulatorState(api_keys=[KEY_A], clock=SimClock(NOW), faults=SEEDED if configure_at_startup else None)
    outcomes = []
    with run_in_thread(state) as sim:
        if not configure_at_startup:
            set_faults(sim, SEEDED)
        with VendusClient(sim.base_url, KEY_A, get_retries=0, sleep=lambda _s: None) as client:
            for i in range(24):
                try:
                    if i % 2:
                        client.get_account()
                    else:
                        client.create_document({"items": SALE, "tx_id": f"r-{i}"})
                    outcomes.append("ok")
                except (OutcomeUnknown, VendusUnavailable) as err:
                    outcomes.append(f"{type(err).__name__}:{err.status}")
        numbers = sorted(d["number"] for d in state.accounts[KEY_A].docs.values())
        faults = sim_stats(sim)["faults"]
    state.close()
    return outcomes, {"numbers": numbers, "faults": faults}


def test_seeded_faults_are_reproducible():
    first = _run_scenario(configure_at_startup=True)
    second = _run_scenario(configure_at_startup=False)
    assert first == second
    outcomes, facts = first
    assert len(set(outcomes)) >= 3, outcomes  # a real mix, not all successes
    assert facts["faults"], facts


# -- the matrix ---------------------------------------------------------------------------------------------

# mode -> (rule, error a POST gets or None, whether the first POST commits, whether a GET needs a retry)
FAULT_MATRIX = {
    "latency_fixed": ({"latency_ms": 80}, None, True, False),
    "latency_random": ({"latency_ms": [10, 60]}, None, True, False),
    "error_500": ({"errors": {"500": 1}}, OutcomeUnknown, False, True),
    "error_502": ({"errors": {"502": 1}}, OutcomeUnknown, False, True),
    "error_503": ({"errors": {"503": 1}}, VendusUnavailable, False, True),
    "error_504": ({"errors": {"504": 1}}, OutcomeUnknown, False, True),
    "error_429": ({"errors": {"429": 1}}, RateLimited, False, True),
    "drop": ({"drop_rate": 1}, OutcomeUnknown, False, True),
    "commit_then_drop": ({"commit_then_drop_rate": 1}, OutcomeUnknown, True, True),
    "slow_page": ({"slow_page_ms": 80}, None, True, False),
}


@pytest.mark.parametrize("mode", list(FAULT_MATRIX))
def test_fault_matrix(sim, shop, sleeps, mode):
    rule, post_error, post_commits, get_retried = FAULT_MATRIX[mode]
    existing = shop.sale(external_reference="before")

    # A read through the fault (in-process API): the client hides it, retrying when it must.
    sim.state.faults.add_rule(methods=["GET"], paths=["documents"], max_hits=1, **rule)
    gets_before = route_count(sim, "GET documents")
    assert [row["id"] for row in shop.client.list_documents()] == [existing["id"]]
    assert route_count(sim, "GET documents") - gets_before == (2 if get_retried else 1)
    assert len(sleeps) == (1 if get_retried else 0)

    # A write through the fault (JSON control endpoint): the caller sees the documented class,
    # and a retry with the same tx_id settles it with exactly one document.
    set_faults(sim, {"rules": [{"methods": ["POST"], "paths": ["documents"], "max_hits": 1, **rule}]})
    payload = {"items": SALE, "tx_id": f"matrix-{mode}", "external_reference": f"matrix-{mode}"}
    first = None
    if post_error is None:
        first = shop.sale(**payload)
    else:
        with pytest.raises(post_error):
            shop.sale(**payload)
    assert len(_documents_with(shop, f"matrix-{mode}")) == (1 if post_commits else 0)
    second = shop.sale(**payload)
    if first is not None:
        assert second == first
    assert [d["id"] for d in _documents_with(shop, f"matrix-{mode}")] == [second["id"]]
    assert route_count(sim, "POST documents") == 3  # the "before" sale, the faulted one, the retry
    assert len(sleeps) == (1 if get_retried else 0)  # the POST was never retried by the client


def test_reset_clears_counts_and_faults_but_keeps_data(sim, shop):
    set_faults(sim, {"methods": ["POST"], "errors": {"503": 1}})
    with pytest.raises(VendusUnavailable):
        shop.sale()
    reset_sim(sim)
    stats = sim_stats(sim)
    assert (stats["total"], stats["faults"]) == (0, {})
    assert requests.get(f"{sim.root_url}/_sim/faults", timeout=5).json()["rules"] == []
    created = shop.sale()
    assert [row["id"] for row in shop.client.list_documents()] == [created["id"]]
    assert route_count(sim, "POST documents") == 1
