"""Ordinary Portuguese sales, end to end on PostgreSQL with the simulator (issue: fiscal correctness).

Each case cites the reference line it follows: pt-invoicing-rules.md §2-§3, vendus-api.md §3.4 and
§7, and events.md's sale.completed and "Late and rounded sales".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pipeline_testkit import NIF_COMPANY, Envelopes, Pipeline
from sqlalchemy import select

from kapta_vendus.db.models import Alert
from kapta_vendus.pipeline import actions
from kapta_vendus.pipeline.issuance import DocumentDateRefused
from kapta_vendus.pipeline.model import derived_reference

pytestmark = pytest.mark.integration

NAMED = {"name": "João Silva", "address": "Rua Direita 1", "postalcode": "1100-001", "city": "Lisboa"}
FORCE_FS = [{"name": "always-fs", "events": ["sale.completed"],
             "actions": [{"kind": "issue_document", "params": {"document_type": "FS"}}]}]


def pipeline_envelopes(tenant) -> Envelopes:
    return Envelopes(tenant.store_id)


def _line(title: str, price: str, *, tax: str = "NOR", **extra) -> dict:
    return {"title": title, "qty": "1", "unit_price": price, "tax": tax, **extra}


def _done(pipeline: Pipeline, event_id: int) -> None:
    event = pipeline.event(event_id)
    assert event.status == "done", (event.status, event.last_error)


def _rejected(pipeline: Pipeline, envelope: dict, *, tenant=None) -> str:
    """Run the chain; the event ends rejected at the actions step and nothing reached Vendus."""
    posts = pipeline.posts()
    event_id = pipeline.process(envelope, **({"tenant": tenant} if tenant else {}))
    event = pipeline.event(event_id)
    assert event.status == "rejected", (event.status, event.last_error)
    assert pipeline.posts() == posts
    return event.last_error


# --- 1. kinds, buyer and the CIVA 40(1) FS limit (pt-invoicing-rules §3) -----------------------


def test_services_sale_over_100_is_an_fr_with_service_items(pipeline, envelopes, vendus):
    dinner = [_line("Jantar de grupo", "150.00", tax="INT", reference="JANTAR", kind="service")]
    event_id = pipeline.process(envelopes.sale_completed(lines=dinner))

    _done(pipeline, event_id)
    assert pipeline.documents(type="FS") == []
    [fr] = pipeline.documents(type="FR")
    assert vendus.get_document(fr["id"])["items"][0]["type_id"] == "S"


def test_kind_comes_from_the_mapping_default(pipeline, make_tenant):
    """A restaurant whose mapping says its products are services (events.md, sale.completed)."""
    restaurant = make_tenant(name="restaurante", mapping_overrides={"default_kind": "service"})
    envelope = pipeline_envelopes(restaurant).sale_completed(lines=[_line("Menu", "120.00", reference="MENU")])
    event_id = pipeline.process(envelope, tenant=restaurant)

    _done(pipeline, event_id)
    [fr] = pipeline.documents(type="FR")
    assert [i["type_id"] for i in fr["items"]] == ["S"]


def test_goods_to_a_company_nif_over_100_is_an_fr(pipeline, envelopes):
    customer = {"name": "Empresa Exemplo, Lda", "fiscal_id": NIF_COMPANY}
    event_id = pipeline.process(envelopes.sale_completed(
        lines=[_line("Cadeira", "800.00", reference="CADEIRA")], customer=customer))

    _done(pipeline, event_id)
    [fr] = pipeline.documents(type="FR")
    assert fr["client"]["fiscal_id"] == NIF_COMPANY


def test_a_rule_forcing_a_forbidden_fs_is_rejected_before_any_call(pipeline, make_tenant):
    forced = make_tenant(name="sempre-fs", rules=FORCE_FS)
    envelope = pipeline_envelopes(forced).sale_completed(
        lines=[_line("Jantar", "150.00", reference="JANTAR", kind="service")])

    reason = _rejected(pipeline, envelope, tenant=forced)
    assert "over the FS limit of 100 €" in reason and "CIVA 40(1)" in reason


# --- 2. the customer's identification (pt-invoicing-rules §3, CIVA 36) ---------------------------


def test_named_customer_without_nif_is_on_the_fr(pipeline, envelopes, vendus):
    envelope = envelopes.sale_completed(lines=[_line("Sofá", "1500.00", reference="SOFA")], customer=NAMED)
    event_id = pipeline.process(envelope)

    _done(pipeline, event_id)
    [fr] = pipeline.documents(type="FR")
    client = vendus.get_document(fr["id"])["client"]
    assert (client["name"], client["address"], client["city"]) == ("João Silva", "Rua Direita 1", "Lisboa")
    assert not client.get("fiscal_id")


def test_anonymous_invoice_of_1000_is_rejected_with_the_legal_reason(pipeline, envelopes):
    reason = _rejected(pipeline, envelopes.sale_completed(lines=[_line("Sofá", "1500.00", reference="SOFA")]))
    assert "must carry the buyer's name and address (CIVA 36)" in reason


def test_anonymous_invoice_of_1000_can_be_issued_with_a_warning(pipeline, make_tenant):
    lenient = make_tenant(name="avisa", mapping_overrides={"buyer_identification": "warn"})
    envelope = pipeline_envelopes(lenient).sale_completed(lines=[_line("Sofá", "1500.00", reference="SOFA")])
    event_id = pipeline.process(envelope, tenant=lenient)

    _done(pipeline, event_id)
    [fr] = pipeline.documents(type="FR")
    [result] = pipeline.actions_output(event_id)["results"]
    assert result["number"] == fr["number"]
    assert any("CIVA 36" in w for w in result["warnings"])
    [run] = [r for r in pipeline.step_runs(event_id) if r.step == "actions"]
    assert "warning" in run.summary
    with pipeline.db.unit_of_work() as session:
        [alert] = session.scalars(select(Alert).where(Alert.integration_id == lenient.id)).all()
        assert (alert.kind, alert.details["number"]) == ("fiscal_warning", fr["number"])


# --- 3. late sales (pt-invoicing-rules §3 "Dates", events.md "Late and rounded sales") ----------


def _yesterday_closed_at() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()


def test_late_sale_is_issued_today_with_its_supply_date(pipeline, envelopes, vendus):
    pipeline.process(envelopes.sale_completed())  # today's first document in the series
    late = envelopes.sale_completed(closed_at=_yesterday_closed_at())
    event_id = pipeline.process(late)

    _done(pipeline, event_id)
    _, second = pipeline.documents(type="FS")
    today = datetime.now(ZoneInfo("Europe/Lisbon")).date().isoformat()
    closed = datetime.fromisoformat(late["data"]["closed_at"]).astimezone(ZoneInfo("Europe/Lisbon"))
    detail = vendus.get_document(second["id"])
    assert (detail["date"], detail["date_supply"]) == (today, closed.date().isoformat())


def test_date_refusal_is_retried_never_a_rejection(pipeline, envelopes, monkeypatch):
    """Vendus's "date before the latest document" is our bug, retried (vendus-api §7.10)."""
    pipeline.process(envelopes.sale_completed())
    event_id = pipeline.accept(envelopes.sale_completed())
    real_today = actions.today
    monkeypatch.setattr(actions, "today", lambda ctx: real_today(ctx) - timedelta(days=3))

    with pytest.raises(DocumentDateRefused):
        pipeline.run_chain(event_id)
    assert pipeline.event(event_id).status != "rejected"
    assert [i.state for i in pipeline.issuances()][-1] == "sent"

    monkeypatch.setattr(actions, "today", real_today)
    pipeline.run_chain(event_id)
    _done(pipeline, event_id)
    assert len(pipeline.documents(type="FS")) == 2


