"""Island rates, customer corrections and sale ids shared between stores, on PostgreSQL with the
simulator (vendus-api §3.4 tax_custom; events.md sale.customer_changed; events.md: sale ids are
unique per store only)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pipeline_testkit import NIF_COMPANY, Envelopes

from kapta_vendus.pipeline.references import integration_tag
from kapta_vendus.vendus import OutcomeUnknown

pytestmark = pytest.mark.integration

ISLAND_LINES = [
    {"reference": "SUMO", "title": "Sumo natural", "qty": "1", "unit_price": "3.50", "tax": "NOR"},
    {"reference": "TOSTA", "title": "Tosta mista", "qty": "1", "unit_price": "3.20", "tax": "INT"},
    {"reference": "AGUA", "title": "Água 50cl", "qty": "1", "unit_price": "1.00", "tax": "RED"},
]
COMPANY = {"name": "Empresa Exemplo, Lda", "fiscal_id": NIF_COMPANY, "address": "Av. da Liberdade 1"}


def _done(pipeline, event_id: int) -> None:
    event = pipeline.event(event_id)
    assert event.status == "done", (event.status, event.last_error)


def _drop_next_post_response(pipeline) -> None:
    pipeline.sim.state.faults.add_rule(methods=["POST"], paths=["documents"], commit_then_drop_rate=1,
                                       max_hits=1)


# --- 7. Madeira and Azores ------------------------------------------------------------------------


@pytest.mark.parametrize(("store_index", "region", "country", "rates"),
                         [(1, "madeira", "PT-MA", [22, 12, 4]), (2, "azores", "PT-AC", [16, 9, 4])])
def test_island_store_charges_its_region_through_tax_custom(pipeline, make_tenant, vendus, store_index, region,
                                                             country, rates):
    island = make_tenant(name=f"loja-{region}", store_index=store_index)
    assert island.mapping["stores"][island.store_id]["region"] == region  # proposed from the postal code
    event_id = pipeline.process(Envelopes(island.store_id).sale_completed(lines=ISLAND_LINES), tenant=island)

    _done(pipeline, event_id)
    [fs] = pipeline.documents(type="FS")
    request = pipeline.issuances()[-1].request
    assert [i["tax_custom"] for i in request["items"]] == [
        {"country": country, "rate": str(rate), "code": code, "type": "IVA"}
        for rate, code in zip(rates, ("NOR", "INT", "RED"), strict=True)]
    items = vendus.get_document(fs["id"])["items"]
    assert [(i["tax"]["country"], i["tax"]["rate"]) for i in items] == [(country, r) for r in rates]


def test_region_can_be_overridden_in_the_mapping(pipeline, make_tenant):
    overridden = make_tenant(name="continente", store_index=1)
    mapping = dict(overridden.mapping)
    store = str(overridden.store_id) if str(overridden.store_id) in mapping["stores"] else overridden.store_id
    mapping["stores"] = {store: {**mapping["stores"][store], "region": "mainland"}}
    with pipeline.db.unit_of_work() as session:
        from kapta_vendus.db.models import Integration

        row = session.get(Integration, overridden.id)
        row.config = {**row.config, "mapping": mapping}
    pipeline.process(Envelopes(overridden.store_id).sale_completed(lines=ISLAND_LINES[:1]), tenant=overridden)
    assert "tax_custom" not in pipeline.issuances()[-1].request["items"][0]


# --- 8. sale.customer_changed -----------------------------------------------------------------


def test_customer_change_credits_the_fs_and_reissues_an_fr_once(pipeline, envelopes, vendus):
    sale = envelopes.sale_completed()
    sale_id = sale["data"]["sale_id"]
    pipeline.process(sale)
    [fs] = pipeline.documents(type="FS")
    change = envelopes.customer_changed(sale_id=sale_id, customer=COMPANY, change_id="C-1")

    event_id = pipeline.process(change)

    _done(pipeline, event_id)
    [nc] = pipeline.documents(type="NC")
    [fr] = pipeline.documents(type="FR")
    assert nc["notes"] == "Correção dos dados do adquirente"
    assert {i["ref_number"] for i in nc["items"]} == {fs["number"]} and nc["amount_gross"] == fs["amount_gross"]
    detail = vendus.get_document(fr["id"])
    assert detail["client"]["fiscal_id"] == NIF_COMPANY and detail["amount_gross"] == Decimal(fs["amount_gross"])
    assert [i["qty_nc"] for i in vendus.get_document(fs["id"])["items"]] == [0, 0]
    assert pipeline.sale_links(sale_id) == [("invoiced_by", fs["number"]), ("credited_by", nc["number"]),
                                            ("invoiced_by", fr["number"])]
    posts = pipeline.posts()

    again = envelopes.customer_changed(sale_id=sale_id, customer=COMPANY, change_id="C-1")  # new event id
    _done(pipeline, pipeline.process(again))
    assert pipeline.posts() == posts  # at most one NC and one invoice per change_id
    assert [d["type"] for d in pipeline.documents()] == ["FS", "NC", "FR"]


def test_customer_change_of_an_unpaid_sale_reissues_an_ft_and_refunds_follow_it(pipeline, envelopes, vendus):
    sale = envelopes.sale_completed(payment_status="pending")
    sale_id = sale["data"]["sale_id"]
    pipeline.process(sale)
    _done(pipeline, pipeline.process(envelopes.customer_changed(sale_id=sale_id, customer=COMPANY)))
    _, second = pipeline.documents(type="FT")
    assert vendus.get_document(second["id"])["client"]["fiscal_id"] == NIF_COMPANY

    refund = envelopes.sale_refunded(sale_id=sale_id, lines=[{"reference": "CAFE", "qty": "1"}])
    _done(pipeline, pipeline.process(refund))
    latest_nc = pipeline.documents(type="NC")[-1]
    assert {i["ref_number"] for i in latest_nc["items"]} == {second["number"]}  # the live invoice


def test_customer_change_with_a_bad_nif_is_rejected_before_the_nc(pipeline, envelopes):
    sale = envelopes.sale_completed()
    pipeline.process(sale)
    posts = pipeline.posts()
    bad = envelopes.customer_changed(sale_id=sale["data"]["sale_id"], customer={"fiscal_id": "123456780"})
    event_id = pipeline.process(bad)
    assert pipeline.event(event_id).status == "rejected"
    assert pipeline.posts() == posts


# --- 9. one sale_id in two stores, and two integrations on one account ---------------------------


@pytest.fixture
def two_stores(make_tenant):
    return make_tenant(name="cadeia", extra_store_indexes=(1,))


def test_payment_and_refund_of_store_b_touch_only_store_b(pipeline, two_stores):
    store_a, store_b = (int(s) for s in two_stores.mapping["stores"])
    envelopes = Envelopes(store_a)
    for store in (store_a, store_b):
        pipeline.process(envelopes.sale_completed(sale_id="T-0001", payment_status="pending", store_id=store),
                         tenant=two_stores)
    ft_a, ft_b = pipeline.documents(type="FT")
    assert (ft_a["store_id"], ft_b["store_id"]) == (store_a, store_b)

    payment = envelopes.payment_confirmed(sale_id="T-0001", amount="2.90", store_id=store_b)
    _done(pipeline, pipeline.process(payment, tenant=two_stores))
    [rg] = pipeline.documents(type="RG")
    assert rg["allocations"] == [[ft_b["id"], "2.90"]]

    refund = envelopes.sale_refunded(sale_id="T-0001", lines=[{"reference": "CAFE", "qty": "1"}], store_id=store_b)
    _done(pipeline, pipeline.process(refund, tenant=two_stores))
    [nc] = pipeline.documents(type="NC")
    assert {i["ref_number"] for i in nc["items"]} == {ft_b["number"]}


def test_same_sale_id_in_two_stores_under_a_dropped_response(pipeline, two_stores):
    """Store B's answer is lost after Vendus committed it: B adopts its own FS, never A's."""
    store_a, store_b = (int(s) for s in two_stores.mapping["stores"])
    envelopes = Envelopes(store_a)
    first = pipeline.process(envelopes.sale_completed(sale_id="T-0002", store_id=store_a), tenant=two_stores)
    _done(pipeline, first)
    [fs_a] = pipeline.documents(type="FS")

    second = pipeline.accept(envelopes.sale_completed(sale_id="T-0002", store_id=store_b), tenant=two_stores)
    _drop_next_post_response(pipeline)
    with pytest.raises(OutcomeUnknown):
        pipeline.run_chain(second)
    pipeline.run_chain(second)

    _done(pipeline, second)
    fs_a_again, fs_b = pipeline.documents(type="FS")
    assert fs_a_again["id"] == fs_a["id"] and fs_b["store_id"] == store_b
    [result] = pipeline.actions_output(second)["results"]
    assert (result["vendus_id"], result["adopted"]) == (fs_b["id"], True)
    assert pipeline.sale_links("T-0002", store_a, two_stores) == [("invoiced_by", fs_a["number"])]
    assert pipeline.sale_links("T-0002", store_b, two_stores) == [("invoiced_by", fs_b["number"])]


def test_two_integrations_on_one_account_never_adopt_each_other(pipeline, make_tenant):
    other = make_tenant(name="segunda-integracao")  # same Vendus account and store as the default tenant
    mine = pipeline.process(Envelopes(pipeline.tenant.store_id).sale_completed(sale_id="S-1"))
    _done(pipeline, mine)
    [fs_mine] = pipeline.documents(type="FS")

    theirs = pipeline.accept(Envelopes(other.store_id).sale_completed(sale_id="S-1"), tenant=other)
    _drop_next_post_response(pipeline)
    with pytest.raises(OutcomeUnknown):
        pipeline.run_chain(theirs)
    pipeline.run_chain(theirs)

    _done(pipeline, theirs)
    _, fs_theirs = pipeline.documents(type="FS")
    [result] = pipeline.actions_output(theirs)["results"]
    assert result["vendus_id"] == fs_theirs["id"] != fs_mine["id"]
    assert fs_theirs["external_reference"].startswith(f"kv{integration_tag(other.id)}:")
    assert fs_mine["external_reference"].startswith(f"kv{integration_tag(pipeline.tenant.id)}:")


def test_customer_change_interrupted_after_its_nc_finishes_with_one_nc_and_one_invoice(pipeline, envelopes,
                                                                                       monkeypatch):
    """A worker lost between the NC and the new invoice: the retry finds the NC, plans nothing again."""
    from kapta_vendus.pipeline import correction_action
    from kapta_vendus.vendus import VendusUnavailable

    sale = envelopes.sale_completed()
    pipeline.process(sale)
    real_build, failed = correction_action.build_reissue_payload, []

    def build_once(*args, **kwargs):
        if not failed:
            failed.append(True)
            raise VendusUnavailable("worker lost")
        return real_build(*args, **kwargs)

    monkeypatch.setattr(correction_action, "build_reissue_payload", build_once)
    event_id = pipeline.accept(envelopes.customer_changed(sale_id=sale["data"]["sale_id"], customer=COMPANY))
    with pytest.raises(VendusUnavailable):
        pipeline.run_chain(event_id)
    assert [d["type"] for d in pipeline.documents()] == ["FS", "NC"]

    pipeline.run_chain(event_id)

    _done(pipeline, event_id)
    assert [d["type"] for d in pipeline.documents()] == ["FS", "NC", "FR"]
