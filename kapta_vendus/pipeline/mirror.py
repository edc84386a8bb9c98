"""The local mirror of Vendus documents and the links between business objects."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Document, Link, utcnow
from kapta_vendus.db.statements import dialect_name, insert_unless_present


def _money(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _status(doc: dict[str, Any]) -> str:
    status = doc.get("status") or "N"
    return str(status.get("id", "N") if isinstance(status, dict) else status)  # object in detail, str in lists


def _unpaid(doc: dict[str, Any]) -> Decimal | None:
    debt = doc.get("debt")
    if isinstance(debt, dict) and "unpaid" in debt:
        return _money(debt["unpaid"])
    return _money(doc.get("total_unpaid"))


_CENTS = re.compile(r"-?\d+\.\d\d")


def _money_text(value: Any) -> str:
    """``str(_money(value))`` without building a Decimal for the usual "12.30" (list rows are
    fingerprinted by the thousand on every poll); anything else takes the exact Decimal path."""
    if isinstance(value, str) and _CENTS.fullmatch(value) and not value.startswith(("-0.00", "00")):
        return value
    return str(_money(value))


def _unpaid_text(doc: dict[str, Any]) -> str:
    debt = doc.get("debt")
    if isinstance(debt, dict) and "unpaid" in debt:
        return _money_text(debt["unpaid"])
    return _money_text(doc.get("total_unpaid"))


def fingerprint(doc: dict[str, Any]) -> str:
    """What the poller compares: a document whose fingerprint is unchanged needs no work."""
    parts = (doc.get("type"), doc.get("number"), _status(doc), _money_text(doc.get("amount_gross")),
             doc.get("payment_status"), _unpaid_text(doc))
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def upsert_document(session: Session, integration_id: str, doc: dict[str, Any], *, mode: str,
                    issued_here: bool = False, store_id: int | None = None) -> Document:
    vendus_id = int(doc["id"])
    # A document issued here has just been created in Vendus: it is almost never mirrored yet, so
    # the insert-if-absent comes first instead of after a lookup that finds nothing.
    row = None if issued_here else _locked(session, integration_id, mode, vendus_id)
    if row is None:
        row = _insert_if_absent(session, integration_id, mode, vendus_id, doc, issued_here, store_id)
        if row is not None:
            return row
        # Two workers may mirror the same document at once (a sale pushed twice, a poll racing a
        # push): the other one inserted it, so lock its row and update it, and neither fails.
        row = _locked(session, integration_id, mode, vendus_id)
    _apply(row, doc, issued_here, store_id)
    session.flush()
    return row


def _insert_if_absent(session: Session, integration_id: str, mode: str, vendus_id: int, doc: dict[str, Any],
                      issued_here: bool, store_id: int | None) -> Document | None:
    """The whole mirror row in one statement, or None if it exists already. The values are what
    ``_apply`` makes of a blank row, so a new row looks exactly as an updated one would."""
    draft = Document(integration_id=integration_id, vendus_id=vendus_id, mode=mode, raw={}, issued_here=False,
                     first_seen_at=utcnow())  # transient: never added to the session
    _apply(draft, doc, issued_here, store_id)
    values = {column.key: getattr(draft, column.key) for column in Document.__table__.columns
              if column.key != "id" and getattr(draft, column.key) is not None}
    conflict = ("integration_id", "mode", "vendus_id")
    statement = insert_unless_present(Document, dialect_name(session), conflict, "object")
    return session.scalar(statement, values)


def _apply(row: Document, doc: dict[str, Any], issued_here: bool, store_id: int | None) -> None:
    row.issued_here = row.issued_here or issued_here
    row.type = str(doc.get("type") or row.type or "")
    row.number = str(doc.get("number") or row.number or "")
    row.status = _status(doc) if "status" in doc or row.status is None else row.status
    if doc.get("date"):
        row.date = date.fromisoformat(str(doc["date"])[:10])
    row.store_id = _int(doc.get("store_id")) or row.store_id or store_id
    row.register_id = _int(doc.get("register_id")) or row.register_id
    for name in ("amount_gross", "amount_net"):
        value = _money(doc.get(name))
        if value is not None:
            setattr(row, name, value)
    unpaid = _unpaid(doc)
    if unpaid is not None:
        row.total_unpaid = unpaid
    row.payment_status = doc.get("payment_status") or row.payment_status
    row.external_reference = doc.get("external_reference") or row.external_reference
    row.raw = _jsonable({**(row.raw or {}), **doc})
    row.fingerprint = fingerprint(row.raw)


def _locked(session: Session, integration_id: str, mode: str, vendus_id: int) -> Document | None:
    return session.scalar(select(Document).where(Document.integration_id == integration_id,
                                                 Document.mode == mode, Document.vendus_id == vendus_id)
                          .with_for_update())


def link(session: Session, integration_id: str, from_kind: str, from_key: str, relation: str,
         to_kind: str, to_key: str) -> None:
    session.execute(insert_unless_present(Link.__table__, dialect_name(session)), {
        "integration_id": integration_id, "from_kind": from_kind, "from_key": str(from_key), "relation": relation,
        "to_kind": to_kind, "to_key": str(to_key), "created_at": utcnow()})


def linked_documents(session: Session, integration_id: str, from_kind: str, from_key: str,
                     relation: str, *, types: tuple[str, ...] | None = None) -> list[Document]:
    ids = session.scalars(select(Link.to_key).where(
        Link.integration_id == integration_id, Link.from_kind == from_kind, Link.from_key == str(from_key),
        Link.relation == relation, Link.to_kind == "document"))
    query = select(Document).where(Document.integration_id == integration_id,
                                   Document.id.in_([int(i) for i in ids])).order_by(Document.id)
    if types:
        query = query.where(Document.type.in_(types))
    return list(session.scalars(query))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
