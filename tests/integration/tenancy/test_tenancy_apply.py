"""`integrations apply FILE [--dry-run]`: declare, change and re-apply integrations (idempotent, with a diff)."""

from __future__ import annotations

import base64
import copy

import pytest
from sqlalchemy import select
from tenancy_testkit import KEY_A, Tenant, dump_yaml, sale_envelope

from kapta_vendus.db.models import Integration, WebhookSecret
from kapta_vendus.integrations.crypto import encrypt

pytestmark = pytest.mark.integration


def _snapshot(world) -> dict:
    with world.db.unit_of_work() as session:
        return {row.name: (row.updated_at, row.vendus_api_key_enc, dict(row.config), row.status,
                           sorted((s.id, s.secret_enc, s.expires_at) for s in row.secrets))
                for row in session.scalars(select(Integration))}


def _write(tmp_path, document) -> str:
    path = tmp_path / "integrations.yaml"
    path.write_text(dump_yaml(document))
    return str(path)


def test_reapplying_the_same_file_changes_nothing(world, tmp_path):
    before = _snapshot(world)

    result = world.cli("integrations", "apply", _write(tmp_path, world.document))

    assert result.exit_code == 0, result.output
    assert "shop-a: no change" in result.output and "shop-b: no change" in result.output
    assert "Applied: 0 created, 0 changed, 2 unchanged." in result.output
    assert _snapshot(world) == before  # not even updated_at moved


def test_dry_run_shows_the_diff_and_changes_nothing_then_apply_then_idempotent(world, tmp_path):
    changed = copy.deepcopy(world.document)
    shop_a = changed["integrations"][0]
    cash = shop_a["mapping"]["payment_methods"]["cash"]
    shop_a["mapping"]["payment_methods"]["cash"] = shop_a["mapping"]["payment_methods"]["card"]
    shop_a["rules"] = [{"name": "big sales", "events": ["sale.completed"], "when": "total > 500",
                        "actions": [{"kind": "issue_document", "params": {"document_type": "FT"}}]}]
    shop_a["limits"] = {"max_events_in_flight": 4}
    shop_a["events"] = {"types": ["sale.completed", "payment.confirmed"]}
    path = _write(tmp_path, changed)
    before = _snapshot(world)

    dry = world.cli("integrations", "apply", path, "--dry-run")

    assert dry.exit_code == 0, dry.output
    card = shop_a["mapping"]["payment_methods"]["card"]
    assert f"~ mapping.payment_methods.cash: {cash} → {card}" in dry.output
    assert '+ rules[0].when: "total > 500"' in dry.output
    assert "+ limits.max_events_in_flight: 4" in dry.output
    assert '+ events.types[1]: "payment.confirmed"' in dry.output
    assert "shop-b: no change" in dry.output
    assert "Plan: 0 to create, 1 to change, 1 unchanged." in dry.output
    assert _snapshot(world) == before

    applied = world.cli("integrations", "apply", path)
    assert applied.exit_code == 0, applied.output
    assert "Applied: 0 created, 1 changed, 1 unchanged." in applied.output
    with world.db.unit_of_work() as session:
        config = session.get(Integration, world.a.id).config
    assert config["mapping"]["payment_methods"]["cash"] == card
    assert config["limits"] == {"max_events_in_flight": 4}

    again = world.cli("integrations", "apply", path)
    assert "Applied: 0 created, 0 changed, 2 unchanged." in again.output
    after = _snapshot(world)
    assert world.cli("integrations", "apply", path, "--dry-run").output.count("no change") == 2
    assert _snapshot(world) == after


def test_a_section_removed_from_the_file_is_removed(world, tmp_path):
    changed = copy.deepcopy(world.document)
    del changed["integrations"][1]["mapping"]

    # Without --offline a missing mapping means "what the Vendus account proposes" (the same here).
    path = _write(tmp_path, changed)
    assert "shop-b: no change" in world.cli("integrations", "apply", path, "--dry-run").output

    dry = world.cli("integrations", "apply", path, "--dry-run", "--offline")

    assert "- mapping.payment_methods.cash:" in dry.output


