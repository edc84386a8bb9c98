"""Cross-tenant attempts are refused: secrets, tokens, ids. Only admin tokens see every integration.

Refusal codes (see admin/auth.py): a token bound to A asking for anything under B gets 404, the
same as for an integration that does not exist, so tokens cannot probe which ids exist.
"""

from __future__ import annotations

import pytest
from tenancy_testkit import sale_envelope

pytestmark = pytest.mark.integration


def test_secret_of_a_cannot_post_into_b(world):
    envelope = sale_envelope(world.b.store_id)

    response = world.push(world.a, envelope, integration_id=world.b.id)  # A's secret, B's endpoint

    assert response.status_code == 401
    assert world.event_count() == 0
    assert world.push(world.b, envelope).status_code == 202


def test_a_store_of_b_cannot_be_posted_into_a(world):
    response = world.push(world.a, sale_envelope(world.b.store_id))
    assert response.status_code == 400
    assert any("store_id" in e for e in response.get_json()["errors"])


def test_token_of_a_cannot_read_b(world):
    event_b = world.process(world.b, sale_envelope(world.b.store_id))
    event_a = world.process(world.a, sale_envelope(world.a.store_id))
    token_a = world.token("operate", tenant=world.a)

    for path in (f"/integrations/{world.b.id}", f"/integrations/{world.b.id}/events",
                 f"/integrations/{world.b.id}/events/{event_b}", f"/integrations/{world.b.id}/reconciliation-runs"):
        response = world.admin(token_a, path)
        assert response.status_code == 404, path
        assert response.get_json()["message"] == "no such integration"
    assert world.admin(token_a, f"/integrations/{world.b.id}/events/{event_b}/replay", method="POST").status_code == 404
    assert world.admin(token_a, f"/integrations/{world.b.id}/replay", method="POST", body={}).status_code == 404
    # B's event id under A's own path: scoped by the query itself.
    assert world.admin(token_a, f"/integrations/{world.a.id}/events/{event_b}").status_code == 404
    assert world.admin(token_a, f"/integrations/{world.a.id}/events/{event_a}").status_code == 200
    listed = world.admin(token_a, "/integrations").get_json()["items"]
    assert [i["name"] for i in listed] == ["shop-a"]
    events = world.admin(token_a, f"/integrations/{world.a.id}/events").get_json()
    assert [e["id"] for e in events["items"]] == [event_a]


def test_an_unknown_integration_looks_the_same_as_a_foreign_one(world):
    token_a = world.token("read", tenant=world.a)
    foreign = world.admin(token_a, f"/integrations/{world.b.id}/events")
    unknown = world.admin(token_a, "/integrations/00000000-0000-0000-0000-000000000000/events")
    assert (foreign.status_code, foreign.get_json()) == (unknown.status_code, unknown.get_json())


def test_admin_token_sees_every_integration(world):
    event_b = world.process(world.b, sale_envelope(world.b.store_id))
    admin = world.token("admin")

    assert {i["name"] for i in world.admin(admin, "/integrations").get_json()["items"]} == {"shop-a", "shop-b"}
    assert world.admin(admin, f"/integrations/{world.b.id}/events/{event_b}").status_code == 200


def test_scopes_are_enforced(world):
    read_a = world.token("read", tenant=world.a)
    event_a = world.process(world.a, sale_envelope(world.a.store_id))

    refused = world.admin(read_a, f"/integrations/{world.a.id}/events/{event_a}/replay", method="POST")

    assert refused.status_code == 403
    assert "operate" in refused.get_json()["message"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer kvt_nope", "Basic dXNlcjpwYXNz", "Bearer not-a-token"])
def test_missing_or_bad_tokens_are_401(world, header):
    headers = {"Authorization": header} if header else {}

    response = world.client.get("/admin/v1/integrations", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["code"] == 401


def test_rate_budgets_and_gates_are_per_integration(world):
    from kapta_vendus.integrations.config import Limits
    from kapta_vendus.integrations.ratelimit import MemoryBuckets, Throttle

    buckets = MemoryBuckets(clock=lambda: 0.0)
    a = Throttle(buckets, world.a.id, Limits(vendus_requests_per_second=1, vendus_burst=2), max_wait=0)
    b = Throttle(buckets, world.b.id, Limits(vendus_requests_per_second=1, vendus_burst=2), max_wait=0)
    a(), a()
    with pytest.raises(Exception, match="budget is spent"):
        a()
    b(), b()  # A's empty bucket does not touch B's
