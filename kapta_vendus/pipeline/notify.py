"""Lifecycle notifications through apprise, per integration. They never block billing.

Configuration (``notifications`` in the integration's config)::

    notifications:
      language: pt                       # or en
      channels:
        - url: "json://ops.example/hooks/vendus"   # any apprise URL: slack://, msteams://, mailto://
          events: ["*"]                  # event types, or "*"
          on: [done, rejected, dead]     # outcomes that notify
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import apprise
from sqlalchemy import select

from kapta_vendus.db.models import Event, Integration, StepRun
from kapta_vendus.db.session import Database
from kapta_vendus.integrations.channels import channel_url
from kapta_vendus.logs import redact
from kapta_vendus.pipeline.references import sale_id_of_business_key
from kapta_vendus.pipeline.templates import TemplateError, render

log = logging.getLogger(__name__)
RESULT_TEMPLATES = {"invoiced_by": "document_issued", "paid_by": "receipt_issued",
                    "credited_by": "credit_note_issued"}


def messages_for(event: Event, actions_output: dict[str, Any] | None, lang: str) -> list[tuple[str, str]]:
    if event.status == "rejected":
        return [render("event_rejected", lang, event_type=event.type, event_id=event.external_id,
                       reasons=event.last_error or "")]
    if event.status == "dead":
        return [render("event_dead", lang, event_type=event.type, event_id=event.external_id,
                       attempts=event.attempts, error=event.last_error or "")]
    out = actions_output or {}
    sale_id = sale_id_of_business_key(event.business_key)
    messages = []
    for result in out.get("results", []):
        if result.get("kind") == "linked":
            continue  # a document Vendus already had is announced by its event's notify action
        template = RESULT_TEMPLATES.get(result.get("kind"), "document_seen")
        fields = {"document_type": result.get("document_type", ""), "number": result.get("number", ""),
                  "sale_id": sale_id, "amount": Decimal(str(result.get("amount") or "0")),
                  "invoices": result.get("invoices", ""), "original": result.get("original", ""),
                  "reason": result.get("reason", "")}
        try:
            messages.append(render(template, lang, **fields))
        except TemplateError as exc:  # a template gap must not lose the notification
            messages.append((f"{event.type}", f"{result.get('document_type')} {result.get('number')} ({exc})"))
    for notice in out.get("notify", []):
        template = notice.get("template")
        if template:
            try:
                messages.append(render(template, lang, **_document_fields(event)))
            except TemplateError:
                messages.append((event.type, f"{event.type} {event.external_id}"))
    return messages


def _document_fields(event: Event) -> dict[str, Any]:
    import json

    data = json.loads(event.raw).get("data") or {}
    invoice = data.get("invoice") or {}
    return {"document_type": data.get("type", ""), "number": data.get("number", ""),
            "amount": Decimal(str(data.get("amount_gross") or "0")),
            "invoice_number": invoice.get("number", "")}


def notify_event(db: Database, event_id: int, *, default_language: str = "pt", sender=None) -> int:
    """Send the notifications of a finished event; returns how many channels accepted them."""
    with db.unit_of_work() as session:
        event = session.get(Event, event_id)
        integration = session.get(Integration, event.integration_id)
        config = (integration.config or {}).get("notifications") or {}
        output = session.scalar(select(StepRun.output).where(
            StepRun.event_id == event_id, StepRun.step == "sync", StepRun.status == "ok")
            .order_by(StepRun.id.desc()).limit(1))
        lang = config.get("language", default_language)
        channels = [ch for ch in config.get("channels") or []
                    if event.status in ch.get("on", ["done", "rejected", "dead"])
                    and ("*" in ch.get("events", ["*"]) or event.type in ch.get("events", []))]
        messages = messages_for(event, output, lang) if channels else []
        integration_id = event.integration_id
    delivered = 0
    for channel in channels:
        for title, body in messages:
            url = channel_url(channel)
            ok = (sender or _send)(url, title, body)
            delivered += int(ok)
            if not ok:
                log.warning("notification to %s failed for event %s", redact(url), event_id)
    _record(db, integration_id, event_id, delivered, len(channels) * len(messages))
    return delivered


def _send(url: str, title: str, body: str, notify_type: str = apprise.NotifyType.INFO) -> bool:
    notifier = apprise.Apprise()
    if not notifier.add(url):
        return False
    return bool(notifier.notify(title=title, body=body, notify_type=notify_type))


def alert_channels(config: dict[str, Any], kind: str) -> list[str]:
    """Channels that take reconciliation alerts (drift, deadline): ``events`` lists "*", "alerts" or the kind."""
    channels = (config.get("notifications") or {}).get("channels") or []
    return [channel_url(ch) for ch in channels
            if {"*", "alerts", kind} & set(ch.get("events", ["*"]))]


def send_alert(config: dict[str, Any], kind: str, title: str, body: str, *, urgent: bool = False,
               sender=None) -> tuple[int, int]:
    """Send one alert through the integration's channels; returns (delivered, channels)."""
    urls = alert_channels(config, kind)
    notify_type = apprise.NotifyType.FAILURE if urgent else apprise.NotifyType.WARNING
    deliver = sender or (lambda url, t, b: _send(url, t, b, notify_type))
    delivered = 0
    for url in urls:
        ok = deliver(url, title, body)
        delivered += int(bool(ok))
        if not ok:
            log.warning("%s alert to %s failed", kind, redact(url))
    return delivered, len(urls)


def _record(db: Database, integration_id: str, event_id: int, delivered: int, wanted: int) -> None:
    with db.unit_of_work() as session:
        session.add(StepRun(integration_id=integration_id, event_id=event_id, step="notify", attempt=1,
                            status="ok" if delivered == wanted else "failed",
                            summary=f"{delivered}/{wanted} notification(s) delivered"))
