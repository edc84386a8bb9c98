"""Payments, automatic and explicit receipts (RG), debt, payment status and cancellation."""

from __future__ import annotations

import pytest
from simulator_testkit import CAFE, error_code


def test_payments_create_an_automatic_rg_linked_both_ways(api):
    invoice = api.invoice(payments=[{"id": api.cash, "amount": "2.90"}])
    doc = api.doc(invoice["id"])
    (link,) = doc["related_docs"]
    assert link["type"] == "RG" and link["number"] == "RG 01P2026/1" and link["amount"] == "2.90"
    assert link["status"] == "N"
    receipt = api.doc(link["id"])
    assert receipt["related_docs"] == [
        {"id": invoice["id"], "type": "FT", "number": invoice["number"], "amount": "2.90", "status": "N"}
    ]
    assert receipt["payments"] == [{"id": api.cash, "title": "Dinheiro", "amount": "2.90", "change": "0.00"}]
    assert doc["debt"] == {"total": "2.90", "paid": "2.90", "unpaid": "0.00"}
    assert doc["payment_status"] == "paid"


def test_missing_payment_amount_means_the_total(api):
    doc = api.doc(api.invoice(payments=[{"id": api.card}])["id"])
    assert doc["payments"][0]["amount"] == "2.90"
    assert doc["debt"]["unpaid"] == "0.00"


def test_partial_payment_leaves_debt_pending(api):
    doc = api.doc(api.invoice(payments=[{"id": api.card, "amount": "1.00"}])["id"])
    assert doc["debt"] == {"total": "2.90", "paid": "1.00", "unpaid": "1.90"}
    assert doc["payment_status"] == "pending"
    row = api.get("documents/", type="FT").get_json()[0]
    assert (row["total_unpaid"], row["payment_status"]) == ("1.90", "pending")


def test_unpaid_invoice_expires_after_its_due_date(api, state):
    created = api.invoice(date_due="2026-03-12")
    assert api.doc(created["id"])["payment_status"] == "pending"
    state.clock.advance(3 * 86400)
    assert api.doc(created["id"])["payment_status"] == "expired"
    assert api.doc(created["id"])["date_due"] == "2026-03-12"


def test_cash_overpayment_gives_change_but_card_overpayment_is_refused(api):
    doc = api.doc(api.invoice(payments=[{"id": api.cash, "amount": "5.00"}])["id"])
    assert doc["payments"] == [{"id": api.cash, "title": "Dinheiro", "amount": "5.00", "change": "2.10"}]
    assert doc["debt"]["paid"] == "2.90"
    assert api.doc(doc["related_docs"][0]["id"])["amount_gross"] == "2.90"
    assert api.refused(items=[CAFE], payments=[{"id": api.card, "amount": "5.00"}]) == "P001"


def test_split_payment_cash_and_card(api):
    doc = api.doc(api.invoice(payments=[{"id": api.card, "amount": "2.00"}, {"id": api.cash}])["id"])
    assert [p["amount"] for p in doc["payments"]] == ["2.00", "0.90"]
    assert doc["debt"]["unpaid"] == "0.00"


@pytest.mark.parametrize("doc_type", ["FR", "FS"])
def test_fr_and_fs_need_payments(api, doc_type):
    response = api.post("documents/", {"type": doc_type, "items": [CAFE]})
    assert response.status_code == 403
    assert error_code(response) == "P001"
    assert api.refused(type=doc_type, items=[CAFE], payments=[{"id": api.card, "amount": "0.10"}]) == "P001"
    paid = api.doc(api.create(type=doc_type, items=[CAFE], payments=[{"id": api.card}])["id"])
    assert paid["payment_status"] == "paid" and paid["debt"]["unpaid"] == "0.00"
    # vendus-api §7.2: the automatic RG is an FT's; FR and FS are receipts themselves
    assert paid["related_docs"] == []
    assert api.get("documents/", type="RG").status_code == 404


def test_deferred_method_records_due_date_and_pays_nothing(api):
    later = api.methods["Pronto Pagamento a Prazo"]
    doc = api.doc(api.invoice(payments=[{"id": later, "date_due": "2026-04-10"}])["id"])
    assert doc["date_due"] == "2026-04-10"
    assert doc["related_docs"] == []
    assert doc["debt"]["unpaid"] == "2.90"
    assert api.refused(type="FR", items=[CAFE], payments=[{"id": later}]) == "P001"


