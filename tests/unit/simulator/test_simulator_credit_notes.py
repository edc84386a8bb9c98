"""Credit notes: per-line references, qty_nc, prices from the original, modes and signs."""

from __future__ import annotations

import pytest
from simulator_testkit import CAFE, error_code


def ref(doc: dict, row: int, qty=1) -> dict:
    return {"qty": qty, "reference_document": {"document_number": doc["number"], "document_row": row}}


def test_partial_credit_lowers_qty_nc_and_links_both_ways(api):
    invoice = api.invoice()  # rows: 2 cafés at 0.80, 1 pastel at 1.30
    note = api.create(type="NC", notes="Devolução", items=[ref(invoice, 1)])
    assert note["number"] == "NC 01P2026/1"
    assert note["amount_gross"] == "0.80"
    original = api.doc(invoice["id"])
    assert [i["qty_nc"] for i in original["items"]] == ["1.000", "1.000"]
    assert original["related_docs"] == [
        {"id": note["id"], "type": "NC", "number": note["number"], "amount": "0.80", "status": "N"}
    ]
    detail = api.doc(note["id"])
    assert detail["observations"] == "Devolução"
    assert detail["related_docs"][0]["id"] == invoice["id"]
    line = detail["items"][0]
    assert (line["title"], line["reference_document"], line["qty"]) == ("Café", invoice["number"], "1.000")
    assert line["qty_nc"] == "0.000"
    assert detail["client"] == original["client"]


def test_price_comes_from_the_original_line(api):
    invoice = api.invoice({"reference": "SUMO", "qty": 3, "gross_price": "2.00", "discount_percentage": "10"})
    item = {**ref(invoice, 1, qty=2), "gross_price": "99", "title": "ignored"}
    note = api.create(type="NC", notes="x", items=[item])
    assert note["amount_gross"] == "3.60"
    line = api.doc(note["id"])["items"][0]
    assert line["title"] == "Sumo natural" and line["amounts"]["gross_unit"] == "2.00"


def test_credits_never_exceed_the_row_and_the_last_one_takes_the_remainder(api):
    invoice = api.invoice(
        {"reference": "TRES", "title": "Três", "gross_price": "3.33", "qty": 3, "discount_percentage": "10"}
    )
    # 3 x 3.33 x 0.9 = 8.991 -> 8.99
    amounts = [api.create(type="NC", notes="x", items=[ref(invoice, 1)])["amount_gross"] for _ in range(3)]
    assert amounts == ["3.00", "3.00", "2.99"]
    assert api.doc(invoice["id"])["items"][0]["qty_nc"] == "0.000"
    assert api.refused(type="NC", notes="x", items=[ref(invoice, 1)]) == "P001"
    # 3 x 0.0333 = 0.10: thirds round down to 0.03, so the last credit must take 0.04
    small = api.invoice({"reference": "REBUCADO", "title": "Rebuçado", "gross_price": "0.0333", "qty": 3})
    amounts = [api.create(type="NC", notes="x", items=[ref(small, 1)])["amount_gross"] for _ in range(3)]
    assert amounts == ["0.03", "0.03", "0.04"]


def test_qty_above_qty_nc_is_refused_also_within_one_note(api):
    invoice = api.invoice()
    assert api.refused(type="NC", notes="x", items=[ref(invoice, 1, qty=3)]) == "P001"
    assert api.refused(type="NC", notes="x", items=[ref(invoice, 1), ref(invoice, 1, qty="1.5")]) == "P001"
    both = api.create(type="NC", notes="x", items=[ref(invoice, 1), ref(invoice, 1), ref(invoice, 2)])
    assert both["amount_gross"] == "2.90"


@pytest.mark.parametrize(
    "body",
    [
        {"items": [{"qty": 1, "reference_document": {"document_number": "FT 01P2026/1", "document_row": 1}}]},
        {
            "notes": "   ",
            "items": [{"qty": 1, "reference_document": {"document_number": "FT 01P2026/1", "document_row": 1}}],
        },
        {"notes": "x", "items": [{"reference": "CAFE", "qty": 1}]},
        {
            "notes": "x",
            "items": [{"qty": 1, "reference_document": {"document_number": "FT 01P2026/1", "document_row": 3}}],
        },
        {
            "notes": "x",
            "items": [{"qty": 1, "reference_document": {"document_number": "FT 01P2026/1", "document_row": 0}}],
        },
        {
            "notes": "x",
            "items": [{"qty": 1, "reference_document": {"document_number": "FT 01P2026/9", "document_row": 1}}],
        },
        {"notes": "x", "items": [{"qty": 1, "reference_document": {"document_number": "FT 01P2026/1"}}]},
        {"notes": "x", "items": [{"qty": 1, "reference_document": "FT 01P2026/1"}]},
        {"notes": "x", "items": []},
    ],
)
def test_invalid_credit_notes_are_p001(api, body):
    api.invoice()
    assert api.refused(type="NC", **body) == "P001"


