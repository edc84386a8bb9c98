"""Fault injection, rate limits, stats and the /_sim control endpoints (in-process)."""

from __future__ import annotations

import pytest
from simulator_testkit import CAFE, KEY_A, NOW

from kapta_vendus.simulator import FaultInjector, SimulatedConnectionDrop, SimulatorState, create_app
from kapta_vendus.simulator.faults import FaultRule


def test_rate_limit_is_off_by_default(api):
    response = api.get("account/")
    assert not any(name.startswith("Rate-Limit") for name, _ in response.headers)


def test_rate_limit_headers_and_429(api, state):
    client = api.client
    assert client.post("/_sim/rate-limit", json={"credits": 3, "window_seconds": 20}).status_code == 200
    first = api.get("account/")
    assert first.headers["Rate-Limit-Limit"] == "3"
    assert first.headers["Rate-Limit-Used"] == "1"
    assert first.headers["Rate-Limit-Remaining"] == "2"
    assert first.headers["Rate-Limit-Reset"] == "20"
    api.get("account/")
    api.get("account/")
    limited = api.get("account/")
    assert limited.status_code == 429
    assert limited.headers["Rate-Limit-Remaining"] == "0"
    # budgets are per key
    assert api.as_key("key-b").get("account/").status_code == 200
    state.clock.advance(20)
    assert api.get("account/").status_code == 200
    client.post("/_sim/rate-limit", json={"enabled": False})
    assert "Rate-Limit-Limit" not in api.get("account/").headers


def test_rate_limit_from_constructor_string():
    state = SimulatorState(api_keys=["k"], rate_limit="1/60")
    client = create_app(state).test_client()
    assert client.get("/ws/account/", query_string={"api_key": "k"}).status_code == 200
    assert client.get("/ws/account/", query_string={"api_key": "k"}).status_code == 429


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_injected_errors_do_not_touch_data(api, state, status):
    state.faults.configure({"errors": {str(status): 1.0}})
    response = api.post("documents/", {"items": [CAFE]})
    assert response.status_code == status
    assert not api.account.docs
    assert state.stats.snapshot()["faults"] == {f"error_{status}": 1}


def test_faults_are_scoped_by_method_and_path(api, state):
    state.faults.configure({"rules": [{"methods": ["POST"], "paths": ["documents"], "errors": {"503": 1}}]})
    assert api.get("documents/types/").status_code == 200
    assert api.post("clients/", {"name": "X"}).status_code == 201
    assert api.post("documents/", {"items": [CAFE]}).status_code == 503
    state.faults.configure({"rules": [{"templates": ["documents/{id}"], "errors": {"500": 1}}]})
    assert api.post("documents/", {"items": [CAFE]}).status_code == 201
    assert api.get("documents/100001").status_code == 500


def test_max_hits_retires_a_rule(api, state):
    state.faults.add_rule(methods=["POST"], errors={"502": 1.0}, max_hits=2)
    statuses = [api.post("documents/", {"items": [CAFE]}).status_code for _ in range(3)]
    assert statuses == [502, 502, 201]


def test_seeded_faults_are_reproducible():
    def run(seed):
        injector = FaultInjector({"seed": seed, "rules": [{"errors": {"500": 0.3}, "drop_rate": 0.1}]})
        return [injector.decide("GET", "documents", "documents", True).outcome for _ in range(200)]

    assert run(7) == run(7)
    assert run(7) != run(8)
    outcomes = run(7)
    assert outcomes.count("error_500") > 20 and outcomes.count("drop") > 5


def test_latency_ranges_and_slow_pages():
    injector = FaultInjector({"seed": 1, "rules": [{"latency_ms": [10, 20]}, {"slow_page_ms": 100}]})
    decision = injector.decide("GET", "documents", "documents", True)
    assert 0.010 <= decision.latency_s <= 0.020
    assert decision.slow_page_s == pytest.approx(0.1)
    assert injector.decide("GET", "documents/1", "documents/{id}", False).slow_page_s == 0


def test_bad_fault_config_is_rejected(api):
    with pytest.raises(ValueError):
        FaultRule.from_dict({"errors": {"418": 1}})
    with pytest.raises(ValueError):
        FaultRule.from_dict({"explode": True})
    assert api.client.post("/_sim/faults", json={"rules": [{"explode": 1}]}).status_code == 400


def test_drop_without_a_socket_raises_in_process(api, state):
    state.faults.add_rule(drop_rate=1, max_hits=1)
    with pytest.raises(SimulatedConnectionDrop):
        api.post("documents/", {"items": [CAFE]})
    assert not api.account.docs  # dropped before processing
    assert api.post("documents/", {"items": [CAFE]}).status_code == 201


