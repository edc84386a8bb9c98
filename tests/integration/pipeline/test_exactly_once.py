"""Exactly-once effects (guarantee 2) and idempotent steps (guarantee 3), against the simulator.

Whatever is repeated (the event, the chain, one step) or whatever breaks between the Vendus call
and our commit (a dropped response, a crash), the sale ends with exactly one document in Vendus.
"""

from __future__ import annotations

import pytest
from pipeline_testkit import CAFE_LINES

from kapta_vendus.pipeline import actions
from kapta_vendus.vendus import OutcomeUnknown

pytestmark = pytest.mark.integration


def _drop_next_post_response(pipeline) -> None:
    """Vendus commits the next POST documents/ but the answer never arrives."""
    pipeline.sim.state.faults.add_rule(methods=["POST"], paths=["documents"], commit_then_drop_rate=1,
                                       max_hits=1)


def _crash_once_after_the_call(monkeypatch) -> list[int]:
    """The worker dies between Vendus' answer and the commit that records it (once)."""
    real_record, crashed = actions.record_issued, []

    def record_issued(session, issued):
        if issued.unrecorded_issuance is not None and not crashed:
            crashed.append(issued.unrecorded_issuance)
            raise RuntimeError("worker lost after the Vendus call")
        return real_record(session, issued)

    monkeypatch.setattr(actions, "record_issued", record_issued)
    return crashed


def _status(pipeline, event_id: int) -> str:
    return pipeline.event(event_id).status


def test_same_sale_under_two_event_ids_is_one_document(pipeline, envelopes):
    first = envelopes.sale_completed()
    again = envelopes.sale_completed(sale_id=first["data"]["sale_id"])  # the POS re-sends, new event id
    assert again["id"] != first["id"]

    a, b = pipeline.process(first), pipeline.process(again)

    assert (_status(pipeline, a), _status(pipeline, b)) == ("done", "done")
    [fs] = pipeline.documents(type="FS")
    assert pipeline.posts() == 1
    assert [r["number"] for r in pipeline.actions_output(b)["results"]] == [fs["number"]]
    [row] = pipeline.issuances()
    assert (row.state, row.vendus_id, row.attempts) == ("issued", fs["id"], 1)


def test_rerunning_the_chain_of_a_done_event_does_nothing(pipeline, envelopes):
    event_id = pipeline.process(envelopes.sale_completed())
    runs = len(pipeline.step_runs(event_id))

    ran = pipeline.run_chain(event_id)

    assert [(name, o.stop, o.summary) for name, o in ran] == [("prepare", True, "event already done")]
    assert len(pipeline.documents()) == 1  # the FS (an automatic RG is made for FT only, vendus-api §7.2)
    assert pipeline.posts() == 1
    assert len(pipeline.step_runs(event_id)) == runs
    assert _status(pipeline, event_id) == "done"


def test_rerunning_actions_after_a_redelivery_issues_nothing(pipeline, envelopes):
    payments = [{"method": "cash", "amount": "1.00", "status": "paid"},
                {"method": "card", "amount": "1.90", "status": "pending"}]
    event_id = pipeline.process(envelopes.sale_completed(payment_status="partial", payments=payments))
    numbers = [r["number"] for r in pipeline.actions_output(event_id)["results"]]
    assert [d["type"] for d in pipeline.documents()] == ["FT", "RG"]

    pipeline.set_event(event_id, status="in_flight", finished_at=None)  # a redelivered actions task
    outcome = pipeline.run_step("actions", event_id)

    assert not outcome.stop
    assert [r["number"] for r in pipeline.actions_output(event_id)["results"]] == numbers
    assert [d["type"] for d in pipeline.documents()] == ["FT", "RG"]
    assert pipeline.posts() == 2
    assert {(i.kind, i.state, i.attempts) for i in pipeline.issuances()} == {
        ("issue_document", "issued", 1), ("issue_receipt:sale", "issued", 1)}


def test_dropped_response_is_adopted_not_reissued(pipeline, envelopes, vendus):
    envelope = envelopes.sale_completed()
    event_id = pipeline.accept(envelope)
    _drop_next_post_response(pipeline)

    with pytest.raises(OutcomeUnknown):
        pipeline.run_chain(event_id)

    event = pipeline.event(event_id)
    assert event.status == "in_flight" and "OutcomeUnknown" in event.last_error
    actions = [r for r in pipeline.step_runs(event_id) if r.step == "actions"]
    assert [(r.status, r.summary) for r in actions] == [("failed", "error")]
    [row] = pipeline.issuances()
    assert row.state == "sent"  # outcome unknown: look before sending again
    [fs] = pipeline.documents(type="FS")  # Vendus did commit it
    assert pipeline.sim.state.stats.snapshot()["faults"] == {"commit_then_drop": 1}

    pipeline.run_chain(event_id)  # the task's retry

    assert _status(pipeline, event_id) == "done"
    assert pipeline.documents(type="FS") == [fs]
    assert pipeline.posts() == 1  # found by external_reference, not sent again
    [result] = pipeline.actions_output(event_id)["results"]
    assert (result["number"], result["vendus_id"], result["adopted"]) == (fs["number"], fs["id"], True)
    [row] = pipeline.issuances()
    assert (row.state, row.vendus_id, row.document_number, row.last_error) == (
        "issued", fs["id"], fs["number"], None)
    assert pipeline.mirror(fs["id"]).number == fs["number"]


