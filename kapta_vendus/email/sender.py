"""Send a document to its customer: fetch the PDF from Vendus, attach it, send it over SMTP.

At most once per (document, recipient): the row is claimed (``sending``) and committed before the
SMTP conversation, and marked ``sent`` right after it. A worker killed in between leaves it
``sending``; the sweep retries it only after a lease, so a duplicate needs a crash in that window.
Failures are retried with backoff; after the last try the row is ``failed`` and an alert is raised
(the integration's notification channels hear of it). Never part of billing: its own queue.
"""

from __future__ import annotations

import base64
import logging
import smtplib
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy import or_, select

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Document, utcnow
from kapta_vendus.db.session import Database, on_commit
from kapta_vendus.db.sync_models import CustomerEmail
from kapta_vendus.destinations.alerts import raise_alert
from kapta_vendus.destinations.policy import backoff
from kapta_vendus.email.settings import email_settings
from kapta_vendus.integrations.clients import client_for
from kapta_vendus.integrations.service import _aware, get_integration
from kapta_vendus.logs import redact

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
LEASE = timedelta(minutes=5)
NAMES = {"FT": ("Fatura", "Invoice"), "FR": ("Fatura-recibo", "Invoice-receipt"),
         "FS": ("Fatura simplificada", "Simplified invoice"), "NC": ("Nota de crédito", "Credit note"),
         "RG": ("Recibo", "Receipt")}


def smtp_send(url: str, message: EmailMessage, timeout: float) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port
    if parts.scheme == "smtps":
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, port or 465, timeout=timeout)
    else:
        server = smtplib.SMTP(host, port or 25, timeout=timeout)
    with server:
        if parts.scheme == "smtp" and (port == 587 or "starttls" in parts.query):
            server.starttls()
        if parts.username:
            server.login(unquote(parts.username), unquote(parts.password or ""))
        server.send_message(message)


def build_message(*, sender: str, recipient: str, subject: str, body: str, pdf: bytes, filename: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, recipient, subject
    message.set_content(body)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return message


def send_email(db: Database, settings: Settings, email_id: int) -> str:
    now = utcnow()
    with db.unit_of_work() as session:
        row = session.scalar(select(CustomerEmail).where(CustomerEmail.id == email_id)
                             .with_for_update(skip_locked=True))
        if row is None or row.status in ("sent", "failed"):
            return "nothing to do"
        if _aware(row.next_attempt_at) > now:
            return "not due"
        integration = get_integration(session, row.integration_id)
        config = email_settings(integration.config)
        client = client_for(settings, integration)
        doc = session.scalar(select(Document).where(Document.integration_id == row.integration_id,
                                                    Document.vendus_id == row.document_vendus_id))
        row.status, row.attempts, row.next_attempt_at = "sending", row.attempts + 1, now + LEASE
        facts = (row.id, row.recipient, row.language, row.document_number, row.document_vendus_id, row.mode,
                 doc.type if doc else row.document_number.split(" ")[0], f"{doc.amount_gross:f}" if doc else "",
                 ((doc.raw or {}).get("client") or {}).get("name") if doc else None, row.attempts)
    _, recipient, language, number, vendus_id, mode, doc_type, amount, name, attempts = facts
    try:
        if not settings.smtp_url:
            raise RuntimeError("KAPTA_SMTP_URL is not set: the service cannot send email")
        detail = client.get_document(vendus_id, mode="tests" if mode == "tests" else None, output="pdf")
        pdf = base64.b64decode(detail.get("output") or "")
        if not pdf.startswith(b"%PDF"):
            raise RuntimeError(f"Vendus returned no PDF for {number}")
        template = config.template(language)
        labels = NAMES.get(doc_type, (doc_type, doc_type))
        values = {"number": number, "amount": amount, "name": name or ("Cliente" if language == "pt" else "Customer"),
                  "document_type": labels[0] if language == "pt" else labels[1]}
        message = build_message(sender=config.sender or settings.smtp_from or "no-reply@localhost", recipient=recipient,
                                subject=template["subject"].format(**values), body=template["body"].format(**values),
                                pdf=pdf, filename=number.replace("/", "-").replace(" ", "_") + ".pdf")
        smtp_send(settings.smtp_url, message, settings.delivery_timeout * 2)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded and retried, never raised into billing
        return _failed(db, settings, email_id, attempts, redact(f"{type(exc).__name__}: {exc}")[:500])
    with db.unit_of_work() as session:
        row = session.get(CustomerEmail, email_id)
        row.status, row.sent_at, row.last_error = "sent", utcnow(), None
    return "sent"


def _failed(db: Database, settings: Settings, email_id: int, attempts: int, error: str) -> str:
    with db.unit_of_work() as session:
        row = session.get(CustomerEmail, email_id)
        row.last_error = error
        if attempts >= MAX_ATTEMPTS:
            row.status = "failed"
            log.error("document %s could not be emailed after %d tries: %s", row.document_number, attempts, error)
            alert = (row.integration_id, f"{row.document_vendus_id}:{row.recipient}", row.document_number)
        else:
            alert = None
            row.status = "pending"
            row.next_attempt_at = utcnow() + timedelta(seconds=backoff(attempts, settings.delivery_backoff))
    if alert is None:
        return "retry"
    integration_id, key, number = alert
    raise_alert(db, integration_id, "email_failed", key, f"{number}: {error}", {"document": number, "error": error})
    return "failed"


def send_due_emails(db: Database, settings: Settings, *, enqueue: Callable[[int], None], limit: int = 200) -> list[int]:
    """Emails due for a (re)try: pending ones whose time came, and ``sending`` ones whose lease ended."""
    now = utcnow()
    with db.unit_of_work() as session:
        ids = list(session.scalars(select(CustomerEmail.id).where(
            or_(CustomerEmail.status == "pending", CustomerEmail.status == "sending"),
            CustomerEmail.next_attempt_at <= now).limit(limit)))
        if ids:
            on_commit(session, lambda: [enqueue(i) for i in ids])
    return ids