# --- 4. rounding per line (events.md "Late and rounded sales") --------------------------------


ROUNDED = [_line(t, "0.45", reference=t.upper(), discount_percentage="10") for t in ("Bolacha", "Rebuçado")]


def test_per_document_rounding_leaves_the_amount_to_vendus(pipeline, envelopes):
    payments = [{"method": "cash", "amount": "0.81", "status": "paid"}]
    event_id = pipeline.process(envelopes.sale_completed(lines=ROUNDED, payments=payments))

    _done(pipeline, event_id)
    [fs] = pipeline.documents(type="FS")
    assert fs["amount_gross"] == "0.82"  # Vendus rounds each line: 0.41 + 0.41
    [issued] = pipeline.issuances()
    assert "amount" not in issued.request["payments"][0]
    [result] = pipeline.actions_output(event_id)["results"]
    assert result["rounding"] == {"pos_paid": "0.81", "vendus_total": "0.82", "difference": "-0.01"}


def test_a_difference_beyond_a_cent_per_line_is_rejected_with_both_totals(pipeline, envelopes):
    payments = [{"method": "cash", "amount": "0.79", "status": "paid"}]
    reason = _rejected(pipeline, envelopes.sale_completed(lines=ROUNDED, payments=payments))
    assert "0.79 €" in reason and "0.82 €" in reason