@pytest.mark.parametrize(
    "payments",
    [[{"id": 1}], [{"id": "x"}], [{"method": 1}], "cash", [{"id": None}]],
)
def test_invalid_payments_are_p001(api, payments):
    assert api.refused(items=[CAFE], payments=payments) == "P001"


@pytest.mark.parametrize("doc_type", ["PF", "OT", "NC"])
def test_payments_on_non_invoices_are_refused(api, doc_type):
    assert api.refused(type=doc_type, items=[CAFE], payments=[{"id": api.cash}], notes="x") == "P001"


def _rg(api, numbers, amount=None, method=None, **extra):
    payment = {"id": method or api.card}
    if amount is not None:
        payment["amount"] = amount
    return api.create(type="RG", payments=[payment], invoices=[{"document_number": n} for n in numbers], **extra)


def test_explicit_rg_pays_an_invoice(api):
    invoice = api.invoice()
    receipt = _rg(api, [invoice["number"]])
    assert receipt["number"] == "RG 01P2026/1"
    assert receipt["amount_gross"] == "2.90"
    doc = api.doc(invoice["id"])
    assert doc["debt"]["unpaid"] == "0.00" and doc["payment_status"] == "paid"
    assert doc["related_docs"][0]["id"] == receipt["id"]
    assert api.doc(receipt["id"])["related_docs"][0]["id"] == invoice["id"]


def test_rg_amount_is_split_in_order_each_up_to_its_unpaid(api):
    first = api.invoice()  # 2.90
    second = api.invoice({"reference": "SUMO", "qty": 2})  # 7.00
    third = api.invoice({"reference": "CAFE", "qty": 1})  # 0.80
    _rg(api, [second["number"], first["number"], third["number"]], amount="8.00")
    assert api.doc(second["id"])["debt"]["unpaid"] == "0.00"
    assert api.doc(first["id"])["debt"] == {"total": "2.90", "paid": "1.00", "unpaid": "1.90"}
    assert api.doc(third["id"])["debt"]["paid"] == "0.00"
    assert api.doc(third["id"])["related_docs"] == []  # nothing allocated, so not linked


def test_rg_proportional_split_by_assumption(api, state):
    state.assumptions.rg_allocation = "proportional"
    first = api.invoice({"reference": "A", "title": "A", "gross_price": "10", "qty": 1})
    second = api.invoice({"reference": "B", "title": "B", "gross_price": "30", "qty": 1})
    _rg(api, [first["number"], second["number"]], amount="20.00")
    assert api.doc(first["id"])["debt"]["paid"] == "5.00"
    assert api.doc(second["id"])["debt"]["paid"] == "15.00"


def test_partial_rg_can_be_refused_by_assumption(api, state):
    invoice = api.invoice()
    state.assumptions.rg_partial_payment = False
    body = {"type": "RG", "payments": [{"id": api.card, "amount": "1.00"}]}
    assert api.refused(**body, invoices=[{"document_number": invoice["number"]}]) == "P001"


def test_rg_validation(api):
    invoice = api.invoice()
    ref = [{"document_number": invoice["number"]}]
    assert api.refused(type="RG", payments=[{"id": api.card}]) == "P001"  # no invoices
    assert api.refused(type="RG", invoices=ref) == "P001"  # no payments
    assert api.refused(type="RG", invoices=ref, payments=[{"id": api.card}], items=[CAFE]) == "P001"
    assert (
        api.refused(type="RG", invoices=[{"document_number": "FT 01P2026/99"}], payments=[{"id": api.card}]) == "P001"
    )
    assert api.refused(type="RG", invoices=ref, payments=[{"id": api.card, "amount": "3.00"}]) == "P001"  # too much
    assert api.refused(type="RG", invoices=ref + ref, payments=[{"id": api.card}]) == "P001"  # twice
    quote = api.invoice(type="PF")
    pf_ref = [{"document_number": quote["number"]}]
    assert api.refused(type="RG", invoices=pf_ref, payments=[{"id": api.card}]) == "P001"
    _rg(api, [invoice["number"]])
    assert api.refused(type="RG", invoices=ref, payments=[{"id": api.card}]) == "P001"  # already paid


def test_rg_in_tests_mode_only_sees_test_invoices(api):
    real = api.invoice()
    assert api.refused(type="RG", mode="tests", invoices=[{"document_number": real["number"]}],
                       payments=[{"id": api.card}]) == "P001"  # fmt: skip
    test = api.invoice(mode="tests")
    receipt = _rg(api, [test["number"]], mode="tests")
    assert receipt["number"] == "RG T01P2026/1"


