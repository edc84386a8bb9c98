"""The default workflows (ARCHITECTURE "Default workflows"), end to end: push → chain → Vendus.

Each test pushes a signed event through the receiver, runs the whole chain and then checks both
sides: the event, its step runs, issuances, mirror and links in PostgreSQL, and the document the
simulator really issued (read from its state and through its API).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from pipeline_testkit import (
    MADEIRA_ACCOUNT,
    MADEIRA_KEY,
    NIF_COMPANY,
    NIF_FINAL_CONSUMER,
    Envelopes,
)

from kapta_vendus.pipeline.actions import InvoiceNotReady

pytestmark = pytest.mark.integration

PARTIAL_LINES = (
    {"reference": "SUMO", "title": "Sumo natural", "qty": "2", "unit_price": "3.50", "tax": "NOR"},
    {"reference": "AGUA", "title": "Água 50cl", "qty": "3", "unit_price": "1.00", "tax": "RED"},
)  # 10.00 in all


def _done(pipeline, event_id: int) -> None:
    event = pipeline.event(event_id)
    assert event.status == "done", (event.status, event.last_error)
    assert event.finished_at is not None and event.last_error is None
    # One step run per logical step, and one per billing action (the steps' order, each once or more).
    assert list(dict.fromkeys(r.step for r in pipeline.step_runs(event_id))) == [
        "validate", "normalise", "map", "rules", "actions", "sync"]
    assert {r.status for r in pipeline.step_runs(event_id)} == {"ok"}


def _issued_request(pipeline, document_type: str) -> dict:
    """The body we sent to Vendus for the (only) issuance of ``document_type``."""
    rows = [i for i in pipeline.issuances() if i.document_type == document_type]
    assert len(rows) == 1, rows
    assert rows[0].state == "issued"
    return rows[0].request


def test_paid_anonymous_cafe_sale_is_an_fs_without_client(pipeline, envelopes, vendus):
    envelope = envelopes.sale_completed()
    event_id = pipeline.process(envelope)

    _done(pipeline, event_id)
    [fs] = pipeline.documents(type="FS")
    assert fs["client"] is None
    assert fs["external_reference"] == pipeline.sale_ref(envelope["data"]["sale_id"])
    assert fs["amount_gross"] == "2.90"
    assert [(i["reference"], i["qty"], i["rate"]) for i in fs["items"]] == [("CAFE", "2.000", "6"),
                                                                          ("PASTEL", "1.000", "13")]
    assert fs["payments"][0]["amount"] == "2.90"
    assert "client" not in _issued_request(pipeline, "FS")
    detail = vendus.get_document(fs["id"])
    assert detail["client"] is None and detail["number"] == fs["number"]
    # our side: the result, the mirror and the sale's link
    [result] = pipeline.actions_output(event_id)["results"]
    assert (result["document_type"], result["number"], result["vendus_id"]) == ("FS", fs["number"], fs["id"])
    mirror = pipeline.mirror(fs["id"])
    assert (mirror.type, mirror.number, mirror.amount_gross, mirror.issued_here) == (
        "FS", fs["number"], Decimal("2.90"), True)
    assert pipeline.sale_links(envelope["data"]["sale_id"]) == [("invoiced_by", fs["number"])]


def test_paid_sale_with_a_nif_is_an_fr_to_that_client(pipeline, envelopes, vendus):
    customer = {"name": "Pastelaria Exemplo, Lda", "fiscal_id": NIF_COMPANY, "city": "Lisboa"}
    event_id = pipeline.process(envelopes.sale_completed(customer=customer, method="card"))

    _done(pipeline, event_id)
    assert pipeline.documents(type="FS") == []
    [fr] = pipeline.documents(type="FR")
    assert fr["client"]["fiscal_id"] == NIF_COMPANY
    assert fr["client"]["name"] == "Pastelaria Exemplo, Lda"
    assert vendus.get_document(fr["id"])["client"]["fiscal_id"] == NIF_COMPANY
    assert _issued_request(pipeline, "FR")["client"] == {
        "fiscal_id": NIF_COMPANY, "country": "PT", "name": "Pastelaria Exemplo, Lda", "city": "Lisboa"}
    assert fr["payments"][0]["id"] == pipeline.tenant.mapping["payment_methods"]["card"]


@pytest.mark.parametrize(("price", "expected"), [("999.99", "FS"), ("100.01", "FS")])
def test_anonymous_goods_sale_within_the_fs_limit_is_an_fs_without_client(pipeline, envelopes, price, expected):
    """Goods to a non-taxable buyer: FS up to 1,000 € (CIVA 40(1), pt rules §3)."""
    lines = [{"reference": "TV55", "title": "Televisor 55", "qty": "1", "unit_price": price, "tax": "NOR"}]
    event_id = pipeline.process(envelopes.sale_completed(lines=lines, method="card"))

    _done(pipeline, event_id)
    [doc] = pipeline.documents(type=expected)
    assert doc["client"] is None
    assert doc["amount_gross"] == price
    assert "client" not in _issued_request(pipeline, expected)


def test_final_consumer_nif_is_never_sent(pipeline, envelopes):
    customer = {"fiscal_id": NIF_FINAL_CONSUMER}
    event_id = pipeline.process(envelopes.sale_completed(customer=customer))

    _done(pipeline, event_id)
    [fs] = pipeline.documents(type="FS")
    assert fs["client"] is None
    assert "client" not in _issued_request(pipeline, "FS")
    account = pipeline.sim.state.accounts[pipeline.tenant.api_key]
    assert NIF_FINAL_CONSUMER not in account.client_by_nif  # no client was created from it either


def test_pending_sale_is_an_ft_without_payments(pipeline, envelopes, vendus):
    envelope = envelopes.sale_completed(lines=PARTIAL_LINES, payment_status="pending")
    event_id = pipeline.process(envelope)

    _done(pipeline, event_id)
    assert [d["type"] for d in pipeline.documents()] == ["FT"]  # no automatic RG: nothing was paid
    [ft] = pipeline.documents(type="FT")
    assert ft["payments"] == []
    assert "payments" not in _issued_request(pipeline, "FT")
    detail = vendus.get_document(ft["id"])
    assert detail["debt"]["unpaid"] == Decimal("10.00")
    assert detail["payment_status"] != "paid"
    assert pipeline.sale_links(envelope["data"]["sale_id"]) == [("invoiced_by", ft["number"])]


def test_partial_sale_then_payment_confirmed_settles_the_ft(pipeline, envelopes, vendus):
    payments = [{"method": "cash", "amount": "4.00", "status": "paid"},
                {"method": "card", "amount": "6.00", "status": "pending"}]
    sale = envelopes.sale_completed(lines=PARTIAL_LINES, payment_status="partial", payments=payments)
    sale_id = sale["data"]["sale_id"]
    sale_event = pipeline.process(sale)

    _done(pipeline, sale_event)
    [ft] = pipeline.documents(type="FT")
    [rg] = pipeline.documents(type="RG")
    assert ft["payments"] == [] and ft["amount_gross"] == "10.00"
    assert rg["amount_gross"] == "4.00"
    assert rg["payments"][0]["id"] == pipeline.tenant.mapping["payment_methods"]["cash"]
    assert rg["allocations"] == [[ft["id"], "4.00"]]
    assert vendus.get_document(ft["id"])["debt"]["unpaid"] == Decimal("6.00")
    assert pipeline.mirror(ft["id"]).total_unpaid == Decimal("6.00")
    assert pipeline.sale_links(sale_id) == [("invoiced_by", ft["number"]), ("paid_by", rg["number"])]

    payment = envelopes.payment_confirmed(sale_id=sale_id, amount="6.00", method="card")
    payment_event = pipeline.process(payment)

    _done(pipeline, payment_event)
    receipts = pipeline.documents(type="RG")
    assert len(receipts) == 2
    second = receipts[1]
    assert second["amount_gross"] == "6.00"
    assert second["allocations"] == [[ft["id"], "6.00"]]
    assert second["payments"][0]["id"] == pipeline.tenant.mapping["payment_methods"]["card"]
    detail = vendus.get_document(ft["id"])
    assert detail["debt"]["unpaid"] == Decimal("0.00")
    assert detail["payment_status"] == "paid"
    mirror = pipeline.mirror(ft["id"])
    assert mirror.total_unpaid == Decimal("0.00")
    assert mirror.payment_status == "paid"
    payment_key = pipeline.sale_key(payment["data"]["payment_id"])  # payment ids are unique per store too
    assert pipeline.links("payment", payment_key) == [("paid_by", second["number"])]
    assert len(pipeline.documents(type="FT")) == 1


def test_partial_refund_is_an_nc_referencing_the_ft_row(pipeline, envelopes, vendus):
    sale = envelopes.sale_completed(payment_status="pending")
    pipeline.process(sale)
    [ft] = pipeline.documents(type="FT")

    refund = envelopes.sale_refunded(sale_id=sale["data"]["sale_id"], reason="Café frio",
                                     lines=[{"reference": "CAFE", "qty": "1"}])
    event_id = pipeline.process(refund)

    _done(pipeline, event_id)
    [nc] = pipeline.documents(type="NC")
    assert nc["notes"] == "Café frio"
    assert [(i["reference"], i["qty"], i["ref_number"], i["ref_row"]) for i in nc["items"]] == [
        ("CAFE", "1.000", ft["number"], 1)]
    assert nc["amount_gross"] == "0.80"
    items = vendus.get_document(ft["id"])["items"]
    assert [i["qty_nc"] for i in items] == [Decimal("1.000"), Decimal("1.000")]  # CAFE 2 → 1, PASTEL untouched
    request = _issued_request(pipeline, "NC")
    assert request["items"][0]["reference_document"] == {"document_number": ft["number"], "document_row": 1}
    assert request["external_reference"] == (f"{pipeline.sale_ref(sale['data']['sale_id'])}"
                                             f"#NC:{refund['data']['refund_id']}")
    assert pipeline.links("refund", pipeline.sale_key(refund["data"]["refund_id"])) == [("credited_by", nc["number"])]


def test_exempt_line_carries_its_exemption(pipeline, envelopes, vendus):
    lines = [{"reference": "LIVRO", "title": "Livro de receitas", "qty": "1", "unit_price": "15.00",
              "tax": "ISE", "exemption": "M07"}]
    event_id = pipeline.process(envelopes.sale_completed(lines=lines))

    _done(pipeline, event_id)
    [fs] = pipeline.documents(type="FS")
    [item] = fs["items"]
    assert (item["tax_id"], item["rate"], item["exemption"]) == ("ISE", "0", "M07")
    assert item["exemption_law"] == "Artigo 9.º do CIVA"  # the account's legal article, not the label
    tax = vendus.get_document(fs["id"])["items"][0]["tax"]
    assert tax["exemption"] == "M07" and tax["rate"] == 0
    assert fs["amount_net"] == fs["amount_gross"] == "15.00"


def test_madeira_store_gets_madeira_vat(pipeline, make_tenant):
    pipeline.sim.state.add_account(MADEIRA_ACCOUNT)
    madeira = make_tenant(api_key=MADEIRA_KEY, name="loja-funchal")
    assert madeira.mapping["stores"][madeira.store_id]["region"] == "madeira"
    lines = [{"reference": "SUMO", "title": "Sumo natural", "qty": "1", "unit_price": "3.50", "tax": "NOR"},
             {"reference": "TOSTA", "title": "Tosta mista", "qty": "1", "unit_price": "3.20", "tax": "INT"},
             {"reference": "AGUA", "title": "Água 50cl", "qty": "1", "unit_price": "1.00", "tax": "RED"}]
    event_id = pipeline.process(Envelopes(madeira.store_id).sale_completed(lines=lines), tenant=madeira)

    _done(pipeline, event_id)
    assert pipeline.documents() == []  # nothing on the mainland account
    [fs] = pipeline.documents(MADEIRA_KEY, type="FS")
    assert [(i["tax_id"], i["rate"], i["country"]) for i in fs["items"]] == [
        ("NOR", "22", "PT-MA"), ("INT", "12", "PT-MA"), ("RED", "4", "PT-MA")]
    assert sorted(t["rate"] for t in fs["taxes"]) == [4, 12, 22]
    assert fs["store_id"] == madeira.store_id


def test_invoice_created_from_vendus_is_linked_never_reissued(pipeline, envelopes, vendus):
    # Someone issued an FT in Vendus itself (the back office, another POS).
    register_id = pipeline.tenant.mapping["stores"][pipeline.tenant.store_id]["register_id"]
    made = pipeline.sim.state.create_document(pipeline.tenant.api_key, {
        "type": "FT", "register_id": register_id, "mode": "normal", "external_reference": "POS-77",
        "items": [{"reference": "BOLO", "title": "Bolo de aniversário", "gross_price": "25.00", "qty": "1",
                   "tax_id": "RED"}]})
    detail = vendus.get_document(made["id"])
    before, posts = len(pipeline.documents()), pipeline.posts()

    envelope = envelopes.document_event("invoice.created", detail)
    event_id = pipeline.process(envelope)

    _done(pipeline, event_id)
    assert len(pipeline.documents()) == before
    assert pipeline.posts() == posts
    assert pipeline.issuances() == []
    output = pipeline.actions_output(event_id)
    assert output["results"] == [{"kind": "linked", "document_type": "FT", "number": made["number"],
                                  "vendus_id": made["id"]}]
    assert output["notify"] == [{"template": "document_seen"}]
    mirror = pipeline.mirror(made["id"])
    assert (mirror.type, mirror.number, mirror.status, mirror.issued_here) == ("FT", made["number"], "N", False)
    assert mirror.amount_gross == Decimal("25.00") and mirror.total_unpaid == Decimal("25.00")
    assert mirror.external_reference == "POS-77"
    assert pipeline.sale_links("POS-77") == [("invoiced_by", made["number"])]
    assert pipeline.event(event_id).dedup_key == f"vendus:{made['id']}:N"


def test_document_event_for_our_own_document_updates_the_mirror(pipeline, envelopes, vendus):
    sale = envelopes.sale_completed()
    pipeline.process(sale)
    [fs] = pipeline.documents(type="FS")
    posts = pipeline.posts()

    event_id = pipeline.process(envelopes.document_event("invoice.created", vendus.get_document(fs["id"])))

    _done(pipeline, event_id)
    assert pipeline.posts() == posts and len(pipeline.documents(type="FS")) == 1
    [mirror] = [d for d in pipeline.mirrored() if d.vendus_id == fs["id"]]
    assert mirror.issued_here is True and mirror.payment_status == "paid"
    assert pipeline.sale_links(sale["data"]["sale_id"]) == [("invoiced_by", fs["number"])]


def test_same_vendus_document_pushed_twice_is_one_event(pipeline, envelopes, vendus):
    """The dedup key of a document event is the document and its status, not the envelope id."""
    sale = envelopes.sale_completed()
    pipeline.process(sale)
    [fs] = pipeline.documents(type="FS")
    detail = vendus.get_document(fs["id"])

    first = pipeline.push(envelopes.document_event("invoice.created", detail))
    second = pipeline.push(envelopes.document_event("invoice.created", detail))

    assert first.status_code == 202
    assert second.status_code == 200 and second.get_json()["status"] == "duplicate"
    assert second.get_json()["event_id"] == first.get_json()["event_id"]


def test_receipt_and_credit_note_seen_in_vendus_are_linked_to_their_sale(pipeline, envelopes, vendus):
    payments = [{"method": "cash", "amount": "1.00", "status": "paid"},
                {"method": "card", "amount": "1.90", "status": "pending"}]
    sale = envelopes.sale_completed(payment_status="partial", payments=payments)
    sale_id = sale["data"]["sale_id"]
    pipeline.process(sale)
    pipeline.process(envelopes.sale_refunded(sale_id=sale_id, lines=[{"row": 2, "qty": "1"}]))
    [ft], [rg], [nc] = (pipeline.documents(type=t) for t in ("FT", "RG", "NC"))
    posts, links = pipeline.posts(), pipeline.sale_links(sale_id)

    # The poller (or a bridge) reports the same documents back: nothing new, nothing re-issued.
    for event_type, doc in (("receipt.issued", rg), ("credit_note.issued", nc), ("invoice.created", ft)):
        event_id = pipeline.process(envelopes.document_event(event_type, vendus.get_document(doc["id"])))
        _done(pipeline, event_id)

    assert pipeline.posts() == posts
    assert [d["type"] for d in pipeline.documents()] == ["FT", "RG", "NC"]
    assert pipeline.sale_links(sale_id) == links == [
        ("invoiced_by", ft["number"]), ("paid_by", rg["number"]), ("credited_by", nc["number"])]


def test_receipt_cancelled_in_vendus_updates_the_mirror(pipeline, envelopes, vendus):
    payments = [{"method": "cash", "amount": "1.00", "status": "paid"},
                {"method": "card", "amount": "1.90", "status": "pending"}]
    pipeline.process(envelopes.sale_completed(payment_status="partial", payments=payments))
    [ft], [rg] = pipeline.documents(type="FT"), pipeline.documents(type="RG")
    assert pipeline.mirror(rg["id"]).status == "N"
    vendus.cancel_document(rg["id"])  # someone cancels the receipt in the back office

    event_id = pipeline.process(envelopes.document_event("document.cancelled", vendus.get_document(rg["id"])))

    _done(pipeline, event_id)
    assert pipeline.event(event_id).dedup_key == f"vendus:{rg['id']}:A"
    assert pipeline.mirror(rg["id"]).status == "A"
    assert pipeline.actions_output(event_id)["notify"] == [{"template": "document_cancelled"}]
    assert vendus.get_document(ft["id"])["debt"]["unpaid"] == Decimal("2.90")


def test_invoice_finalized_links_the_document_to_its_invoice(pipeline, envelopes, vendus):
    register_id = pipeline.tenant.mapping["stores"][pipeline.tenant.store_id]["register_id"]
    items = [{"reference": "BOLO", "title": "Bolo de aniversário", "gross_price": "25.00", "qty": "1",
                   "tax_id": "RED"}]
    state, key = pipeline.sim.state, pipeline.tenant.api_key
    pf = state.create_document(key, {"type": "PF", "register_id": register_id, "mode": "normal", "items": items})
    ft = state.create_document(key, {"type": "FT", "register_id": register_id, "mode": "normal", "items": items})
    vendus.patch_document(pf["id"], "F")
    data = {**vendus.get_document(pf["id"]), "invoice": vendus.get_document(ft["id"])}
    posts = pipeline.posts()

    event_id = pipeline.process(envelopes.document_event("invoice.finalized", data))

    _done(pipeline, event_id)
    assert pipeline.posts() == posts
    pf_row, ft_row = pipeline.mirror(pf["id"]), pipeline.mirror(ft["id"])
    assert (pf_row.type, pf_row.status, ft_row.type, ft_row.status) == ("PF", "F", "FT", "N")
    assert pipeline.links("document", str(pf_row.id)) == [("finalized_as", ft["number"])]


def test_payment_before_its_invoice_waits_then_settles(pipeline, envelopes):
    """Out of order: the payment arrives first. It is retried (not rejected) until the FT exists."""
    sale = envelopes.sale_completed(payment_status="pending")
    payment_event = pipeline.accept(envelopes.payment_confirmed(sale_id=sale["data"]["sale_id"], amount="2.90"))

    with pytest.raises(InvoiceNotReady) as raised:
        pipeline.run_chain(payment_event)
    assert raised.value.retryable is True
    assert pipeline.event(payment_event).status == "in_flight"
    assert pipeline.documents() == []

    pipeline.process(sale)
    pipeline.run_chain(payment_event)  # the retry

    assert pipeline.event(payment_event).status == "done"
    [ft], [rg] = pipeline.documents(type="FT"), pipeline.documents(type="RG")
    assert rg["allocations"] == [[ft["id"], "2.90"]]
