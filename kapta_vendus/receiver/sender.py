"""Send a signed event to a receiver, the way a POS bridge would (demo, tests, benchmarks)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import requests
from standardwebhooks.webhooks import Webhook


def signed_headers(secret: str, event_id: str, body: str, *, timestamp: float | None = None) -> dict[str, str]:
    moment = datetime.fromtimestamp(time.time() if timestamp is None else timestamp, tz=UTC)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, moment, body),
        "content-type": "application/json",
    }


def send_event(base_url: str, integration_id: str, secret: str, envelope: dict[str, Any], *,
               session: requests.Session | None = None, timeout: float = 10.0) -> requests.Response:
    body = json.dumps(envelope, separators=(",", ":"))
    http = session or requests
    return http.post(f"{base_url.rstrip('/')}/v1/integrations/{integration_id}/events", data=body.encode(),
                     headers=signed_headers(secret, str(envelope["id"]), body), timeout=timeout)
