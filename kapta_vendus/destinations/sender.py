"""Send one delivery: claim it, sign it, POST it with short timeouts, record what happened.

The claim is committed before the request: it moves ``next_attempt_at`` past the request's
longest possible duration (a lease), so a duplicate task skips it, and a worker killed mid-request
leaves it to be picked up again when the lease ends. The receiver may then see the same
``webhook-id`` twice, which Standard Webhooks receivers deduplicate: at least once, never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from kapta_vendus import metrics
from kapta_vendus.config import Settings
from kapta_vendus.db.models import utcnow
from kapta_vendus.db.session import Database
from kapta_vendus.db.sync_models import Delivery, Destination
from kapta_vendus.destinations import policy
from kapta_vendus.destinations.registry import signing_secrets
from kapta_vendus.integrations.service import _aware
from kapta_vendus.logs import redact

log = logging.getLogger(__name__)
EXCERPT = 200


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    url: str
    webhook_id: str
    body: str
    secrets: tuple[str, ...]
    attempts: int
    integration_id: str = ""
    destination: str = ""  # its name (the failures metric's label)


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    retry_after: str | None
    excerpt: str
    error: str | None = None

    @property
    def code(self) -> str:
        """The HTTP status, or the transport error's name when no response came back."""
        if self.status_code is not None:
            return str(self.status_code)
        return (self.error or "error").split(":", 1)[0]


def lease_seconds(settings: Settings) -> float:
    # Connect + read timeouts, plus room for signing and recording: after this the claim is stale.
    return 2 * settings.delivery_timeout + 10


def signature_headers(secrets: tuple[str, ...], webhook_id: str, body: str, when: datetime) -> dict[str, str]:
    """Standard Webhooks headers; one ``v1,`` signature per active secret (rotation overlap)."""
    signatures = " ".join(Webhook(secret).sign(webhook_id, when, body) for secret in secrets)
    return {"webhook-id": webhook_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": signatures, "content-type": "application/json",
            "user-agent": "kapta-vendus-webhooks"}


def claim(db: Database, settings: Settings, delivery_id: int, *, force: bool = False) -> Claim | str:
    """Take the delivery for one attempt, or say why not (a short reason)."""
    now = utcnow()
    with db.unit_of_work() as session:
        delivery = session.scalar(select(Delivery).where(Delivery.id == delivery_id)
                                  .with_for_update(skip_locked=True))
        if delivery is None:
            return "busy or missing"
        if delivery.status != "pending":
            return f"already {delivery.status}"
        if not force and _aware(delivery.next_attempt_at) > now:
            return "not due"
        destination = session.get(Destination, delivery.destination_id)
        if destination.status != "active":
            delivery.status, delivery.last_error = "dead", f"destination {destination.status}"
            return "destination disabled"
        if destination.circuit_open_until and _aware(destination.circuit_open_until) > now:
            delivery.next_attempt_at, delivery.queued_at = destination.circuit_open_until, None
            return "circuit open"
        if destination.rate_limit_per_minute:
            recent = session.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.destination_id == destination.id,
                Delivery.last_attempt_at > now - timedelta(minutes=1)))
            if recent >= destination.rate_limit_per_minute:
                delivery.next_attempt_at = now + timedelta(seconds=60 / destination.rate_limit_per_minute)
                delivery.queued_at = None
                return "rate limited"
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + timedelta(seconds=lease_seconds(settings))
        return Claim(delivery.id, destination.url, delivery.webhook_id, delivery.body,
                     tuple(signing_secrets(settings, destination, now)), delivery.attempts,
                     delivery.integration_id, destination.name)


def post(settings: Settings, http: requests.Session, taken: Claim) -> Attempt:
    headers = signature_headers(taken.secrets, taken.webhook_id, taken.body, utcnow())
    timeout = (settings.delivery_timeout, settings.delivery_timeout)
    try:
        response = http.post(taken.url, data=taken.body.encode(), headers=headers, timeout=timeout,
                             allow_redirects=False)
    except requests.RequestException as exc:
        return Attempt(None, None, "", redact(f"{type(exc).__name__}: {exc}")[:500])
    excerpt = redact(response.text[:EXCERPT]) if response.text else ""
    return Attempt(response.status_code, response.headers.get("Retry-After"), excerpt)


def record(db: Database, settings: Settings, taken: Claim, attempt: Attempt) -> str:
    now = utcnow()
    with db.unit_of_work() as session:
        delivery = session.scalar(select(Delivery).where(Delivery.id == taken.delivery_id).with_for_update())
        destination = session.scalar(select(Destination).where(Destination.id == delivery.destination_id)
                                     .with_for_update())
        delivery.last_status_code, delivery.last_response_excerpt = attempt.status_code, attempt.excerpt
        delivery.queued_at = None  # this try is over: the sweep may send the next one as soon as it is due
        delivery.last_error = attempt.error or (None if attempt.status_code and attempt.status_code < 300
                                                else f"HTTP {attempt.status_code}")
        verdict = policy.judge(attempt.status_code, attempt.retry_after, attempts=delivery.attempts,
                               created_at=_aware(delivery.created_at), now=now,
                               horizon=timedelta(hours=settings.delivery_horizon_hours),
                               base=settings.delivery_backoff)
        if delivery.status != "pending":
            return delivery.status  # recorded meanwhile (a stale claim raced a fresh one)
        if verdict.status == "delivered":
            delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
            destination.consecutive_failures, destination.circuit_open_until = 0, None
            return "delivered"
        destination.consecutive_failures += 1
        if verdict.status == "gone":
            delivery.status, delivery.last_error = "dead", verdict.reason
            destination.status, destination.disabled_reason = "disabled", verdict.reason
            return "gone"
        if verdict.status == "dead":
            delivery.status, delivery.last_error = "dead", f"{delivery.last_error}; {verdict.reason}"
            return "dead"
        delivery.next_attempt_at = now + timedelta(seconds=verdict.delay)
        opened = policy.cooldown(destination.consecutive_failures, settings.delivery_cooldown)
        if opened is not None:
            destination.circuit_open_until = now + timedelta(seconds=opened)
            delivery.next_attempt_at = max(delivery.next_attempt_at, destination.circuit_open_until)
        return "retry"


def deliver(db: Database, settings: Settings, delivery_id: int, *, http: requests.Session | None = None,
            force: bool = False) -> str:
    """One attempt at one delivery; returns what happened (delivered, retry, dead, or why skipped)."""
    taken = claim(db, settings, delivery_id, force=force)
    if isinstance(taken, str):
        return taken
    own = http is None
    http = http or requests.Session()
    try:
        attempt = post(settings, http, taken)
    finally:
        if own:
            http.close()
    outcome = record(db, settings, taken, attempt)
    if outcome in ("retry", "dead", "gone"):
        metrics.delivery_failed(taken.integration_id, taken.destination, attempt.code, outcome)
    if outcome in ("dead", "gone"):
        from kapta_vendus.destinations.alerts import raise_alert

        with db.unit_of_work() as session:
            delivery = session.get(Delivery, taken.delivery_id)
            integration_id, reason = delivery.integration_id, delivery.last_error or outcome
        raise_alert(db, integration_id, "delivery_dead", taken.webhook_id,
                    f"{taken.webhook_id} to {redact(taken.url)}: {reason}", {"url": redact(taken.url), "error": reason})
    log.info("delivery %s attempt %d: %s (%s)", taken.webhook_id, taken.attempts, outcome,
             attempt.status_code or attempt.error)
    return outcome
