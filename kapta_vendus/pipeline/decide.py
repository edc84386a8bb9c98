"""Actions, and the default workflow used when no rule of the integration matches.

The defaults are the ARCHITECTURE "Default workflows" table. Documents seen in Vendus are only
linked and notified, never re-issued: issuing from them would duplicate a fiscal document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from kapta_vendus.events.catalogue import EventType, carries_document
from kapta_vendus.pipeline.model import NormalisedEvent, Sale


class ActionKind(StrEnum):
    ISSUE_DOCUMENT = "issue_document"
    ISSUE_RECEIPT = "issue_receipt"
    ISSUE_CREDIT_NOTE = "issue_credit_note"
    CANCEL_RECEIPT = "cancel_receipt"
    REISSUE_TO_CUSTOMER = "reissue_to_customer"
    NOTIFY = "notify"
    LINK_ONLY = "link_only"
    # A customer.upserted / product.upserted written into Vendus. Decided by the service for those
    # events (steps.rules), never by an integration's rules: see rules._compile_actions.
    UPSERT_MASTERDATA = "upsert_masterdata"


INTERNAL_KINDS = frozenset({ActionKind.UPSERT_MASTERDATA})
MASTERDATA_KINDS = ("customer", "product")

ISSUABLE_DOCUMENT_TYPES = ("FT", "FR", "FS")
NOTIFY_LANGS = ("pt", "en")


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    params: Mapping[str, Any] = field(default_factory=dict)


# kind → {param: (required, checker)}; a checker returns the normalised value or raises ValueError.
def _document_type(value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in ISSUABLE_DOCUMENT_TYPES:
        raise ValueError(f"must be one of {', '.join(ISSUABLE_DOCUMENT_TYPES)} (got {value!r})")
    return value.upper()


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f'must be an amount string such as "10.00" (got {value!r})')
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f'must be an amount string such as "10.00" (got {value!r})') from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"must be a positive amount with at most 2 decimals (got {value!r})")
    return amount


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be non-blank text (got {value!r})")
    return value.strip()


def _masterdata_kind(value: Any) -> str:
    if value not in MASTERDATA_KINDS:
        raise ValueError(f"must be one of {', '.join(MASTERDATA_KINDS)} (got {value!r})")
    return value


def _lang(value: Any) -> str:
    if value not in NOTIFY_LANGS:
        raise ValueError(f"must be one of {', '.join(NOTIFY_LANGS)} (got {value!r})")
    return value


_PARAMS: Mapping[ActionKind, Mapping[str, tuple[bool, Any]]] = {
    ActionKind.ISSUE_DOCUMENT: {"document_type": (True, _document_type), "notes": (False, _text)},
    ActionKind.ISSUE_RECEIPT: {
        "amount": (False, _amount),
        "method": (False, _text),
        "payment_id": (False, _text),
    },
    ActionKind.ISSUE_CREDIT_NOTE: {"reason": (False, _text)},
    ActionKind.CANCEL_RECEIPT: {"reason": (False, _text), "document_number": (False, _text)},
    ActionKind.REISSUE_TO_CUSTOMER: {"reason": (False, _text)},
    ActionKind.NOTIFY: {"template": (False, _text), "channel": (False, _text), "lang": (False, _lang)},
    ActionKind.LINK_ONLY: {},
    ActionKind.UPSERT_MASTERDATA: {"record": (True, _masterdata_kind), "key": (True, _text)},
}


def make_action(kind: Any, params: Mapping[str, Any] | None = None) -> Action:
    """Build a validated Action; raise ValueError naming the bad kind or parameter."""
    try:
        action_kind = ActionKind(kind)
    except ValueError:
        public = ", ".join(k for k in ActionKind if k not in INTERNAL_KINDS)
        raise ValueError(f"unknown action kind {kind!r} (expected one of {public})") from None
    params = dict(params or {})
    spec = _PARAMS[action_kind]
    problems = [f"{kind}: unknown parameter {name!r}" for name in params if name not in spec]
    checked: dict[str, Any] = {}
    for name, (required, check) in spec.items():
        if name not in params or params[name] is None:
            if required:
                problems.append(f"{kind}: {name} is required")
            continue
        try:
            checked[name] = check(params[name])
        except ValueError as exc:
            problems.append(f"{kind}: {name} {exc}")
    if problems:
        raise ValueError("; ".join(problems))
    return Action(action_kind, checked)


def sale_document_type(sale: Sale, fs_limit: Decimal) -> str | None:
    """The default document for a paid sale (FR or FS), or None when it is not paid in full.

    ``fs_limit`` is the limit CIVA 40(1) allows for this sale (civa.legal_fs_limit: its kinds and
    buyer), already capped by the integration's own limit.
    """
    if sale.payment_status != "paid":
        return None
    if sale.has_nif or (sale.customer is not None and sale.customer.identification):
        return "FR"  # the customer asked for their NIF or name on it: a full invoice-receipt to them
    return "FS" if sale.total <= fs_limit else "FR"  # FR to the anonymous consumer above the limit


def default_actions(event: NormalisedEvent, *, fs_limit: Decimal) -> list[Action]:
    """The default workflow for ``event``, as a list of actions in execution order."""
    if event.sale is not None:
        sale = event.sale
        paid_type = sale_document_type(sale, fs_limit)
        if paid_type is not None:
            return [Action(ActionKind.ISSUE_DOCUMENT, {"document_type": paid_type})]
        actions = [Action(ActionKind.ISSUE_DOCUMENT, {"document_type": "FT"})]
        if sale.paid_amount > 0:
            # The part already paid is settled by its own RG (see payloads: FT is sent without payments).
            actions.append(Action(ActionKind.ISSUE_RECEIPT, {"amount": sale.paid_amount}))
        return actions
    if event.payment is not None:
        payment = event.payment
        return [
            Action(
                ActionKind.ISSUE_RECEIPT,
                {"amount": payment.amount, "method": payment.method, "payment_id": payment.payment_id},
            )
        ]
    if event.refund is not None:
        return [Action(ActionKind.ISSUE_CREDIT_NOTE, {"reason": event.refund.reason})]
    if event.customer_change is not None:
        return [Action(ActionKind.REISSUE_TO_CUSTOMER, {"reason": event.customer_change.reason})]
    if carries_document(event.type):
        return [
            Action(ActionKind.LINK_ONLY),
            Action(ActionKind.NOTIFY, {"template": _notify_template(event.type)}),
        ]
    return []  # pragma: no cover - every catalogue type is handled above


def _notify_template(event_type: EventType) -> str:
    return {
        EventType.INVOICE_CREATED: "document_seen",
        EventType.INVOICE_FINALIZED: "invoice_finalized",
        EventType.RECEIPT_ISSUED: "document_seen",
        EventType.CREDIT_NOTE_ISSUED: "document_seen",
        EventType.DOCUMENT_CANCELLED: "document_cancelled",
    }[event_type]
