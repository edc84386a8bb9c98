"""Contract: authentication, account isolation and the URL forms the API answers on."""

from __future__ import annotations

import pytest
import requests
from contract_kit import KEY_A, KEY_B, Shop, route_count

from kapta_vendus.vendus import VendusAuthError, VendusClient, VendusNotFound


def test_basic_auth_is_what_the_client_sends(sim, client):
    account = client.get_account()
    assert account["id"] == sim.state.accounts[KEY_A].id
    # The key travels as HTTP Basic (username = key, empty password), never in the URL.
    assert client.session.auth is None
    response = requests.get(f"{sim.base_url}/account/", auth=(KEY_A, ""), timeout=5)
    assert response.status_code == 200
    assert response.json()["id"] == account["id"]


def test_api_key_query_parameter_authenticates(sim):
    response = requests.get(f"{sim.base_url}/account/", params={"api_key": KEY_A}, timeout=5)
    assert response.status_code == 200
    assert response.json()["id"] == sim.state.accounts[KEY_A].id


def test_wrong_key_is_an_auth_error_and_is_not_retried(sim, make_client):
    wrong = make_client("not-a-key")
    with pytest.raises(VendusAuthError) as caught:
        wrong.get_account()
    assert caught.value.status == 401
    assert caught.value.code == "A001"
    # A list must not turn a 401 into "no documents": a poller would silently go blind.
    with pytest.raises(VendusAuthError):
        list(wrong.list_documents())
    stats = requests.get(f"{sim.root_url}/_sim/stats", timeout=5).json()
    assert stats["accounts"]["anonymous"]["total"] == 2  # one request each: 401 is never retried


def test_missing_key_is_401(sim):
    response = requests.get(f"{sim.base_url}/documents/", timeout=5)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "A001"


def test_one_account_never_sees_anothers_documents(sim, shop, client_b):
    doc = shop.sale()
    with pytest.raises(VendusNotFound):
        client_b.get_document(doc["id"])
    with pytest.raises(VendusNotFound):
        client_b.cancel_document(doc["id"])
    assert list(client_b.list_documents()) == []
    assert list(client_b.list_documents(external_reference="anything")) == []
    # The same number exists in both accounts' own spaces without clashing.
    other = Shop(client_b).sale()
    assert other["number"] == doc["number"]
    assert other["id"] != doc["id"]
    assert [row["id"] for row in client_b.list_documents()] == [other["id"]]


def test_catalogues_are_per_account(client, client_b):
    mine = {m["id"] for m in client.list_payment_methods()}
    theirs = {m["id"] for m in client_b.list_payment_methods()}
    assert mine and theirs and not mine & theirs
    some_id = next(iter(theirs))
    with pytest.raises(VendusNotFound):
        client.get_payment_method(some_id)
    assert client.get_account()["id"] != client_b.get_account()["id"]


@pytest.mark.parametrize("prefix", ["/ws/v1.1/", "/ws/"])
@pytest.mark.parametrize("slash", ["/", ""])
@pytest.mark.parametrize("resource", ["registers", "documents/paymentmethods", "stores"])
def test_v11_with_and_without_version_and_trailing_slash(sim, prefix, slash, resource):
    response = requests.get(f"{sim.root_url}{prefix}{resource}{slash}", auth=(KEY_A, ""), timeout=5)
    assert response.status_code == 200
    assert isinstance(response.json(), list) and response.json()


@pytest.mark.parametrize("resource", ["clients", "products", "documents/paymentmethods"])
@pytest.mark.parametrize("slash", ["/", ""])
def test_v10_serves_clients_products_and_payment_methods(sim, resource, slash):
    response = requests.get(f"{sim.root_url}/ws/v1.0/{resource}{slash}", auth=(KEY_A, ""), timeout=5)
    assert response.status_code == 200
    assert isinstance(response.json(), list) and response.json()


def test_client_rooted_at_the_default_version_works(sim, make_client):
    unversioned = make_client(base_url=f"{sim.root_url}/ws")
    shop = Shop(unversioned)
    created = shop.sale()
    assert unversioned.get_document(created["id"])["number"] == created["number"]
    assert route_count(sim, "POST documents") == 1


def test_client_rooted_at_v10_reads_clients_products_and_payment_methods(sim, make_client):
    v10 = make_client(base_url=f"{sim.root_url}/ws/v1.0/")
    assert any(c["fiscal_id"] == "123456789" for c in v10.list_clients())
    assert any(p["reference"] == "CAFE" for p in v10.list_products())
    assert any(m["title"] == "Dinheiro" for m in v10.list_payment_methods())


def test_the_client_refuses_credentials_in_the_base_url(sim):
    with pytest.raises(ValueError):
        VendusClient(f"{sim.base_url}/?api_key={KEY_B}", KEY_B)
