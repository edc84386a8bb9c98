"""HTTP status → typed error mapping, and the properties callers rely on (retryable, pickling)."""

from __future__ import annotations

import pickle

import pytest
import responses
from vendus_testkit import NO_DATA, no_data, url

from kapta_vendus.vendus import (
    OutcomeUnknown,
    RateLimited,
    VendusAuthError,
    VendusError,
    VendusNotFound,
    VendusPayloadError,
    VendusRejected,
    VendusUnavailable,
)

P001_BODY = {
    "errors": [
        {"code": "P001", "message": "Parâmetros mal preenchidos: items[0].tax_rate"},
        {"code": "P001", "message": "Parâmetros mal preenchidos: discount"},
    ]
}


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (VendusError, False),
        (VendusAuthError, False),
        (VendusRejected, False),
        (VendusNotFound, False),
        (VendusPayloadError, False),
        (RateLimited, True),
        (VendusUnavailable, True),
        (OutcomeUnknown, True),
    ],
)
def test_retryable_flag_and_hierarchy(cls, retryable):
    assert cls.retryable is retryable
    assert issubclass(cls, VendusError)


def test_401_is_auth_error(rsps, client):
    rsps.add(responses.GET, url("account/"), status=401, json={"errors": [{"code": "A001", "message": "x"}]})
    with pytest.raises(VendusAuthError) as info:
        client.get_account()
    assert info.value.status == 401
    assert len(rsps.calls) == 1  # a bad key is not retried


def test_403_p001_is_rejected_with_all_errors(rsps, client):
    rsps.add(responses.POST, url("documents/"), status=403, json=P001_BODY)
    with pytest.raises(VendusRejected) as info:
        client.create_document({"type": "FT", "items": [{"qty": 1, "tax_rate": 23}]})
    err = info.value
    assert (err.status, err.code) == (403, "P001")
    assert err.message == "Parâmetros mal preenchidos: items[0].tax_rate"
    assert err.errors == P001_BODY["errors"]
    assert err.retryable is False
    assert "P001" in str(err) and "POST documents/" in str(err)


def test_flat_error_body_is_understood(rsps, client):
    rsps.add(responses.POST, url("clients/"), status=403, json={"code": "P001", "message": "NIF inválido"})
    with pytest.raises(VendusRejected) as info:
        client.create_client({"name": "X", "fiscal_id": "123456780"})
    assert (info.value.code, info.value.message) == ("P001", "NIF inválido")


@pytest.mark.parametrize("status", [400, 409, 415, 422])
def test_other_4xx_are_rejected(rsps, client, status):
    rsps.add(responses.POST, url("documents/"), status=status, body="<html>nope</html>")
    with pytest.raises(VendusRejected) as info:
        client.create_document({"items": []})
    assert info.value.status == status
    assert info.value.errors == []


def test_404_on_single_resource_is_not_found(rsps, client):
    rsps.add(responses.GET, url("documents/77"), status=404, json=NO_DATA)
    with pytest.raises(VendusNotFound) as info:
        client.get_document(77)
    assert info.value.code == "A001"
    assert len(rsps.calls) == 1


def test_404_no_data_on_a_list_is_empty(rsps, client):
    no_data(rsps, "documents/")
    no_data(rsps, "stores/")
    assert list(client.list_documents(since="2026-01-01")) == []
    assert client.list_stores() == []


def test_404_without_vendus_body_on_a_list_is_not_silently_empty(rsps, client):
    # A wrong base URL must not look like "no documents", or the poller would go blind.
    rsps.add(responses.GET, url("documents/"), status=404, body="<h1>Not Found</h1>")
    with pytest.raises(VendusNotFound):
        list(client.list_documents())


def test_429_carries_reset_after(rsps, make_client):
    client = make_client(get_retries=0)
    rsps.add(responses.GET, url("taxes/"), status=429, headers={"Rate-Limit-Reset": "12"}, json={})
    with pytest.raises(RateLimited) as info:
        client.list_taxes()
    assert info.value.reset_after == 12.0
    assert info.value.retryable is True


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_get_is_unavailable(rsps, make_client, status):
    client = make_client(get_retries=0)
    rsps.add(responses.GET, url("account/"), status=status, body="oops")
    with pytest.raises(VendusUnavailable) as info:
        client.get_account()
    assert info.value.status == status


@pytest.mark.parametrize("status", [500, 502, 504])
def test_5xx_on_write_may_have_committed(rsps, client, status):
    rsps.add(responses.POST, url("documents/"), status=status, body="Bad Gateway")
    with pytest.raises(OutcomeUnknown) as info:
        client.create_document({"items": []})
    assert info.value.status == status


@pytest.mark.parametrize("status", [503, 408])
def test_not_processed_statuses_on_write_are_unavailable(rsps, client, status):
    rsps.add(responses.POST, url("documents/"), status=status)
    with pytest.raises(VendusUnavailable):
        client.create_document({"items": []})


def test_408_on_get_is_retryable_unavailable(rsps, make_client):
    client = make_client(get_retries=1)
    rsps.add(responses.GET, url("account/"), status=408)
    rsps.add(responses.GET, url("account/"), json={"id": 1})
    assert client.get_account() == {"id": 1}


def test_redirect_on_write_is_not_followed(rsps, client):
    rsps.add(responses.POST, url("documents/"), status=301, headers={"Location": "https://elsewhere/"})
    with pytest.raises(VendusRejected) as info:
        client.create_document({"items": []})
    assert info.value.status == 301
    assert len(rsps.calls) == 1


def roundtrip(err):
    # Celery pickles exceptions between processes; these bytes are our own, not untrusted input.
    return pickle.loads(pickle.dumps(err))


def test_errors_survive_pickling():
    err = RateLimited("slow down", reset_after=3.5, status=429, code="A001", method="GET", path="taxes/")
    clone = roundtrip(err)
    assert type(clone) is RateLimited
    assert (clone.reset_after, clone.status, clone.code, str(clone)) == (3.5, 429, "A001", str(err))
    rejected = roundtrip(VendusRejected("bad", status=403, code="P001", errors=[{"a": 1}]))
    assert rejected.errors == [{"a": 1}] and rejected.code == "P001"
