"""The rate-limit gate waits or refuses BEFORE sending, on a fake clock; the throttle hook is called."""

from __future__ import annotations

import pytest
import responses
from vendus_testkit import FakeTime, url

from kapta_vendus.vendus import RateLimited, RateLimitGate
from kapta_vendus.vendus.ratelimit import parse_reset


def spent(reset: str) -> dict[str, str]:
    return {
        "Rate-Limit-Limit": "100",
        "Rate-Limit-Remaining": "0",
        "Rate-Limit-Used": "100",
        "Rate-Limit-Reset": reset,
    }


def test_waits_for_reset_before_sending(rsps, client, fake_time):
    rsps.add(responses.GET, url("account/"), json={"id": 1}, headers=spent("20"))
    rsps.add(responses.GET, url("stores/1"), json={"id": 1})
    client.get_account()
    fake_time.now += 5  # 15 s of the window left
    client.get_store(1)
    assert fake_time.sleeps == [15.0]
    assert len(rsps.calls) == 2


def test_refuses_without_sending_when_reset_is_too_far(rsps, make_client, fake_time):
    client = make_client(max_rate_wait=10)
    rsps.add(responses.GET, url("account/"), json={"id": 1}, headers=spent("60"))
    rsps.add(responses.POST, url("documents/"), status=201, json={"id": 2})
    client.get_account()
    with pytest.raises(RateLimited) as info:
        client.create_document({"items": []})
    assert info.value.reset_after == pytest.approx(60.0)
    assert len(rsps.calls) == 1  # the POST never left
    assert fake_time.sleeps == []


def test_no_wait_once_the_reset_has_passed(rsps, client, fake_time):
    rsps.add(responses.GET, url("account/"), json={"id": 1}, headers=spent("20"))
    client.get_account()
    fake_time.now += 21
    client.get_account()
    assert fake_time.sleeps == []


def test_remaining_budget_does_not_wait(rsps, client, fake_time):
    headers = {"Rate-Limit-Remaining": "3", "Rate-Limit-Reset": "20"}
    rsps.add(responses.GET, url("account/"), json={"id": 1}, headers=headers)
    client.get_account()
    client.get_account()
    assert fake_time.sleeps == []


def test_429_on_post_is_raised_and_the_next_call_waits(rsps, client, fake_time):
    rsps.add(responses.POST, url("documents/"), status=429, headers={"Rate-Limit-Reset": "4"}, json={})
    rsps.add(responses.GET, url("account/"), json={"id": 1})
    with pytest.raises(RateLimited) as info:
        client.create_document({"items": []})
    assert info.value.reset_after == 4.0
    assert len(rsps.calls) == 1
    client.get_account()
    assert fake_time.sleeps == [4.0]


def test_429_on_get_waits_for_reset_then_retries(rsps, client, fake_time):
    rsps.add(responses.GET, url("account/"), status=429, headers={"Rate-Limit-Reset": "7"}, json={})
    rsps.add(responses.GET, url("account/"), json={"id": 1})
    assert client.get_account() == {"id": 1}
    assert fake_time.sleeps == [7.0]
    assert len(rsps.calls) == 2


def test_429_on_get_with_distant_reset_is_raised_after_one_call(rsps, make_client, fake_time):
    client = make_client(max_rate_wait=30)
    rsps.add(responses.GET, url("account/"), status=429, headers={"Rate-Limit-Reset": "300"}, json={})
    with pytest.raises(RateLimited) as info:
        client.get_account()
    assert info.value.reset_after == pytest.approx(300.0)
    assert len(rsps.calls) == 1
    assert fake_time.sleeps == []


def test_throttle_hook_runs_before_every_request(rsps, make_client):
    calls = []
    client = make_client(throttle=lambda: calls.append(len(rsps.calls)))
    rsps.add(responses.GET, url("account/"), status=503)
    rsps.add(responses.GET, url("account/"), json={"id": 1})
    rsps.add(responses.POST, url("documents/"), status=201, json={"id": 1})
    client.get_account()
    client.create_document({"items": []})
    assert calls == [0, 1, 2]  # before each send, including the retry


def test_throttle_can_refuse(rsps, make_client):
    def bucket_empty():
        raise RateLimited("integration budget spent", reset_after=2.0)

    client = make_client(throttle=bucket_empty)
    rsps.add(responses.POST, url("documents/"), status=201, json={"id": 1})
    with pytest.raises(RateLimited):
        client.create_document({"items": []})
    assert len(rsps.calls) == 0


def test_gate_alone():
    fake = FakeTime()
    gate = RateLimitGate(max_wait=10, clock=fake.clock, sleep=fake.sleep)
    gate.before_request()
    gate.observe({"Rate-Limit-Remaining": "0", "Rate-Limit-Reset": "2.5"})
    assert gate.remaining == 0 and gate.seconds_until_reset() == 2.5
    gate.before_request()
    assert fake.sleeps == [2.5] and gate.remaining is None
    gate.observe({"Rate-Limit-Remaining": "0"})  # no reset known: nothing to wait for
    gate.before_request()
    assert fake.sleeps == [2.5]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20", 20.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("soon", None),
        (None, None),
        ("nan", None),
        ("1800000030", 30.0),
    ],
)
def test_parse_reset(value, expected):
    assert parse_reset(value, wall_clock=lambda: 1_800_000_000.0) == expected
