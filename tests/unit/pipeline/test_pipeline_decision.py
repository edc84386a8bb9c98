"""The typed decision prepare hands to bill: explicit serialisation, Decimal money both ways."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from kapta_vendus.pipeline.decide import Action, ActionKind
from kapta_vendus.pipeline.decision import Decision


def _decision() -> Decision:
    return Decision((Action(ActionKind.ISSUE_DOCUMENT, {"document_type": "FT"}),
                     Action(ActionKind.ISSUE_RECEIPT, {"amount": Decimal("1.90"), "method": "card"}),
                     Action(ActionKind.NOTIFY, {"template": "document_seen"})),
                    matched=("big sales",), used_defaults=True)


def test_a_decision_survives_its_json_round_trip_with_decimal_money():
    stored = json.loads(json.dumps(_decision().to_dict()))  # what the step-run column holds

    loaded = Decision.from_dict(stored)

    assert loaded == _decision()
    amount = loaded.actions[1].params["amount"]
    assert isinstance(amount, Decimal) and amount == Decimal("1.90")
    assert stored["actions"][1]["params"]["amount"] == "1.90"  # a plain decimal string, never a float


def test_billing_actions_leave_notifications_to_sync():
    decision = _decision()
    assert [a.kind for a in decision.billing] == [ActionKind.ISSUE_DOCUMENT, ActionKind.ISSUE_RECEIPT]
    assert decision.notices == ({"template": "document_seen"},)
    assert decision.label == "big sales: issue_document, issue_receipt, notify"


def test_a_stored_decision_that_no_longer_validates_is_refused():
    stored = _decision().to_dict()
    stored["actions"][1]["params"]["amount"] = "1.999"
    with pytest.raises(ValueError, match="at most 2 decimals"):
        Decision.from_dict(stored)
    with pytest.raises(ValueError, match="format"):
        Decision.from_dict({**_decision().to_dict(), "format": 99})
