"""GETs are retried with jittered backoff; POST and PATCH are sent exactly once, whatever happens."""

from __future__ import annotations

import pytest
import requests
import responses
from vendus_testkit import url

from kapta_vendus.vendus import OutcomeUnknown, RateLimited, VendusRejected, VendusUnavailable


def test_get_retries_then_gives_up(rsps, client, fake_time):
    rsps.add(responses.GET, url("account/"), status=502)
    with pytest.raises(VendusUnavailable):
        client.get_account()
    assert len(rsps.calls) == 4  # 1 + get_retries (3)
    assert len(fake_time.sleeps) == 3
    # Equal jitter: each delay is within [ceiling/2, ceiling], ceilings 0.5, 1, 2.
    for delay, ceiling in zip(fake_time.sleeps, (0.5, 1.0, 2.0), strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_get_recovers_after_transient_failures(rsps, client):
    rsps.add(responses.GET, url("documents/5"), body=requests.ReadTimeout("slow"))
    rsps.add(responses.GET, url("documents/5"), body=requests.ConnectTimeout("down"))
    rsps.add(responses.GET, url("documents/5"), json={"id": 5})
    assert client.get_document(5) == {"id": 5}
    assert len(rsps.calls) == 3


def test_get_retries_configurable(rsps, make_client):
    client = make_client(get_retries=0)
    rsps.add(responses.GET, url("account/"), status=500)
    with pytest.raises(VendusUnavailable):
        client.get_account()
    assert len(rsps.calls) == 1


def test_backoff_is_capped(rsps, make_client, fake_time):
    client = make_client(get_retries=8)
    rsps.add(responses.GET, url("account/"), status=503)
    with pytest.raises(VendusUnavailable):
        client.get_account()
    assert max(fake_time.sleeps) <= 8.0


def test_pagination_retries_a_failing_page(rsps, make_client):
    client = make_client(per_page=2)
    rsps.add(responses.GET, url("documents/"), json=[{"id": 1}, {"id": 2}])
    rsps.add(responses.GET, url("documents/"), status=503)
    rsps.add(responses.GET, url("documents/"), json=[{"id": 3}])
    assert [d["id"] for d in client.list_documents()] == [1, 2, 3]


def test_4xx_on_get_is_not_retried(rsps, client):
    rsps.add(
        responses.GET, url("documents/"), status=403, json={"errors": [{"code": "P001", "message": "x"}]}
    )
    with pytest.raises(VendusRejected):
        list(client.list_documents(type="XX"))
    assert len(rsps.calls) == 1


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ({"status": 500}, OutcomeUnknown),
        ({"status": 503}, VendusUnavailable),
        ({"body": requests.ReadTimeout("slow")}, OutcomeUnknown),
        ({"body": requests.ConnectTimeout("down")}, VendusUnavailable),
        ({"status": 429, "headers": {"Rate-Limit-Reset": "1"}}, RateLimited),
    ],
)
def test_post_is_never_retried(rsps, client, fake_time, kind, expected):
    rsps.add(responses.POST, url("documents/"), **kind)
    with pytest.raises(expected):
        client.create_document({"tx_id": "int1:sale42:invoice", "items": []})
    assert len(rsps.calls) == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.cancel_document(9),
        lambda c: c.patch_document(9, "F"),
        lambda c: c.update_client(9, {"email": "a@b.pt"}),
    ],
)
def test_patch_is_never_retried(rsps, client, call):
    rsps.add(responses.PATCH, url("documents/9"), body=requests.ReadTimeout("slow"))
    rsps.add(responses.PATCH, url("clients/9"), body=requests.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknown):
        call(client)
    assert len(rsps.calls) == 1