def test_new_integration_gets_a_generated_secret_shown_once_and_it_verifies(world, tmp_path):
    document = copy.deepcopy(world.document)
    extra = copy.deepcopy(document["integrations"][0])
    extra["name"], extra["webhook"] = "shop-c", {"secrets": "generate"}
    document["integrations"].append(extra)
    path = _write(tmp_path, document)

    result = world.cli("integrations", "apply", path)

    assert result.exit_code == 0, result.output
    assert "shop-c (created)" in result.output
    secret = next(w for w in result.output.split() if w.startswith("whsec_"))
    with world.db.unit_of_work() as session:
        shop_c = session.scalar(select(Integration).where(Integration.name == "shop-c")).id
    tenant = Tenant(shop_c, "shop-c", secret, KEY_A, world.a.store_id)
    assert world.push(tenant, sale_envelope(tenant.store_id)).status_code == 202

    again = world.cli("integrations", "apply", path)
    assert "whsec_" not in again.output  # shown once, never again
    assert "3 unchanged" in again.output


def test_validation_errors_name_the_field_and_the_reason_and_nothing_is_applied(world, tmp_path):
    bad = copy.deepcopy(world.document)
    a, b = bad["integrations"]
    a["vendus"] = {"api_key": KEY_A, "mode": "sometimes"}
    a["events"] = {"types": ["sale.finished"]}
    a["rules"] = [{"name": "r", "events": ["sale.completed"], "when": "total >>> 1"}]
    a["limits"] = {"max_events_in_flight": 0}
    b["vendus"]["api_key_env"] = "TENANCY_MISSING"
    b["webhook"] = {"secrets": ["whsec_abc"], "rotation_overlap": "soon"}
    before = _snapshot(world)

    result = world.cli("integrations", "apply", _write(tmp_path, bad))

    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "integrations[0] (shop-a).vendus.mode: Must be one of: normal, tests." in out
    assert "integrations[1] (shop-b).vendus.api_key_env: environment variable TENANCY_MISSING is not set" in out
    assert "integrations[1] (shop-b).webhook.secrets[0]: must be {env: NAME} or {encrypted: TOKEN}" in out
    assert KEY_A not in result.output and "whsec_abc" not in result.output  # reasons never echo secrets
    assert _snapshot(world) == before


def test_plaintext_api_key_is_refused_with_the_way_to_do_it(world, tmp_path):
    bad = copy.deepcopy(world.document)
    bad["integrations"][0]["vendus"] = {"api_key": KEY_A, "base_url": world.sim.base_url}

    result = world.cli("integrations", "apply", _write(tmp_path, bad))

    assert result.exit_code == 1
    assert "integrations[0] (shop-a).vendus.api_key: plaintext API keys are refused" in " ".join(result.output.split())
    assert KEY_A not in result.output


def test_config_errors_are_reported_with_their_section(world, tmp_path):
    bad = copy.deepcopy(world.document)
    a = bad["integrations"][0]
    a["events"] = {"types": ["sale.finished"]}
    a["limits"] = {"max_events_in_flight": 0, "speed": 3}
    a["mapping"]["fs_limit"] = 5000

    out = " ".join(world.cli("integrations", "apply", _write(tmp_path, bad)).output.split())

    assert "integrations[0] (shop-a).events.types: unknown event type 'sale.finished'" in out
    assert "integrations[0] (shop-a).limits.max_events_in_flight: must be between 1 and 1000 (got 0)" in out
    assert "integrations[0] (shop-a).limits.speed: unknown limit" in out
    assert "integrations[0] (shop-a).mapping.fs_limit: must be at most 1000" in out


def test_api_key_change_is_shown_without_any_key(world, tmp_path):
    path = _write(tmp_path, world.document)

    # --offline: the simulator does not know this key (without it, apply refuses it: see test_tenancy_operator_cli).
    dry = world.cli("integrations", "apply", path, "--dry-run", "--offline",
                    env={"TENANCY_KEY_A": "a-brand-new-key-123"})

    assert "~ vendus.api_key: <secret> → <new secret from env:TENANCY_KEY_A>" in dry.output
    assert "a-brand-new-key-123" not in dry.output and KEY_A not in dry.output


