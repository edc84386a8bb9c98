"""The admin API's reads: integrations, event search, event detail, reconciliation runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from tenancy_testkit import KEY_A, WHSEC_A, sale_envelope

from kapta_vendus.db.models import Document, ReconciliationRun, utcnow
from kapta_vendus.pipeline.references import sale_reference

pytestmark = pytest.mark.integration


@pytest.fixture
def history(world):
    """Three events of shop-a: a cash sale (done), a card sale (done), an unmapped one (rejected)."""
    cash = sale_envelope(world.a.store_id, sale_id="S-CASH")
    card = sale_envelope(world.a.store_id, sale_id="S-CARD", method="card")
    unmapped = sale_envelope(world.a.store_id, sale_id="S-VOUCHER", method="voucher")
    ids = {name: world.process(world.a, env) for name, env in (("cash", cash), ("card", card), ("unmapped", unmapped))}
    return ids, {"cash": cash, "card": card, "unmapped": unmapped}


def _search(world, token, **params):
    response = world.client.get(f"/admin/v1/integrations/{world.a.id}/events", query_string=params,
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_integration_detail_has_no_secret(world):
    world.apply({"integrations": [{**world.document["integrations"][0], "notifications": {
        "channels": [{"url": "slack://TTOKEN/BTOKEN/SECRETPART", "on": ["dead"]}]}}]})
    token = world.token("read", tenant=world.a)

    detail = world.admin(token, f"/integrations/{world.a.id}").get_json()

    assert detail["name"] == "shop-a" and detail["api_key"] == "set (encrypted at rest)"
    assert detail["webhook_secrets"][0]["state"] == "active"
    assert detail["limits"]["max_events_in_flight"] == 8
    text = str(detail)
    for secret in (KEY_A, WHSEC_A, "SECRETPART", "gAAAAA"):
        assert secret not in text
    assert detail["config"]["notifications"]["channels"][0]["url"].startswith("<slack://…#")


def test_search_by_status_type_store_and_date(world, history):
    ids, _ = history
    token = world.token("read", tenant=world.a)

    assert [e["id"] for e in _search(world, token)["items"]] == sorted(ids.values(), reverse=True)
    assert [e["id"] for e in _search(world, token, status="rejected")["items"]] == [ids["unmapped"]]
    assert _search(world, token, type="payment.confirmed")["total"] == 0
    assert _search(world, token, store_id=world.a.store_id)["total"] == 3
    assert _search(world, token, store_id=world.b.store_id)["total"] == 0
    future = (utcnow() + timedelta(hours=1)).isoformat()
    past = (utcnow() - timedelta(hours=1)).isoformat()
    assert _search(world, token, received_from=future)["total"] == 0
    assert _search(world, token, received_from=past, received_to=future)["total"] == 3


def test_search_by_external_reference_and_document_number(world, history):
    ids, envelopes = history
    token = world.token("read", tenant=world.a)
    with world.db.unit_of_work() as session:
        number = session.scalar(select(Document.number).where(
            Document.external_reference == sale_reference(world.a.id, world.a.store_id, "S-CARD")))

    by_sale = _search(world, token, external_reference="S-CASH")
    by_envelope = _search(world, token, external_reference=envelopes["card"]["id"])
    by_number = _search(world, token, document_number=number)

    assert [e["id"] for e in by_sale["items"]] == [ids["cash"]]
    assert [e["id"] for e in by_envelope["items"]] == [ids["card"]]
    assert [e["id"] for e in by_number["items"]] == [ids["card"]]
    assert _search(world, token, document_number="FT 99P2099/1")["total"] == 0


def test_search_pages(world, history):
    token = world.token("read", tenant=world.a)

    first = _search(world, token, page=1, page_size=2)
    second = _search(world, token, page=2, page_size=2)

    assert (first["total"], len(first["items"]), len(second["items"])) == (3, 2, 1)
    assert not {e["id"] for e in first["items"]} & {e["id"] for e in second["items"]}


def test_bad_search_parameters_are_422_naming_them(world):
    token = world.token("read", tenant=world.a)
    response = world.client.get(f"/admin/v1/integrations/{world.a.id}/events",
                                query_string={"status": "lost", "page_size": 5000, "received_from": "yesterday"},
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["query"]) == {"status", "page_size", "received_from"}


def test_event_detail_has_steps_documents_links_and_issuances(world, history):
    ids, envelopes = history
    token = world.token("read", tenant=world.a)

    detail = world.admin(token, f"/integrations/{world.a.id}/events/{ids['cash']}").get_json()
    rejected = world.admin(token, f"/integrations/{world.a.id}/events/{ids['unmapped']}").get_json()

    assert detail["status"] == "done" and detail["envelope"] == envelopes["cash"]
    assert [s["step"] for s in detail["step_runs"]] == ["validate", "normalise", "map", "rules", "actions", "sync"]
    (document,) = detail["documents"]
    assert document["type"] == "FS"
    assert document["external_reference"] == sale_reference(world.a.id, world.a.store_id, "S-CASH")
    assert detail["links"][0]["relation"] == "invoiced_by"
    assert detail["issuances"][0]["state"] == "issued"
    assert rejected["status"] == "rejected" and rejected["documents"] == []
    assert rejected["step_runs"][-1]["status"] == "failed" and "voucher" in rejected["step_runs"][-1]["error"]


def test_reconciliation_runs_are_listed_per_integration(world):
    with world.db.unit_of_work() as session:
        session.add_all([ReconciliationRun(integration_id=world.a.id, kind="poll", status="ok", counts={"seen": 3}),
                         ReconciliationRun(integration_id=world.a.id, kind="drift", status="failed"),
                         ReconciliationRun(integration_id=world.b.id, kind="poll", status="ok")])
    token = world.token("read", tenant=world.a)

    runs = world.admin(token, f"/integrations/{world.a.id}/reconciliation-runs").get_json()
    polls = world.client.get(f"/admin/v1/integrations/{world.a.id}/reconciliation-runs", query_string={"kind": "poll"},
                             headers={"Authorization": f"Bearer {token}"}).get_json()

    assert runs["total"] == 2 and [r["kind"] for r in runs["items"]] == ["drift", "poll"]
    assert polls["total"] == 1 and polls["items"][0]["counts"] == {"seen": 3}


def test_openapi_document_is_served(world):
    spec = world.client.get("/admin/v1/openapi.json").get_json()
    assert "/admin/v1/integrations/{integration_id}/events" in spec["paths"]
    assert "/v1/integrations/{integration_id}/events" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
