"""The delivery policy (destinations.policy) and the Standard Webhooks headers of a delivery."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from kapta_vendus.destinations import policy
from kapta_vendus.destinations.registry import DestinationError, DestinationSpec
from kapta_vendus.destinations.sender import signature_headers

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
HORIZON = timedelta(hours=72)


def judge(code, retry_after=None, *, attempts=1, created=NOW, base=30.0):
    return policy.judge(code, retry_after, attempts=attempts, created_at=created, now=NOW, horizon=HORIZON,
                        base=base, rng=random.Random(7))


@pytest.mark.parametrize("code", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered(code):
    assert judge(code).status == "delivered"


def test_410_means_gone_and_other_errors_retry():
    assert judge(410).status == "gone"
    for code in (None, 400, 404, 500, 502):
        assert judge(code).status == "retry", code


def test_retry_after_is_honoured_on_429_and_503_only():
    assert judge(429, "120").delay >= 120
    assert judge(503, "Wed, 25 Nov 2026 10:10:00 GMT").delay >= 600
    assert judge(500, "120").delay < 120  # a 500's Retry-After is not an instruction


def test_backoff_grows_with_jitter_and_is_capped():
    rng = random.Random(1)
    early = [policy.backoff(1, 30, rng) for _ in range(50)]
    late = [policy.backoff(30, 30, rng) for _ in range(50)]
    assert max(early) <= 30 and min(early) >= 15
    assert max(late) <= policy.MAX_BACKOFF and len(set(late)) > 40  # jittered, never in lockstep


def test_past_the_horizon_a_delivery_is_dead():
    assert judge(500, created=NOW - HORIZON + timedelta(seconds=5)).status == "dead"
    assert judge(429, "3600", created=NOW - HORIZON + timedelta(minutes=30)).status == "dead"


def test_the_circuit_opens_after_the_threshold_and_its_cooldown_doubles():
    assert policy.cooldown(policy.BREAKER_THRESHOLD - 1, 30) is None
    assert policy.cooldown(policy.BREAKER_THRESHOLD, 30) == 30
    assert policy.cooldown(policy.BREAKER_THRESHOLD + 1, 30) == 60
    assert policy.cooldown(100, 30) == policy.MAX_COOLDOWN


def test_headers_verify_with_each_active_secret_during_a_rotation():
    old, new = "whsec_" + "a" * 32, "whsec_" + "b" * 32
    body = '{"id":"out_1","type":"document.issued"}'
    headers = signature_headers((old, new), "out_1", body, datetime.now(UTC))
    assert headers["webhook-id"] == "out_1" and len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers)["type"] == "document.issued"


def test_a_destination_declaration_is_checked_field_by_field():
    spec = DestinationSpec.from_dict({"name": "erp", "url": "https://erp.example/h", "events": ["document.issued"],
                                      "stores": [1], "rate_limit_per_minute": 60})
    assert spec.event_types == ("document.issued",) and spec.store_ids == (1,)
    for bad, reason in (({"url": "ftp://x"}, "http"), ({"events": ["sale.completed"]}, "unknown event type"),
                        ({"events": []}, "at least one"), ({"rate_limit_per_minute": 0}, "positive"),
                        ({"stores": ["x"]}, "store ids")):
        raw = {"name": "erp", "url": "https://erp.example/h", "events": ["document.issued"], **bad}
        with pytest.raises(DestinationError, match=reason):
            DestinationSpec.from_dict(raw)
