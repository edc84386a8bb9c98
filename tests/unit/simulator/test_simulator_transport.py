"""Paths, versions, authentication, account isolation and request/response formats."""

from __future__ import annotations

import base64

import pytest
from simulator_testkit import KEY_B, Api, error_code

from kapta_vendus.simulator import SimulatorState, create_app


@pytest.mark.parametrize(
    "path",
    ["/ws/v1.1/registers/", "/ws/v1.1/registers", "/ws/registers/", "/ws/registers", "/ws/v1.1//registers/"],
)
def test_v11_paths_with_and_without_version_and_trailing_slash(api, path):
    response = api.client.get(path, headers=api.headers)
    assert response.status_code == 200
    assert response.get_json()[0]["mode"] == "normal"


@pytest.mark.parametrize("resource", ["clients/", "products/", "documents/paymentmethods/", "products/units"])
def test_v10_serves_clients_products_and_payment_methods(api, resource):
    assert api.client.get(f"/ws/v1.0/{resource}", headers=api.headers).status_code == 200


@pytest.mark.parametrize("resource", ["documents/", "registers/", "taxes/"])
def test_v10_does_not_serve_other_resources(api, resource):
    response = api.client.get(f"/ws/v1.0/{resource}", headers=api.headers)
    assert response.status_code == 404


def test_unknown_version_and_unknown_resource_are_404(api):
    assert api.client.get("/ws/v9.9/registers/", headers=api.headers).status_code == 404
    response = api.client.get("/ws/v1.1/nothing-here/", headers=api.headers)
    assert response.status_code == 404
    assert error_code(response) == "A001"


def test_api_key_query_parameter_authenticates(api):
    response = api.client.get("/ws/v1.1/account/", query_string={"api_key": api.key})
    assert response.status_code == 200
    assert response.get_json()["id"] == api.account.id


@pytest.mark.parametrize(
    "headers,query",
    [
        ({}, {}),
        ({"Authorization": "Basic " + base64.b64encode(b"wrong:").decode()}, {}),
        ({}, {"api_key": "wrong"}),
    ],
)
def test_missing_or_wrong_key_is_401_a001(api, headers, query):
    response = api.client.get("/ws/v1.1/documents/", headers=headers, query_string=query)
    assert response.status_code == 401
    assert response.get_json() == {"errors": [{"code": "A001", "message": response.get_json()["errors"][0]["message"]}]}


def test_bearer_auth_is_refused_unless_assumed(api, state):
    bearer = {"Authorization": f"Bearer {api.key}"}
    assert api.client.get("/ws/account/", headers=bearer).status_code == 401
    state.assumptions.accept_bearer_auth = True
    assert api.client.get("/ws/account/", headers=bearer).status_code == 200


def test_unauthorized_code_is_switchable(api, state):
    state.assumptions.unauthorized_code = "AUTH"
    response = api.client.get("/ws/account/")
    assert error_code(response) == "AUTH"


def test_accounts_never_see_each_others_data(api):
    mine = api.invoice()
    other = api.as_key(KEY_B)
    assert other.get(f"documents/{mine['id']}").status_code == 404
    assert other.get("documents/").status_code == 404
    assert other.patch(f"documents/{mine['id']}", {"status": "A"}).status_code == 404
    # the other account's catalogue is its own (different ids for the same default content)
    assert set(api.methods.values()).isdisjoint(other.methods.values())
    foreign = other.create(items=[{"reference": "CAFE", "qty": 1}], payments=[{"id": api.cash}], expect=403)
    assert foreign["errors"][0]["code"] == "P001"
    # numbering is per account: both start at 1
    assert other.invoice()["number"] == mine["number"]


def test_form_bodies_are_415_unless_assumed(api, state):
    form = {"items[0][reference]": "CAFE", "items[0][qty]": "2", "register_id": str(api.register())}
    response = api.client.post("/ws/documents/", headers=api.headers, data=form)
    assert response.status_code == 415
    state.assumptions.accept_form_bodies = True
    response = api.client.post("/ws/documents/", headers=api.headers, data=form)
    assert response.status_code == 201, response.get_json()
    assert api.doc(response.get_json()["id"])["items"][0]["qty"] == "2.000"


def test_malformed_json_is_400(api):
    response = api.client.post(
        "/ws/documents/", headers={**api.headers, "Content-Type": "application/json"}, data="{nope"
    )
    assert response.status_code == 400


def test_action_patch_override_and_envelope(api):
    receipt_id = api.invoice(payments=[{"id": api.cash}])["id"] + 1  # the automatic RG
    response = api.client.post(
        f"/ws/documents/{receipt_id}",
        headers=api.headers,
        json={"status": "A"},
        query_string={"action": "PATCH"},
    )
    assert response.get_json() == {"id": receipt_id, "status": "A"}
    enveloped = api.get("documents/999999", envelope="true")
    assert enveloped.status_code == 200
    assert enveloped.get_json()["status"] == 404
    assert enveloped.get_json()["response"]["errors"][0]["message"] == "No data"


def test_wrong_method_on_known_path_is_405(api):
    response = api.client.patch("/ws/registers/", headers=api.headers, json={})
    assert response.status_code == 405


def test_validation_status_can_be_422(api, state):
    state.assumptions.validation_status = 422
    response = api.post("documents/", {"items": [{"reference": "CAFE", "qty": 1, "tax_rate": 23}]})
    assert response.status_code == 422
    assert error_code(response) == "P001"


def test_pdf_extension_returns_a_pdf(api):
    doc = api.invoice()
    response = api.get(f"documents/{doc['id']}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")


def test_amounts_are_strings_and_no_floats_leak(api):
    doc = api.doc(api.invoice()["id"])
    assert isinstance(doc["amount_gross"], str)
    assert all(isinstance(t["base"], str) for t in doc["taxes"])
    assert all(isinstance(i["amounts"]["gross_total"], str) for i in doc["items"])


def test_create_app_builds_its_own_state():
    app = create_app(api_keys=["solo"])
    state = app.extensions["vendus_simulator"]
    assert isinstance(state, SimulatorState)
    api = Api(app.test_client(), state, key="solo")
    assert api.invoice()["number"].startswith("FT 01P")
