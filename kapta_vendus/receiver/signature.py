"""Standard Webhooks verification against every active secret of an integration."""

from __future__ import annotations

import binascii
import time
from collections.abc import Mapping

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class SignatureInvalid(Exception):
    """Bad or missing signature headers, or a timestamp outside the tolerance."""


def verify(body: bytes, headers: Mapping[str, str], secrets: list[str], *, tolerance: int,
           now: float | None = None) -> None:
    """Raise SignatureInvalid unless one of ``secrets`` signed ``body`` recently enough.

    The standardwebhooks library checks the HMAC in constant time and a fixed ±5 minute window;
    ``tolerance`` (KAPTA_WEBHOOK_TOLERANCE) can only narrow that window, which is checked first.
    """
    wanted = {k.lower(): v for k, v in headers.items()
              if k.lower() in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    try:
        stamp = float(wanted.get("webhook-timestamp", ""))
    except ValueError:
        raise SignatureInvalid("missing or malformed webhook-timestamp") from None
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        raise SignatureInvalid("webhook-timestamp outside the allowed tolerance")
    try:
        text = body.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        # Signatures are made over the body as text: bytes that are not UTF-8 were never signed.
        raise SignatureInvalid("body is not valid UTF-8") from None
    for secret in secrets:
        try:
            Webhook(secret).verify(text, wanted, json_parse=False)
            return
        except (WebhookVerificationError, ValueError, binascii.Error):
            continue  # try the next active secret (rotation overlap)
    raise SignatureInvalid("no valid signature for this integration")