def test_top_level_reference_document_id_is_refused(api):
    invoice = api.invoice()
    body = {"type": "NC", "notes": "x", "reference_document_id": invoice["id"], "items": [ref(invoice, 1)]}
    response = api.post("documents/", body)
    assert response.status_code == 403
    assert "reference_document_id" in response.get_json()["errors"][0]["message"]


def test_only_live_invoices_can_be_credited(api, state):
    quote = api.invoice(type="PF")
    assert api.refused(type="NC", notes="x", items=[ref(quote, 1)]) == "P001"
    receipt_number = api.doc(api.invoice(payments=[{"id": api.cash}])["id"] + 1)["number"]
    assert api.refused(type="NC", notes="x", items=[ref({"number": receipt_number}, 1)]) == "P001"
    state.assumptions.cancellable_types = ["FT"]
    cancelled = api.invoice()
    api.patch(f"documents/{cancelled['id']}", {"status": "A"})
    assert api.refused(type="NC", notes="x", items=[ref(cancelled, 1)]) == "P001"


def test_fr_and_fs_can_be_credited(api):
    for doc_type in ("FR", "FS"):
        invoice = api.create(type=doc_type, items=[CAFE], payments=[{"id": api.cash}])
        assert api.create(type="NC", notes="x", items=[ref(invoice, 1)])["amount_gross"] == "0.80"


def test_test_mode_nc_against_a_real_invoice_leaves_it_alone(api):
    invoice = api.invoice()
    note = api.create(type="NC", mode="tests", notes="ensaio", items=[ref(invoice, 1)])
    assert note["number"] == "NC T01P2026/1"
    original = api.doc(invoice["id"])
    assert original["items"][0]["qty_nc"] == "2.000"
    assert original["related_docs"] == []
    assert api.get(f"documents/{note['id']}").status_code == 404


def test_real_nc_cannot_reference_a_test_invoice(api):
    test_invoice = api.invoice(mode="tests")
    assert api.refused(type="NC", notes="x", items=[ref(test_invoice, 1)]) == "P001"
    assert api.create(type="NC", mode="tests", notes="x", items=[ref(test_invoice, 1)])["amount_gross"] == "0.80"
    assert api.doc(test_invoice["id"], mode="tests")["items"][0]["qty_nc"] == "1.000"


def test_nc_amount_sign_is_switchable(api, state):
    invoice = api.invoice()
    note = api.create(type="NC", notes="x", items=[ref(invoice, 2)])
    state.assumptions.nc_amount_sign = "negative"
    assert api.doc(note["id"])["amount_gross"] == "-1.30"
    assert api.get("documents/", type="NC").get_json()[0]["amount_gross"] == "-1.30"
    assert api.doc(invoice["id"])["related_docs"][0]["amount"] == "-1.30"


def test_cancelling_an_nc_by_assumption_gives_qty_back(api, state):
    state.assumptions.cancellable_types = ["RG", "NC"]
    invoice = api.invoice()
    note = api.create(type="NC", notes="x", items=[ref(invoice, 1, qty=2)])
    assert api.patch(f"documents/{note['id']}", {"status": "A"}).status_code == 200
    assert api.doc(invoice["id"])["items"][0]["qty_nc"] == "2.000"
    assert api.create(type="NC", notes="x", items=[ref(invoice, 1, qty=2)])["amount_gross"] == "1.60"


def test_nc_does_not_change_invoice_debt(api):
    invoice = api.invoice()
    api.create(type="NC", notes="x", items=[ref(invoice, 2)])
    assert api.doc(invoice["id"])["debt"] == {"total": "2.90", "paid": "0.00", "unpaid": "2.90"}


def test_an_nc_item_names_the_original_lines_product(api, state):
    """vendus-api §3.4 (id or reference always required) and §7.4 (the original line's id/reference)."""
    invoice = api.invoice()
    bare = {"qty": 1, "reference_document": {"document_number": invoice["number"], "document_row": 1}}
    response = api.post("documents/", {"type": "NC", "notes": "x", "items": [bare]})
    assert response.status_code == 403 and error_code(response) == "P001"
    assert api.doc(invoice["id"])["items"][0]["qty_nc"] == "2.000"
    assert (
        api.post("documents/", {"type": "NC", "notes": "x", "items": [{**bare, "reference": "CAFE"}]}).status_code
        == 201
    )
    state.assumptions.items_without_product = True
    assert api.post("documents/", {"type": "NC", "notes": "x", "items": [bare]}).status_code == 201
