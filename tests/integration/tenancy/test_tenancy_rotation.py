"""Key and secret rotation with zero failed requests during the overlap.

A sender thread posts signed events continuously while the rotation happens in the main thread,
the way a POS bridge keeps sending while operators rotate. Every answer must be 202.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from tenancy_testkit import sale_envelope

from kapta_vendus.db.models import Integration, WebhookSecret, utcnow
from kapta_vendus.receiver.sender import signed_headers
from kapta_vendus.web import create_app

pytestmark = pytest.mark.integration


class Sender(threading.Thread):
    """Posts events to ``app`` for one integration, signing with whatever ``secret()`` returns now."""

    def __init__(self, app, integration_id: str, store_id: int, secret: Callable[[], str]) -> None:
        super().__init__(daemon=True)
        self.client, self.integration_id, self.store_id = app.test_client(), integration_id, store_id
        self.secret = secret
        self.statuses: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            envelope = sale_envelope(self.store_id)
            body = json.dumps(envelope)
            response = self.client.post(f"/v1/integrations/{self.integration_id}/events", data=body.encode(),
                                        headers=signed_headers(self.secret(), envelope["id"], body))
            self.statuses.append(response.status_code)

    def sent_at_least(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.statuses) < count:
            assert time.monotonic() < deadline, f"sender stalled at {len(self.statuses)}"
            time.sleep(0.01)

    def finish(self) -> list[int]:
        self.stop.set()
        self.join(10)
        return self.statuses


def test_webhook_secret_rotation_loses_no_request(world):
    current = {"secret": world.a.secret}
    sender = Sender(create_app(world.settings), world.a.id, world.a.store_id, lambda: current["secret"])
    sender.start()
    sender.sent_at_least(20)

    rotated = world.cli("integrations", "rotate-secret", "shop-a", "--overlap", "1h")
    new_secret = next(w for w in rotated.output.split() if w.startswith("whsec_"))
    sender.sent_at_least(len(sender.statuses) + 20)  # still on the old secret, inside the overlap
    current["secret"] = new_secret  # the sender switches
    sender.sent_at_least(len(sender.statuses) + 20)
    statuses = sender.finish()

    assert len(statuses) >= 60
    assert set(statuses) == {202}, f"failed requests during the overlap: {[s for s in statuses if s != 202]}"
    with world.db.unit_of_work() as session:  # the overlap ends: only the new secret verifies
        for secret in session.scalars(select(WebhookSecret).where(WebhookSecret.integration_id == world.a.id,
                                                                  WebhookSecret.expires_at.is_not(None))):
            secret.expires_at = utcnow() - timedelta(seconds=1)
    assert world.push(world.a, sale_envelope(world.a.store_id)).status_code == 401
    assert world.push(world.a, sale_envelope(world.a.store_id), secret=new_secret).status_code == 202


def test_encryption_key_rotation_loses_no_request_and_keeps_billing(world):
    old_key = world.settings.secret_keys[0]
    new_key = Fernet.generate_key().decode()
    # Step 1 (done by deploying): every process restarts with the new key first and the old one after.
    both = world.settings.replace(secret_keys=(new_key, old_key))
    sender = Sender(create_app(both), world.a.id, world.a.store_id, lambda: world.a.secret)
    sender.start()
    sender.sent_at_least(20)

    # Step 2: re-encrypt everything under the new key, while the sender keeps going.
    rotated = world.cli("keys", "rotate", env={"KAPTA_SECRET_KEYS": f"{new_key},{old_key}"})
    assert rotated.exit_code == 0, rotated.output
    assert "2 API key(s), 2 webhook secret(s)" in rotated.output
    sender.sent_at_least(len(sender.statuses) + 20)
    statuses = sender.finish()
    assert set(statuses) == {202}, f"failed requests during the rotation: {[s for s in statuses if s != 202]}"

    # Step 3: the old key is dropped. Everything still reads; billing still reaches Vendus.
    only_new = world.settings.replace(secret_keys=(new_key,))
    with world.db.unit_of_work() as session:
        for row in session.scalars(select(Integration)):
            assert Fernet(new_key.encode()).decrypt(row.vendus_api_key_enc.encode())
    world.settings, world.client = only_new, create_app(only_new).test_client()
    event_id = world.process(world.a, sale_envelope(world.a.store_id))
    assert world.event(event_id).status == "done"
    assert world.cli("keys", "rotate", env={"KAPTA_SECRET_KEYS": new_key}).exit_code == 0  # harmless again

    # A process still on the old key alone cannot read the secrets: it answers 503 (retry), never 500.
    stale = create_app(world.settings.replace(secret_keys=(old_key,))).test_client()
    envelope = sale_envelope(world.a.store_id)
    body = json.dumps(envelope)
    response = stale.post(f"/v1/integrations/{world.a.id}/events", data=body.encode(),
                          headers=signed_headers(world.a.secret, envelope["id"], body))
    assert response.status_code == 503


def test_rotation_reports_integrations_it_cannot_read(world):
    stranger = Fernet.generate_key().decode()

    result = world.cli("keys", "rotate", env={"KAPTA_SECRET_KEYS": stranger})

    assert result.exit_code == 1
    assert "shop-a" in result.output and "shop-b" in result.output