def test_commit_then_drop_commits_in_process(api, state):
    state.faults.add_rule(methods=["POST"], paths=["documents"], commit_then_drop_rate=1, max_hits=1)
    with pytest.raises(SimulatedConnectionDrop):
        api.post("documents/", {"items": [CAFE], "tx_id": "retry-me"})
    assert len(api.account.docs) == 1
    replay = api.post("documents/", {"items": [CAFE], "tx_id": "retry-me"})
    assert replay.status_code == 201
    assert len(api.account.docs) == 1
    assert state.stats.snapshot()["faults"] == {"commit_then_drop": 1}


def test_stats_count_per_account_method_and_template(api, state):
    doc = api.invoice()
    api.get(f"documents/{doc['id']}")
    api.get("documents/99")
    api.as_key("key-b").get("documents/")
    api.client.get("/ws/documents/")  # no key
    stats = api.client.get("/_sim/stats").get_json()
    account_a = str(state.accounts[KEY_A].id)
    assert stats["total"] == 5
    assert stats["accounts"][account_a]["by_route"] == {"POST documents": 1, "GET documents/{id}": 2}
    assert stats["accounts"]["anonymous"]["total"] == 1
    assert stats["by_route"]["GET documents"] == 2
    assert stats["by_status"] == {"201": 1, "200": 1, "404": 2, "401": 1}
    assert stats["documents"][account_a] == 1
    assert state.stats.count("GET", "documents/{id}") == 2


def test_reset_clears_counts_and_faults_but_keeps_data(api, state):
    api.invoice()
    api.client.post("/_sim/faults", json={"latency_ms": 1})
    assert api.client.get("/_sim/faults").get_json()["rules"][0]["latency_ms"] == [1.0, 1.0]
    assert api.client.post("/_sim/reset").status_code == 200
    assert api.client.get("/_sim/stats").get_json()["total"] == 0
    assert api.client.get("/_sim/faults").get_json()["rules"] == []
    assert len(api.account.docs) == 1


def test_clock_endpoint_controls_today(api):
    client = api.client
    assert client.get("/_sim/clock").get_json()["now"].startswith(NOW.isoformat()[:19])
    client.post("/_sim/clock", json={"now": "2026-06-01T09:00:00Z", "frozen": True})
    assert api.invoice()["date"] == "2026-06-01"
    client.post("/_sim/clock", json={"advance_seconds": 86400})
    assert api.invoice()["date"] == "2026-06-02"
    assert api.refused(items=[CAFE], date="2026-06-03") == "A001"
    assert client.post("/_sim/clock", json={"now": "not a date"}).status_code == 400


def test_local_date_uses_the_account_time_zone(api):
    api.client.post("/_sim/clock", json={"now": "2026-07-01T23:30:00Z", "frozen": True})  # 00:30 in Lisbon
    created = api.invoice()
    assert created["date"] == "2026-07-02"
    assert (created["system_time"], created["local_time"]) == ("2026-07-01 23:30:00", "2026-07-02 00:30:00")


def test_assumptions_endpoint(api):
    response = api.client.post("/_sim/assumptions", json={"per_page_max": 100, "validation_status": "422"})
    assert response.get_json()["per_page_max"] == 100
    assert response.get_json()["validation_status"] == 422
    assert api.client.post("/_sim/assumptions", json={"nope": 1}).status_code == 400


def test_accounts_and_bulk_endpoints(api, state):
    created = api.client.post("/_sim/accounts", json={"api_key": "new", "region": "madeira"})
    assert created.status_code == 201
    bulk = api.client.post("/_sim/bulk", json={"api_key": "new", "n": 30, "start_date": "2026-03-01"})
    assert bulk.get_json()["created"] == 30
    assert api.as_key("new").get("documents/").headers["X-Paginator-Items"] == "30"
    assert api.client.post("/_sim/bulk", json={"api_key": "nobody", "n": 1}).status_code == 401
    assert api.client.post("/_sim/accounts", json={"api_key": "new"}).status_code == 400


def test_control_endpoints_only_answer_loopback(app):
    client = app.test_client()
    outsider = {"REMOTE_ADDR": "192.0.2.10"}
    assert client.get("/_sim/stats", environ_base=outsider).status_code == 404
    assert client.post("/_sim/reset", environ_base=outsider).status_code == 404
    assert client.get("/_sim/stats", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/_sim/stats").status_code == 200


def test_control_calls_are_not_counted_or_faulted(api, state):
    state.faults.configure({"errors": {"500": 1}})
    assert api.client.get("/_sim/stats").status_code == 200
    assert api.client.get("/_sim/stats").get_json()["total"] == 0
