"""Fiscal rules before the call (guarantee 5): invalid data is rejected with a reason, never sent.

Every case ends the event ``rejected`` with a readable ``last_error``, records the failing step
run, and leaves the simulator exactly as it was: no document and no POST documents/ at all.
"""

from __future__ import annotations

import pytest
import requests
from pipeline_testkit import NIF_BAD_CHECK_DIGIT, Envelopes

from kapta_vendus.pipeline.runner import stage_of

pytestmark = pytest.mark.integration


def _sim_count(pipeline) -> int:
    """Documents of every account, from the simulator's control API."""
    documents = requests.get(f"{pipeline.sim.root_url}/_sim/stats", timeout=5).json()["documents"]
    return sum(documents.values())


def _assert_rejected(pipeline, event_id: int, *, step: str, reason: str) -> None:
    event = pipeline.event(event_id)
    assert event.status == "rejected"
    assert event.finished_at is not None
    assert reason in event.last_error, event.last_error
    runs = pipeline.step_runs(event_id)
    assert runs[-1].step == step
    assert (runs[-1].status, runs[-1].summary) == ("failed", "rejected")
    assert reason in runs[-1].error
    assert all(r.status == "ok" for r in runs[:-1])  # the steps before it passed
    assert "sync" not in [r.step for r in runs]  # the chain stopped there


def _reject(pipeline, envelope, *, step: str, reason: str) -> int:
    docs, posts, issuances = _sim_count(pipeline), pipeline.posts(), len(pipeline.issuances())
    event_id = pipeline.accept(envelope)
    ran = pipeline.run_chain(event_id)

    assert ran[-1][0] == stage_of(step) and ran[-1][1].stop and ran[-1][1].summary.startswith("rejected: ")
    _assert_rejected(pipeline, event_id, step=step, reason=reason)
    assert _sim_count(pipeline) == docs
    assert pipeline.posts() == posts
    assert len(pipeline.issuances()) == issuances  # not even an idempotency key was claimed
    return event_id


def test_invalid_nif_is_rejected_and_never_sent(pipeline, envelopes):
    customer = {"name": "Cliente", "fiscal_id": NIF_BAD_CHECK_DIGIT}
    event_id = _reject(pipeline, envelopes.sale_completed(customer=customer), step="actions",
                       reason="customer.fiscal_id: not a valid Portuguese NIF (wrong check digit)")
    assert NIF_BAD_CHECK_DIGIT not in pipeline.event(event_id).last_error  # reasons never quote a NIF


def test_exempt_line_without_exemption_is_rejected_by_the_schema(pipeline, envelopes):
    lines = [{"reference": "LIVRO", "title": "Livro de receitas", "qty": "1", "unit_price": "15.00",
              "tax": "ISE"}]
    _reject(pipeline, envelopes.sale_completed(lines=lines), step="validate",
            reason="data.lines[0].exemption: required when tax is ISE")


def test_revoked_exemption_code_is_rejected(pipeline, envelopes):
    lines = [{"reference": "LIVRO", "title": "Livro de receitas", "qty": "1", "unit_price": "15.00",
              "tax": "ISE", "exemption": "M26"}]
    _reject(pipeline, envelopes.sale_completed(lines=lines), step="validate", reason="data.lines[0].exemption")


def test_unknown_payment_method_is_rejected(pipeline, envelopes):
    _reject(pipeline, envelopes.sale_completed(method="bitcoin"), step="map",
            reason="payment method 'bitcoin' is not mapped to a Vendus payment method")


def test_unknown_method_of_a_payment_confirmation_is_rejected(pipeline, envelopes):
    sale = envelopes.sale_completed(payment_status="pending")
    pipeline.process(sale)
    posts = pipeline.posts()
    event_id = pipeline.accept(envelopes.payment_confirmed(sale_id=sale["data"]["sale_id"], amount="2.90",
                                                           method="cheque-oferta"))
    pipeline.run_chain(event_id)

    _assert_rejected(pipeline, event_id, step="map", reason="payment method 'cheque-oferta' is not mapped")
    assert pipeline.posts() == posts
    assert [d["type"] for d in pipeline.documents()] == ["FT"]


@pytest.mark.parametrize("reason", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_refund_without_reason_is_rejected(pipeline, envelopes, reason):
    sale = envelopes.sale_completed(payment_status="pending")
    pipeline.process(sale)
    envelope = envelopes.sale_refunded(sale_id=sale["data"]["sale_id"], reason=reason)

    _reject(pipeline, envelope, step="validate", reason="data.reason")
    assert pipeline.documents(type="NC") == []


def test_fs_over_its_limit_by_rule_is_rejected(pipeline, make_tenant):
    # A rule that insists on an FS is still held to the FS limit.
    tenant = make_tenant(name="forced-fs", rules=[{
        "name": "always FS", "events": ["sale.completed"],
        "actions": [{"kind": "issue_document", "params": {"document_type": "FS"}}]}])
    lines = [{"reference": "TV55", "title": "Televisor 55", "qty": "1", "unit_price": "1200.00", "tax": "NOR"}]
    docs = _sim_count(pipeline)
    event_id = pipeline.accept(Envelopes(tenant.store_id).sale_completed(lines=lines), tenant=tenant)
    pipeline.run_chain(event_id)

    _assert_rejected(pipeline, event_id, step="actions", reason="over the FS limit of 1000")
    assert _sim_count(pipeline) == docs and pipeline.posts() == 0


def test_rejected_by_vendus_is_recorded_not_retried(pipeline, envelopes):
    """What only Vendus can refuse (here: a register that is switched off) ends rejected too."""
    account = pipeline.sim.state.accounts[pipeline.tenant.api_key]
    register_id = pipeline.tenant.mapping["stores"][pipeline.tenant.store_id]["register_id"]
    account.registers[register_id]["status"] = "off"
    event_id = pipeline.accept(envelopes.sale_completed())
    pipeline.run_chain(event_id)

    _assert_rejected(pipeline, event_id, step="actions", reason="Vendus refused the FS")
    assert pipeline.documents() == []
    [issuance] = pipeline.issuances()
    assert issuance.state == "rejected" and "Vendus refused the FS" in issuance.last_error


def test_payment_for_a_sale_paid_at_issue_is_rejected_not_retried(pipeline, envelopes):
    sale = envelopes.sale_completed()  # paid: an FS, paid at issue
    pipeline.process(sale)
    [fs] = pipeline.documents(type="FS")

    _reject(pipeline, envelopes.payment_confirmed(sale_id=sale["data"]["sale_id"], amount="2.90"),
            step="actions", reason=f"was invoiced as {fs['number']}, paid at issue")


def test_payment_over_what_is_unpaid_is_refused_by_vendus_and_rejected(pipeline, envelopes):
    sale = envelopes.sale_completed(payment_status="pending")
    pipeline.process(sale)
    event_id = pipeline.accept(envelopes.payment_confirmed(sale_id=sale["data"]["sale_id"], amount="5.00"))
    pipeline.run_chain(event_id)

    _assert_rejected(pipeline, event_id, step="actions", reason="Vendus refused the RG")
    assert [d["type"] for d in pipeline.documents()] == ["FT"]