# --- 5. exemptions from the account (pt-invoicing-rules §2) --------------------------------------


def test_exemption_law_comes_from_the_account(pipeline, envelopes, vendus):
    laws = {e["id"]: e["law"] for e in vendus.list_tax_exemptions()}
    line = _line("Consulta", "40.00", tax="ISE", exemption="M07", reference="CONSULTA", kind="service")
    event_id = pipeline.process(envelopes.sale_completed(lines=[line]))

    _done(pipeline, event_id)
    [fs] = pipeline.documents(type="FS")
    assert vendus.get_document(fs["id"])["items"][0]["tax"]["exemption_law"] == laws["M07"]


def test_code_the_account_does_not_accept_is_rejected_before_any_call(pipeline, envelopes):
    line = _line("Bilhete", "40.00", tax="ISE", exemption="M44", reference="BILHETE")
    reason = _rejected(pipeline, envelopes.sale_completed(lines=[line]))
    assert "exemption M44 is not accepted by this Vendus account" in reason


def test_reverse_charge_needs_a_taxable_portuguese_buyer(pipeline, envelopes):
    line = _line("Obra", "90.00", tax="ISE", exemption="M30", reference="OBRA", kind="service")
    reason = _rejected(pipeline, envelopes.sale_completed(lines=[line]))
    assert "M30 (reverse charge) needs a taxable Portuguese buyer" in reason

    company = {"name": "Construções, Lda", "fiscal_id": NIF_COMPANY}
    event_id = pipeline.process(envelopes.sale_completed(lines=[line], customer=company))
    _done(pipeline, event_id)
    assert [d["type"] for d in pipeline.documents()] == ["FR"]


# --- 6. every row can be credited by reference (vendus-api §7.4) ---------------------------------


def test_line_without_reference_gets_a_stable_one_and_can_be_refunded(pipeline, envelopes, vendus):
    sale = envelopes.sale_completed(lines=[_line("Bica", "0.70", tax="RED")])
    pipeline.process(sale)
    [fs] = pipeline.documents(type="FS")
    assert vendus.get_document(fs["id"])["items"][0]["reference"] == derived_reference("Bica")

    refund = envelopes.sale_refunded(sale_id=sale["data"]["sale_id"],
                                     lines=[{"reference": derived_reference("Bica"), "qty": "1"}])
    event_id = pipeline.process(refund)

    _done(pipeline, event_id)
    [nc] = pipeline.documents(type="NC")
    assert nc["amount_gross"] == "0.70"