def test_an_encrypted_api_key_is_accepted_and_an_unreadable_one_refused(world, tmp_path):
    document = copy.deepcopy(world.document)
    vendus = document["integrations"][0]["vendus"]
    del vendus["api_key_env"]
    vendus["api_key_encrypted"] = encrypt(world.settings, KEY_A)

    same = world.cli("integrations", "apply", _write(tmp_path, document), "--dry-run")
    assert "shop-a: no change" in same.output  # the same key, whatever its ciphertext

    vendus["api_key_encrypted"] = "gAAAAABnot-a-token-of-ours"
    refused = world.cli("integrations", "apply", _write(tmp_path, document))
    assert refused.exit_code == 1
    assert "vendus.api_key_encrypted: cannot be decrypted with the configured KAPTA_SECRET_KEYS" in refused.output


def test_declared_secret_rotation_keeps_the_old_secret_for_the_overlap(world, tmp_path):
    new_secret = "whsec_" + base64.b64encode(b"the next secret of A 003").decode()
    document = copy.deepcopy(world.document)
    document["integrations"][0]["webhook"] = {"secrets": [{"env": "TENANCY_WHSEC_A2"}], "rotation_overlap": "2h"}
    path, env = _write(tmp_path, document), {"TENANCY_WHSEC_A2": new_secret}

    dry = world.cli("integrations", "apply", path, "--dry-run", env=env)
    assert "+ webhook.secrets[0]: <secret from env:TENANCY_WHSEC_A2>" in dry.output
    assert "<active, not declared> → <expires" in dry.output
    world.cli("integrations", "apply", path, env=env)

    old, new = world.a, Tenant(world.a.id, "shop-a", new_secret, KEY_A, world.a.store_id)
    assert world.push(old, sale_envelope(old.store_id)).status_code == 202  # still valid: overlap
    assert world.push(new, sale_envelope(new.store_id)).status_code == 202
    with world.db.unit_of_work() as session:
        expiring = [s.expires_at for s in session.scalars(select(WebhookSecret).where(
            WebhookSecret.integration_id == world.a.id)) if s.expires_at is not None]
    assert len(expiring) == 1
    again = world.cli("integrations", "apply", path, env=env)
    assert "shop-a: no change" in again.output  # the overlap is not pushed further on each apply


def test_a_deleted_integration_cannot_be_reapplied_under_its_name(world, tmp_path):
    assert world.cli("integrations", "delete", "shop-b", "--yes").exit_code == 0

    result = world.cli("integrations", "apply", _write(tmp_path, world.document))

    assert result.exit_code == 1
    assert "shop-b: this integration was deleted" in result.output


def test_status_disabled_in_the_file_stops_the_receiver(world, tmp_path):
    document = copy.deepcopy(world.document)
    document["integrations"][1]["status"] = "disabled"

    world.cli("integrations", "apply", _write(tmp_path, document))

    assert world.push(world.b, sale_envelope(world.b.store_id)).status_code == 404
    assert world.push(world.a, sale_envelope(world.a.store_id)).status_code == 202


def test_applying_a_file_keeps_the_products_that_upserts_mapped(world, tmp_path):
    """A product.upserted points the mapping at its product (issue 12); re-applying the integration's
    file must not drop it, or its kind is lost and a service line is judged as goods for the FS limit
    (CIVA 40(1), pt-invoicing-rules §3). A reference the file maps itself stays the file's."""
    from kapta_vendus.db.sync_models import MasterDataLink

    with world.db.unit_of_work() as session:
        shop_a = session.scalar(select(Integration).where(Integration.name == "shop-a"))
        session.add_all([
            MasterDataLink(integration_id=shop_a.id, kind="product", source_key="MASSAGE-60", vendus_id=9101,
                           details={"kind": "service"}),
            MasterDataLink(integration_id=shop_a.id, kind="product", source_key="BOLO", vendus_id=9102,
                           details={"kind": "goods"})])
    document = copy.deepcopy(world.document)
    document["integrations"][0]["mapping"]["products"] = {"BOLO": 42}

    first = world.cli("integrations", "apply", _write(tmp_path, document))
    second = world.cli("integrations", "apply", _write(tmp_path, document))

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    with world.db.unit_of_work() as session:
        mapping = session.scalar(select(Integration).where(Integration.name == "shop-a")).config["mapping"]
    assert mapping["products"] == {"BOLO": 42, "MASSAGE-60": 9101}
    assert mapping["product_kinds"]["MASSAGE-60"] == "service"
    assert "BOLO" not in mapping["product_kinds"]
    assert "shop-a: no change" in second.output
