"""The default workflows table (ARCHITECTURE "Default workflows") and action validation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from kapta_vendus.events import EventType
from kapta_vendus.pipeline.decide import Action, ActionKind, default_actions, make_action, sale_document_type
from kapta_vendus.pipeline.model import (
    Customer,
    CustomerChange,
    NormalisedEvent,
    PaymentConfirmation,
    Refund,
    VendusDocumentRef,
)

LIMIT = Decimal(1000)
NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)


def issue(document_type):
    return Action(ActionKind.ISSUE_DOCUMENT, {"document_type": document_type})


@pytest.mark.parametrize(
    ("total", "status", "nif", "expected"),
    [
        ("10.00", "paid", "123456789", [issue("FR")]),  # paid in full + NIF → FR to that customer
        ("5000.00", "paid", "501964843", [issue("FR")]),
        ("10.00", "paid", None, [issue("FS")]),  # paid + no NIF within the limit → FS
        ("10.00", "paid", "999999990", [issue("FR")]),  # no NIF, but a named customer: FR with their name
        ("1000.00", "paid", None, [issue("FS")]),  # the limit itself is allowed
        ("1000.01", "paid", None, [issue("FR")]),  # over the limit → FR, client omitted
        ("10.00", "pending", None, [issue("FT")]),
        ("10.00", "pending", "123456789", [issue("FT")]),
        (
            "10.00",
            "partial",
            None,
            [issue("FT"), Action(ActionKind.ISSUE_RECEIPT, {"amount": Decimal("5.00")})],
        ),
    ],
)
def test_default_sale_workflow(make_sale, sale_event, total, status, nif, expected):
    assert (
        default_actions(sale_event(make_sale(total=total, status=status, nif=nif)), fs_limit=LIMIT)
        == expected
    )


def test_cafe_defaults_to_fs(cafe_event):
    assert default_actions(cafe_event, fs_limit=LIMIT) == [issue("FS")]


def test_anonymous_consumer_nif_alone_is_an_fs(make_sale, sale_event):
    """999999990 without any other identification is the anonymous consumer: no client, an FS."""
    sale = make_sale(customer=Customer(fiscal_id="999999990"))
    assert default_actions(sale_event(sale), fs_limit=LIMIT) == [issue("FS")]


def test_customer_change_defaults_to_a_reissue():
    change = CustomerChange("T1", "C1", Customer(name="Ana", fiscal_id="123456789"), "Correção", 24994)
    event = NormalisedEvent(EventType.SALE_CUSTOMER_CHANGED, "e", 24994, NOW, customer_change=change)
    assert default_actions(event, fs_limit=LIMIT) == [
        Action(ActionKind.REISSUE_TO_CUSTOMER, {"reason": "Correção"})]


def test_fs_limit_of_100(make_sale, sale_event):
    assert default_actions(sale_event(make_sale(total="150.00")), fs_limit=Decimal(100)) == [issue("FR")]


def test_sale_document_type_is_none_unless_paid(make_sale):
    assert sale_document_type(make_sale(status="partial"), LIMIT) is None


def test_payment_confirmed_issues_a_receipt():
    payment = PaymentConfirmation("T1-9", "pay_1", "mbway", Decimal("7.50"), NOW, 24994)
    event = NormalisedEvent(EventType.PAYMENT_CONFIRMED, "e", 24994, NOW, payment=payment)
    assert default_actions(event, fs_limit=LIMIT) == [
        Action(
            ActionKind.ISSUE_RECEIPT, {"amount": Decimal("7.50"), "method": "mbway", "payment_id": "pay_1"}
        )
    ]


def test_refund_issues_a_credit_note():
    refund = Refund("T1-9", "r1", "Produto com defeito", 24994)
    event = NormalisedEvent(EventType.SALE_REFUNDED, "e", 24994, NOW, refund=refund)
    assert default_actions(event, fs_limit=LIMIT) == [
        Action(ActionKind.ISSUE_CREDIT_NOTE, {"reason": "Produto com defeito"})
    ]


@pytest.mark.parametrize(
    ("event_type", "template"),
    [
        (EventType.INVOICE_CREATED, "document_seen"),
        (EventType.INVOICE_FINALIZED, "invoice_finalized"),
        (EventType.RECEIPT_ISSUED, "document_seen"),
        (EventType.CREDIT_NOTE_ISSUED, "document_seen"),
        (EventType.DOCUMENT_CANCELLED, "document_cancelled"),
    ],
)
def test_documents_seen_are_linked_and_notified_never_reissued(event_type, template):
    doc = VendusDocumentRef(1, "FT", "FT 01P2026/1", "N", date(2026, 11, 25), Decimal(1), Decimal(1), 24994)
    actions = default_actions(NormalisedEvent(event_type, "e", 24994, NOW, document=doc), fs_limit=LIMIT)
    assert actions == [Action(ActionKind.LINK_ONLY), Action(ActionKind.NOTIFY, {"template": template})]
    assert not any(a.kind is ActionKind.ISSUE_DOCUMENT for a in actions)


# --- make_action -------------------------------------------------------------------------------


def test_make_action_normalises():
    assert make_action("issue_document", {"document_type": "fr"}) == issue("FR")
    assert make_action("issue_receipt", {"amount": "10.50"}).params == {"amount": Decimal("10.50")}
    assert make_action("link_only") == Action(ActionKind.LINK_ONLY, {})
    assert (
        make_action("notify", {"template": "document_issued", "lang": "en", "channel": "ops"}).params["lang"]
        == "en"
    )


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        (
            "issue_invoice",
            {},
            "unknown action kind 'issue_invoice' (expected one of issue_document, issue_receipt, "
            "issue_credit_note, cancel_receipt, reissue_to_customer, notify, link_only)",
        ),
        ("issue_document", {}, "issue_document: document_type is required"),
        (
            "issue_document",
            {"document_type": "NC"},
            "issue_document: document_type must be one of FT, FR, FS (got 'NC')",
        ),
        (
            "issue_document",
            {"document_type": "FT", "client": "x"},
            "issue_document: unknown parameter 'client'",
        ),
        (
            "issue_receipt",
            {"amount": 10.5},
            'issue_receipt: amount must be an amount string such as "10.00" (got 10.5)',
        ),
        (
            "issue_receipt",
            {"amount": "-1"},
            "issue_receipt: amount must be a positive amount with at most 2 decimals (got '-1')",
        ),
        (
            "issue_receipt",
            {"amount": "1.001"},
            "issue_receipt: amount must be a positive amount with at most 2 decimals (got '1.001')",
        ),
        ("issue_credit_note", {"reason": " "}, "issue_credit_note: reason must be non-blank text (got ' ')"),
        ("notify", {"lang": "fr"}, "notify: lang must be one of pt, en (got 'fr')"),
        ("link_only", {"x": 1}, "link_only: unknown parameter 'x'"),
    ],
)
def test_make_action_refuses(kind, params, message):
    with pytest.raises(ValueError) as caught:
        make_action(kind, params)
    assert str(caught.value) == message
