"""Exactly-once document issuance (ARCHITECTURE guarantee 2).

Each billing action has a deterministic idempotency key: integration + business key + kind.
The key is stored (state ``pending``) before the call, marked ``sent`` just before it, and sent
as Vendus ``tx_id``, for which the API creates at most one document. When an earlier attempt
ended with an unknown outcome (a timeout, a reset, a worker killed between the call and the
commit), the action first looks the document up by its ``external_reference`` and adopts it; only
if it is not found does it send again, with the same ``tx_id``.

Adoption is strict: the reference must be exactly ours (it names the integration and the store,
see references.py), and the document must have the store, register, type and amount we sent.
Anything else is not ours, and two candidates are a question for a person, never a guess.

A document created just now is recorded ``issued`` in the transaction that mirrors it
(``record_issued``, called by the actions' record step), not in one of its own: until that commits
the key stays ``sent``, so a crash in between is one more unknown outcome, resolved by adoption.

Vendus's "date before the latest document" refusal is our bug (we always send today's date), not
the sale's fault: it is retried, never recorded as a permanent rejection.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Issuance, utcnow
from kapta_vendus.db.session import Database
from kapta_vendus.db.statements import dialect_name, insert_unless_present, update_by_id
from kapta_vendus.events.errors import Rejection
from kapta_vendus.logs import redact
from kapta_vendus.vendus import VendusClient, VendusError, VendusRejected

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Issued:
    key: str
    vendus_id: int
    number: str
    document_type: str
    amount_gross: Decimal | None
    adopted: bool = False  # found in Vendus after an unknown outcome rather than created now
    reply: dict[str, Any] | None = None
    unrecorded_issuance: int | None = None  # created now: its key is still ``sent`` (see record_issued)


@dataclass(frozen=True)
class Expected:
    """What a document we issued must look like to be adopted after an unknown outcome."""

    store_id: int | None = None
    register_id: int | None = None
    amount_gross: Decimal | None = None  # None: not known before issuing (a credit note)


class DocumentDateRefused(VendusError):
    """Vendus refused the document's date (before the series' latest): our bug, retried."""

    retryable = True


_DATE_ORDER = re.compile(r"anterior|before|posterior|after", re.IGNORECASE)


def is_date_refusal(exc: VendusRejected) -> bool:
    message = f"{exc.message} {' '.join(str(e.get('message', '')) for e in exc.errors)}"
    return bool(re.search(r"\bdat[ae]\b", message, re.IGNORECASE)) and bool(_DATE_ORDER.search(message))


def idempotency_key(integration_id: str, business_key: str, kind: str) -> str:
    digest = hashlib.sha256(f"{integration_id}|{business_key}|{kind}".encode()).hexdigest()
    return f"kv{digest[:38]}"


@dataclass(frozen=True)
class _Claim:
    id: int
    state: str
    vendus_id: int | None
    document_number: str | None
    document_type: str | None
    last_error: str | None


def _claim(db: Database, integration_id: str, key: str, *, kind: str, business_key: str,
           event_id: int, document_type: str, request: dict[str, Any]) -> _Claim:
    """Insert the key if new; return the row as it stands, marked ``sent`` unless already final."""
    with db.unit_of_work() as session:
        # A new key is inserted already ``sent`` (this transaction commits before the call): one
        # statement. An existing one (a retry, a second worker) is locked and looked at.
        now = utcnow()
        new_id = session.scalar(
            insert_unless_present(Issuance.__table__, dialect_name(session), ("integration_id", "idempotency_key"),
                                  "id"),
            {"integration_id": integration_id, "idempotency_key": key, "kind": kind, "business_key": business_key,
             "event_id": event_id, "state": "sent", "document_type": document_type, "request": request,
             "attempts": 1, "created_at": now, "updated_at": now})
        if new_id is not None:  # the state it had before this claim: nothing was ever sent
            return _Claim(new_id, "pending", None, None, document_type, None)
        row = session.scalar(select(Issuance).where(Issuance.integration_id == integration_id,
                                                    Issuance.idempotency_key == key).with_for_update())
        snapshot = _Claim(row.id, row.state, row.vendus_id, row.document_number, row.document_type,
                          row.last_error)
        if row.state in ("pending", "sent"):
            row.state, row.attempts, row.request = "sent", row.attempts + 1, request
        return snapshot


def _finish(db: Database, issuance_id: int, **values: Any) -> None:
    with db.unit_of_work() as session:
        row = session.get(Issuance, issuance_id)
        for name, value in values.items():
            setattr(row, name, value)


def _adopt_existing(client: VendusClient, external_reference: str, document_type: str,
                    mode: str, expected: Expected) -> dict[str, Any] | None:
    candidates = [d for d in client.find_documents_by_external_reference(external_reference, mode=mode)
                  if d.get("type") == document_type
                  and str(d.get("external_reference") or "").strip() == external_reference]
    matches = [d for d in candidates if _matches(d, expected)]
    if len(matches) > 1:
        # More than one is a duplicate already made elsewhere: a human must look, never guess.
        raise Rejection([f"{len(matches)} {document_type} documents in Vendus already carry external "
                         f"reference {external_reference!r}; refusing to pick one"])
    if not matches and candidates:
        raise Rejection([f"a {document_type} with external reference {external_reference!r} exists in Vendus "
                         "but its store, register or amount differ from this sale's; refusing to adopt it"])
    return matches[0] if matches else None


def _matches(doc: dict[str, Any], expected: Expected) -> bool:
    for name, want in (("store_id", expected.store_id), ("register_id", expected.register_id)):
        if want is not None and str(doc.get(name)) != str(want):
            return False
    if expected.amount_gross is not None:
        try:
            return Decimal(str(doc.get("amount_gross"))) == expected.amount_gross
        except InvalidOperation:
            return False
    return True


def _resume(db: Database, client: VendusClient, claimed: _Claim, key: str, *, document_type: str,
            external_reference: str, mode: str, expected: Expected) -> Issued | None:
    """The outcome of an earlier attempt, if it had one; None when the document must be sent."""
    if claimed.state == "issued":
        return Issued(key, claimed.vendus_id, claimed.document_number, claimed.document_type, None)
    if claimed.state == "rejected":
        raise Rejection([claimed.last_error or "Vendus rejected this document earlier"])
    if claimed.state == "sent":  # an earlier attempt may have created it: look before sending
        found = _adopt_existing(client, external_reference, document_type, mode, expected)
        if found is not None:
            _finish(db, claimed.id, state="issued", vendus_id=int(found["id"]),
                    document_number=found.get("number"), last_error=None)
            log.info("issuance %s adopted existing %s", key, found.get("number"))
            return Issued(key, int(found["id"]), found.get("number", ""), document_type,
                          found.get("amount_gross"), adopted=True, reply=found)
    return None


def previous_issuance(db: Database, client: VendusClient, *, integration_id: str, business_key: str,
                      kind: str, document_type: str, external_reference: str,
                      mode: str, expected: Expected | None = None) -> tuple[Issued, dict[str, Any]] | None:
    """What an earlier attempt of this action already issued, with the request it sent.

    For actions whose payload is built from live Vendus state (a credit note is planned from what
    is still creditable on the original), that state changes once the document exists: building
    the payload again on a retry would refuse it ("nothing left to credit"). Such actions ask here
    first; None means nothing was issued yet, so build the payload and call ``issue_once``.
    """
    key = idempotency_key(integration_id, business_key, kind)
    with db.unit_of_work() as session:
        row = session.scalar(select(Issuance).where(Issuance.integration_id == integration_id,
                                                    Issuance.idempotency_key == key))
        if row is None:
            return None
        claimed = _Claim(row.id, row.state, row.vendus_id, row.document_number, row.document_type,
                         row.last_error)
        request = dict(row.request or {})
    if expected is None:
        expected = Expected(register_id=request.get("register_id"))
    issued = _resume(db, client, claimed, key, document_type=document_type,
                     external_reference=external_reference, mode=mode, expected=expected)
    return None if issued is None else (issued, request)


def issue_once(db: Database, client: VendusClient, *, integration_id: str, event_id: int,
               business_key: str, kind: str, payload: dict[str, Any], mode: str,
               expected: Expected | None = None) -> Issued:
    key = idempotency_key(integration_id, business_key, kind)
    document_type = str(payload.get("type", "FT"))
    external_reference = str(payload.get("external_reference") or business_key)
    claimed = _claim(db, integration_id, key, kind=kind, business_key=business_key, event_id=event_id,
                     document_type=document_type, request=_loggable(payload))
    expected = expected or Expected()
    if expected.register_id is None and isinstance(payload.get("register_id"), int):
        expected = Expected(expected.store_id, payload["register_id"], expected.amount_gross)
    resumed = _resume(db, client, claimed, key, document_type=document_type,
                      external_reference=external_reference, mode=mode, expected=expected)
    if resumed is not None:
        return resumed

    try:
        reply = client.create_document({**payload, "tx_id": key})
    except VendusRejected as exc:
        if is_date_refusal(exc):
            # We always send today's date, so this must never happen: treat it as our bug and retry
            # (the key stays 'sent'), never as the sale's fault.
            log.error("issuance %s: Vendus refused the document date: %s", key, redact(str(exc)))
            _finish(db, claimed.id, last_error=redact(f"date refused by Vendus: {exc}"))
            raise DocumentDateRefused(f"Vendus refused the {document_type}'s date: {exc.message}") from exc
        reason = f"Vendus refused the {document_type}: {exc.code or exc.status} {exc.message}".strip()
        _finish(db, claimed.id, state="rejected", last_error=redact(reason))
        raise Rejection([reason]) from exc
    except VendusError as exc:
        # Unknown or failed: the key stays 'sent', so the retry looks up before sending again.
        _finish(db, claimed.id, last_error=redact(f"{type(exc).__name__}: {exc}"))
        raise
    return Issued(key, int(reply["id"]), reply.get("number", ""), document_type, reply.get("amount_gross"),
                  reply=reply, unrecorded_issuance=claimed.id)


def record_issued(session: Session, issued: Issued) -> None:
    """Mark a document created just now ``issued``, in the caller's transaction (the one that
    mirrors it): one transaction fewer per document than a commit of its own."""
    if issued.unrecorded_issuance is None:
        return
    session.execute(update_by_id(Issuance.__table__), {
        "row_id": issued.unrecorded_issuance, "state": "issued", "vendus_id": issued.vendus_id,
        "document_number": (issued.reply or {}).get("number"), "last_error": None, "updated_at": utcnow()})


def _loggable(payload: dict[str, Any]) -> dict[str, Any]:
    """What the audit trail keeps of a request: JSON-safe, no secrets (payloads carry none)."""
    import json

    from kapta_vendus.vendus import VendusJSONEncoder

    return json.loads(json.dumps(payload, cls=VendusJSONEncoder))