def test_cancelling_an_rg_restores_the_invoice_debt(api):
    invoice = api.invoice(payments=[{"id": api.cash}])
    receipt_id = api.doc(invoice["id"])["related_docs"][0]["id"]
    response = api.patch(f"documents/{receipt_id}", {"status": "A"})
    assert response.status_code == 200
    assert response.get_json() == {"id": receipt_id, "status": "A"}
    doc = api.doc(invoice["id"])
    assert doc["debt"] == {"total": "2.90", "paid": "0.00", "unpaid": "2.90"}
    assert doc["payment_status"] == "pending"
    assert doc["related_docs"][0]["status"] == "A"
    assert api.doc(receipt_id)["status"]["id"] == "A"
    assert api.get("documents/", type="RG").get_json()[0]["status"] == "A"
    # cancelling again is a no-op; back to N is refused
    assert api.patch(f"documents/{receipt_id}", {"status": "A"}).status_code == 200
    assert error_code(api.patch(f"documents/{receipt_id}", {"status": "N"})) == "P001"
    # the invoice can be paid again
    _rg(api, [invoice["number"]])
    assert api.doc(invoice["id"])["payment_status"] == "paid"


def test_cancelling_a_multi_invoice_rg_reverses_each_allocation(api):
    first, second = api.invoice(), api.invoice()
    receipt = _rg(api, [first["number"], second["number"]], amount="4.00")
    api.patch(f"documents/{receipt['id']}", {"status": "A"})
    assert api.doc(first["id"])["debt"]["paid"] == "0.00"
    assert api.doc(second["id"])["debt"]["paid"] == "0.00"


@pytest.mark.parametrize("doc_type", ["FT", "FR", "FS"])
def test_invoices_cannot_be_cancelled(api, doc_type):
    doc = api.create(type=doc_type, items=[CAFE], payments=[{"id": api.cash}])
    response = api.patch(f"documents/{doc['id']}", {"status": "A"})
    assert response.status_code == 403
    assert error_code(response) == "P001"
    assert api.doc(doc["id"])["status"]["id"] == "N"


def test_credit_notes_cannot_be_cancelled(api):
    invoice = api.invoice()
    note = api.create(
        type="NC",
        notes="x",
        items=[{"qty": 1, "reference_document": {"document_number": invoice["number"], "document_row": 1}}],
    )
    assert error_code(api.patch(f"documents/{note['id']}", {"status": "A"})) == "P001"


def test_quotes_can_be_cancelled_or_invoiced(api, state):
    quote, order = api.invoice(type="OT"), api.invoice(type="EC")
    assert api.patch(f"documents/{quote['id']}", {"status": "A"}).get_json()["status"] == "A"
    assert api.patch(f"documents/{order['id']}", {"status": "F"}).get_json()["status"] == "F"
    assert api.get("documents/", status="F").get_json()[0]["id"] == order["id"]
    ft = api.invoice()
    assert error_code(api.patch(f"documents/{ft['id']}", {"status": "F"})) == "P001"
    state.assumptions.allow_patch_to_f = False
    assert error_code(api.patch(f"documents/{api.invoice(type='PF')['id']}", {"status": "F"})) == "P001"


def test_cancellable_types_switch_allows_ft_without_dependents(api, state):
    state.assumptions.cancellable_types = ["RG", "FT"]
    lone = api.invoice()
    assert api.patch(f"documents/{lone['id']}", {"status": "A"}).status_code == 200
    paid = api.invoice(payments=[{"id": api.cash}])
    assert error_code(api.patch(f"documents/{paid['id']}", {"status": "A"})) == "P001"  # has a live RG
    assert error_code(api.patch(f"documents/{api.invoice(type='PF')['id']}", {"status": "A"})) == "P001"


def test_patch_validation_and_mode(api):
    test_doc = api.invoice(mode="tests", type="PF")
    assert api.patch(f"documents/{test_doc['id']}", {"status": "A"}).status_code == 404
    assert api.patch(f"documents/{test_doc['id']}", {"status": "A"}, mode="tests").status_code == 200
    assert error_code(api.patch(f"documents/{test_doc['id']}", {"status": "X"}, mode="tests")) == "P001"
    assert error_code(api.patch(f"documents/{test_doc['id']}", {"reason": "x"}, mode="tests")) == "P001"
    assert api.patch("documents/424242", {"status": "A"}).status_code == 404