def test_crash_between_the_call_and_the_commit_gives_one_document(pipeline, envelopes, monkeypatch):
    crashed = _crash_once_after_the_call(monkeypatch)
    event_id = pipeline.accept(envelopes.sale_completed())

    with pytest.raises(RuntimeError, match="worker lost"):
        pipeline.run_chain(event_id)
    assert crashed and pipeline.issuances()[0].state == "sent"
    assert len(pipeline.documents(type="FS")) == 1

    pipeline.run_chain(event_id)

    assert _status(pipeline, event_id) == "done"
    [fs] = pipeline.documents(type="FS")
    [row] = pipeline.issuances()
    assert (row.state, row.vendus_id) == ("issued", fs["id"])
    assert pipeline.posts() == 1


def test_crash_after_a_receipt_is_adopted(pipeline, envelopes, monkeypatch):
    sale = envelopes.sale_completed(payment_status="pending")
    pipeline.process(sale)
    crashed = _crash_once_after_the_call(monkeypatch)
    event_id = pipeline.accept(envelopes.payment_confirmed(sale_id=sale["data"]["sale_id"], amount="2.90"))

    with pytest.raises(RuntimeError):
        pipeline.run_chain(event_id)
    pipeline.run_chain(event_id)

    assert crashed and _status(pipeline, event_id) == "done"
    [rg] = pipeline.documents(type="RG")
    assert pipeline.actions_output(event_id)["results"][0]["adopted"] is True
    assert pipeline.actions_output(event_id)["results"][0]["number"] == rg["number"]


def test_dropped_response_of_a_credit_note_is_adopted(pipeline, envelopes):
    sale = envelopes.sale_completed(payment_status="pending")
    pipeline.process(sale)
    event_id = pipeline.accept(envelopes.sale_refunded(sale_id=sale["data"]["sale_id"],
                                                       lines=[{"reference": "PASTEL", "qty": "1"}]))
    _drop_next_post_response(pipeline)

    with pytest.raises(OutcomeUnknown):
        pipeline.run_chain(event_id)
    pipeline.run_chain(event_id)

    assert _status(pipeline, event_id) == "done", pipeline.event(event_id).last_error
    [nc] = pipeline.documents(type="NC")
    assert pipeline.actions_output(event_id)["results"][0]["number"] == nc["number"]


def test_two_refunds_are_two_credit_notes(pipeline, envelopes, vendus):
    sale = envelopes.sale_completed(payment_status="pending")
    sale_id = sale["data"]["sale_id"]
    pipeline.process(sale)
    [ft] = pipeline.documents(type="FT")

    first = pipeline.process(envelopes.sale_refunded(sale_id=sale_id, lines=[{"reference": "CAFE", "qty": "1"}]))
    second = pipeline.process(envelopes.sale_refunded(sale_id=sale_id, lines=[{"reference": "CAFE", "qty": "1"}]))

    assert (_status(pipeline, first), _status(pipeline, second)) == ("done", "done")
    first_nc, second_nc = pipeline.documents(type="NC")
    assert first_nc["number"] != second_nc["number"]
    cafe, pastel = vendus.get_document(ft["id"])["items"]
    assert (cafe["qty_nc"], pastel["qty_nc"]) == (0, 1)  # both CAFE credited, PASTEL untouched


@pytest.mark.parametrize("lines", [None, [{"reference": "CAFE", "qty": "2"}], [{"row": 2, "qty": "1"}]],
                         ids=["everything", "all-of-a-reference", "a-whole-row"])
def test_same_refund_twice_is_one_credit_note(pipeline, envelopes, lines):
    sale = envelopes.sale_completed(payment_status="pending")
    pipeline.process(sale)
    refund = envelopes.sale_refunded(sale_id=sale["data"]["sale_id"], lines=lines)
    again = envelopes.sale_refunded(sale_id=sale["data"]["sale_id"], lines=lines,
                                    refund_id=refund["data"]["refund_id"])

    first, second = pipeline.process(refund), pipeline.process(again)

    assert _status(pipeline, first) == "done"
    assert _status(pipeline, second) == "done", pipeline.event(second).last_error
    [nc] = pipeline.documents(type="NC")
    assert pipeline.actions_output(second)["results"][0]["number"] == nc["number"]


def test_rerunning_actions_of_a_refund_issues_nothing(pipeline, envelopes):
    sale = envelopes.sale_completed(payment_status="pending", lines=CAFE_LINES)
    pipeline.process(sale)
    event_id = pipeline.process(envelopes.sale_refunded(sale_id=sale["data"]["sale_id"]))
    [nc] = pipeline.documents(type="NC")

    pipeline.set_event(event_id, status="in_flight", finished_at=None)
    outcome = pipeline.run_step("actions", event_id)

    assert not outcome.stop
    assert _status(pipeline, event_id) == "in_flight"
    assert pipeline.documents(type="NC") == [nc]
    assert pipeline.actions_output(event_id)["results"][0]["number"] == nc["number"]


def test_same_payment_twice_is_one_receipt(pipeline, envelopes):
    sale = envelopes.sale_completed(payment_status="pending")
    pipeline.process(sale)
    payment = envelopes.payment_confirmed(sale_id=sale["data"]["sale_id"], amount="2.90")
    again = envelopes.payment_confirmed(sale_id=sale["data"]["sale_id"], amount="2.90",
                                        payment_id=payment["data"]["payment_id"])

    first, second = pipeline.process(payment), pipeline.process(again)

    assert (_status(pipeline, first), _status(pipeline, second)) == ("done", "done")
    [rg] = pipeline.documents(type="RG")
    assert pipeline.actions_output(second)["results"][0]["number"] == rg["number"]
