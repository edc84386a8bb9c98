"""Tenants are isolated (guarantee 6), test mode stays in its own space, and concurrent workers on
the same sale still make one document."""

from __future__ import annotations

import threading
import time

import pytest
from pipeline_testkit import Envelopes, sim_documents

pytestmark = pytest.mark.integration

OTHER_KEY = "pipeline-key-other"


def test_same_sale_id_in_two_integrations_is_two_documents(pipeline, make_tenant):
    pipeline.sim.state.seed_default_account(OTHER_KEY)
    other = make_tenant(api_key=OTHER_KEY, name="other-company")
    mine = Envelopes(pipeline.tenant.store_id).sale_completed(sale_id="T1-000123")
    theirs = Envelopes(other.store_id).sale_completed(sale_id="T1-000123")

    a = pipeline.process(mine)
    b = pipeline.process(theirs, tenant=other)

    assert pipeline.event(a).status == pipeline.event(b).status == "done"
    [fs_mine] = pipeline.documents(type="FS")
    [fs_theirs] = pipeline.documents(OTHER_KEY, type="FS")
    # Each reference names its integration and store (references.py), never the bare sale id.
    assert fs_mine["external_reference"] == pipeline.sale_ref("T1-000123")
    assert fs_theirs["external_reference"] == pipeline.sale_ref("T1-000123", tenant=other)
    issuances = pipeline.issuances()
    assert len(issuances) == 2 and issuances[0].idempotency_key != issuances[1].idempotency_key
    assert {i.integration_id for i in issuances} == {pipeline.tenant.id, other.id}


def test_event_of_one_integration_cannot_be_pushed_to_another(pipeline, make_tenant):
    pipeline.sim.state.seed_default_account(OTHER_KEY)
    other = make_tenant(api_key=OTHER_KEY, name="other-company")
    envelope = Envelopes(pipeline.tenant.store_id).sale_completed()

    response = pipeline.push(envelope, tenant=other)

    assert response.status_code == 400  # its store is not one of theirs
    assert pipeline.event_count() == 0


def test_test_mode_integration_stays_in_the_test_space(pipeline, make_tenant, vendus):
    tester = make_tenant(name="trying-it-out", mode="tests")
    envelopes = Envelopes(tester.store_id)
    sale = envelopes.sale_completed(payment_status="pending")
    pipeline.process(sale, tenant=tester)
    event_id = pipeline.process(envelopes.sale_refunded(sale_id=sale["data"]["sale_id"]), tenant=tester)

    assert pipeline.event(event_id).status == "done", pipeline.event(event_id).last_error
    assert pipeline.documents() == []  # nothing fiscal
    ft, nc = sim_documents(pipeline.sim, tester.api_key, mode="tests")
    assert (ft["type"], nc["type"]) == ("FT", "NC")
    assert " T" in ft["number"] or ft["number"].split(" ")[1].startswith("T"), ft["number"]
    assert ft["tax_authority_id"] == ""
    detail = vendus.get_document(ft["id"], mode="tests")
    assert [i["qty_nc"] for i in detail["items"]] == [0, 0]


def test_two_workers_on_the_same_sale_make_one_document(pipeline, envelopes, monkeypatch):
    from kapta_vendus.pipeline import actions

    first = envelopes.sale_completed()
    again = envelopes.sale_completed(sale_id=first["data"]["sale_id"])  # pushed twice, two chains
    ids = [pipeline.accept(first), pipeline.accept(again)]
    # The first worker to record the document holds its key's row until the document is mirrored
    # (both commit together); the second, claiming the same key meanwhile, waits for that commit and
    # finds the key issued. The first one pauses while it holds the row, so that the second is
    # certainly claiming by then.
    real_upsert, recorded = actions.upsert_document, threading.Event()

    def upsert_slowly(*args, **kwargs):
        if kwargs.get("issued_here") and not recorded.is_set():
            recorded.set()
            time.sleep(0.5)
        return real_upsert(*args, **kwargs)

    monkeypatch.setattr(actions, "upsert_document", upsert_slowly)
    errors: list[BaseException] = []

    def worker(event_id: int) -> None:
        try:
            pipeline.run_chain(event_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(event_id,)) for event_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert [pipeline.event(i).status for i in ids] == ["done", "done"]
    [fs] = pipeline.documents(type="FS")
    assert {pipeline.actions_output(i)["results"][0]["number"] for i in ids} == {fs["number"]}
    [row] = pipeline.issuances()
    assert row.state == "issued"
    assert [d.vendus_id for d in pipeline.mirrored()].count(fs["id"]) == 1
    assert pipeline.posts() == 1
