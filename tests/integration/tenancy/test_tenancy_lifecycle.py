"""`integrations list|show|rotate-secret|disable|enable|delete`, and `tokens` and `keys` on the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from tenancy_testkit import KEY_A, WHSEC_A, WHSEC_B, Tenant, sale_envelope

from kapta_vendus.db.models import ApiToken, Document, Event, Integration, WebhookSecret, utcnow

pytestmark = pytest.mark.integration


def test_list_and_show_never_print_a_secret(world):
    listed = world.cli("integrations", "list")
    shown = world.cli("integrations", "show", "shop-a")
    as_json = world.cli("integrations", "show", world.a.id, "--json")

    assert listed.exit_code == shown.exit_code == as_json.exit_code == 0
    assert "shop-a" in listed.output and "shop-b" in listed.output
    detail = json.loads(as_json.output)
    assert detail["api_key"] == "set (encrypted at rest)"
    assert [s["state"] for s in detail["webhook_secrets"]] == ["active"]
    for output in (listed.output, shown.output, as_json.output):
        for secret in (KEY_A, WHSEC_A, WHSEC_B, "gAAAAA"):
            assert secret not in output


def test_show_of_an_unknown_integration_fails_clearly(world):
    result = world.cli("integrations", "show", "nope")
    assert result.exit_code == 1 and "no integration 'nope'" in result.output


def test_rotate_secret_prints_the_new_one_once_and_both_verify_during_the_overlap(world):
    result = world.cli("integrations", "rotate-secret", "shop-a", "--overlap", "2h")

    assert result.exit_code == 0, result.output
    new_secret = next(w for w in result.output.split() if w.startswith("whsec_"))
    assert new_secret != WHSEC_A
    rotated = Tenant(world.a.id, "shop-a", new_secret, KEY_A, world.a.store_id)
    assert world.push(world.a, sale_envelope(world.a.store_id)).status_code == 202
    assert world.push(rotated, sale_envelope(world.a.store_id)).status_code == 202
    with world.db.unit_of_work() as session:
        old = session.scalar(select(WebhookSecret).where(WebhookSecret.integration_id == world.a.id)
                             .order_by(WebhookSecret.id).limit(1))
        assert timedelta(minutes=119) < old.expires_at - utcnow() <= timedelta(hours=2)
        old.expires_at = utcnow() - timedelta(seconds=1)  # the overlap is over
    assert world.push(world.a, sale_envelope(world.a.store_id)).status_code == 401
    assert world.push(rotated, sale_envelope(world.a.store_id)).status_code == 202
    assert new_secret not in world.cli("integrations", "show", "shop-a").output


def test_rotate_secret_refuses_a_bad_overlap(world):
    result = world.cli("integrations", "rotate-secret", "shop-a", "--overlap", "tomorrow")
    assert result.exit_code == 2 and "--overlap" in result.output


def test_disable_and_enable(world):
    assert world.cli("integrations", "disable", "shop-a").output.strip() == "shop-a: disabled"
    assert world.push(world.a, sale_envelope(world.a.store_id)).status_code == 404
    assert world.cli("integrations", "disable", "shop-a").output.strip() == "shop-a: disabled (unchanged)"
    assert world.cli("integrations", "enable", "shop-a").output.strip() == "shop-a: active"
    assert world.push(world.a, sale_envelope(world.a.store_id)).status_code == 202


def test_delete_keeps_the_fiscal_history_and_stops_everything(world):
    world.process(world.a, sale_envelope(world.a.store_id))
    token = world.token("read", tenant=world.a)

    result = world.cli("integrations", "delete", "shop-a", "--yes")

    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Kept: 1 events, 1 documents" in text and "10 years" in text
    with world.db.unit_of_work() as session:
        row = session.get(Integration, world.a.id)
        assert row.status == "deleted" and row.deleted_at is not None
        assert session.scalar(select(func.count(Event.id)).where(Event.integration_id == world.a.id)) == 1
        assert session.scalar(select(func.count(Document.id)).where(Document.integration_id == world.a.id)) == 1
        assert session.scalar(select(ApiToken.revoked_at).where(ApiToken.integration_id == world.a.id)) is not None
    assert world.push(world.a, sale_envelope(world.a.store_id)).status_code == 404
    assert world.admin(token, f"/integrations/{world.a.id}/events").status_code == 401
    assert world.cli("integrations", "enable", "shop-a").exit_code == 1


def test_purge_is_refused_without_the_explicit_acknowledgement(world):
    world.process(world.a, sale_envelope(world.a.store_id))

    refused = world.cli("integrations", "delete", "shop-a", "--purge-history")
    lone_flag = world.cli("integrations", "delete", "shop-a", "--i-understand-10-year-retention")

    assert refused.exit_code == 1
    assert "refusing to purge" in refused.output and "10 years" in refused.output
    assert lone_flag.exit_code == 2
    with world.db.unit_of_work() as session:
        assert session.get(Integration, world.a.id).status == "active"  # nothing happened
        assert session.scalar(select(func.count(Event.id))) == 1


def test_purge_with_both_flags_erases_only_that_integration(world):
    world.process(world.a, sale_envelope(world.a.store_id))
    world.process(world.b, sale_envelope(world.b.store_id))

    result = world.cli("integrations", "delete", "shop-a", "--purge-history", "--i-understand-10-year-retention",
                       "--yes")

    assert result.exit_code == 0, result.output
    assert "deleted and purged" in result.output
    with world.db.unit_of_work() as session:
        assert session.get(Integration, world.a.id) is None
        assert session.scalar(select(func.count(Event.id))) == 1  # shop-b's
        assert session.scalar(select(func.count(Document.id)).where(Document.integration_id == world.b.id)) == 1


def test_tokens_create_list_revoke(world):
    created = world.cli("tokens", "create", "--name", "ops", "--scope", "read", "--integration", "shop-a")
    admin_needs_no_integration = world.cli("tokens", "create", "--name", "x", "--scope", "admin",
                                           "--integration", "shop-a")
    unbound = world.cli("tokens", "create", "--name", "x", "--scope", "read")

    assert created.exit_code == 0, created.output
    token = next(w for w in created.output.split() if w.startswith("kvt_"))
    assert world.admin(token, f"/integrations/{world.a.id}").status_code == 200
    assert admin_needs_no_integration.exit_code == 1 and unbound.exit_code == 1
    listed = world.cli("tokens", "list")
    assert "ops" in listed.output and token not in listed.output
    with world.db.unit_of_work() as session:
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "ops"))
    assert world.cli("tokens", "revoke", str(token_id)).exit_code == 0
    assert world.admin(token, f"/integrations/{world.a.id}").status_code == 401


def test_keys_encrypt_makes_a_value_for_the_file(world):
    from kapta_vendus.integrations.crypto import decrypt

    result = world.cli("keys", "encrypt", input="a-vendus-key\n")

    token = result.output.strip().splitlines()[-1]
    assert token.startswith("gAAAAA") and "a-vendus-key" not in result.output
    assert decrypt(world.settings, token) == "a-vendus-key"
