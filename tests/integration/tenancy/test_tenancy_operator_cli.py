"""Operator safety and CLI parity on real PostgreSQL and the Vendus simulator over HTTP.

Each case here was hit when the service was tried as a new user would: a wrong key accepted, a
traceback from reconcile, a delete without confirmation, events listed by id only.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select
from tenancy_testkit import KEY_A, dump_yaml, integration_item, sale_envelope

from kapta_vendus.db.models import Event, Integration

pytestmark = pytest.mark.integration


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def test_create_refuses_a_wrong_key_in_one_line_and_offline_skips_the_check(world):
    refused = world.cli("integrations", "create", "--name", "porto", "--vendus-url", world.sim.base_url,
                        "--store", str(world.a.store_id), env={"KAPTA_NEW_VENDUS_API_KEY": "wrong-key"})

    assert refused.exit_code == 1
    assert _lines(refused.output) == [f"Error: Vendus at {world.sim.base_url} refused the API key (401): check the "
                                      "key; pass --offline to skip the check"]
    assert "wrong-key" not in refused.output and "unknown configuration variables" not in refused.output
    with world.db.unit_of_work() as session:
        assert session.scalar(select(Integration).where(Integration.name == "porto")) is None

    offline = world.cli("integrations", "create", "--name", "porto", "--vendus-url", world.sim.base_url,
                        "--store", str(world.a.store_id), "--offline", env={"KAPTA_NEW_VENDUS_API_KEY": "wrong-key"})
    assert offline.exit_code == 0, offline.output
    assert "integration id:" in offline.output


def test_create_refuses_a_store_of_another_account(world):
    result = world.cli("integrations", "create", "--name", "porto", "--vendus-url", world.sim.base_url,
                       "--store", "999999", "--vendus-api-key", KEY_A)
    assert result.exit_code == 1
    assert "store(s) 999999 not in this Vendus account" in result.output


def _file(tmp_path, *items) -> str:
    path = tmp_path / "integrations.yaml"
    path.write_text(dump_yaml({"integrations": list(items)}))
    return str(path)


def test_apply_checks_the_key_discovers_the_mapping_and_prints_the_endpoint(world, tmp_path):
    item = integration_item("porto", "TENANCY_KEY_A", "TENANCY_WHSEC_A", world.a.store_id, {}, world.sim.base_url)
    item.pop("mapping")
    path = _file(tmp_path, item)

    wrong = world.cli("integrations", "apply", path, env={"TENANCY_KEY_A": "wrong-key"})
    assert wrong.exit_code == 1
    assert _lines(wrong.output) == [f"Error: nothing was applied: porto: Vendus at {world.sim.base_url} refused the "
                                    "API key (401): check the key; pass --offline to skip the check"]

    applied = world.cli("integrations", "apply", path)
    assert applied.exit_code == 0, applied.output
    with world.db.unit_of_work() as session:
        row = session.scalar(select(Integration).where(Integration.name == "porto"))
        mapping = row.config["mapping"]
        integration_id = row.id
    assert mapping["payment_methods"] and mapping["stores"][str(world.a.store_id)]["register_id"]
    assert f"integration porto: id {integration_id}  endpoint POST /v1/integrations/{integration_id}/events" \
        in applied.output

    again = world.cli("integrations", "apply", path)
    assert "Applied: 0 created, 0 changed, 1 unchanged." in again.output, again.output


def test_notification_urls_are_stored_encrypted_and_never_shown(world, tmp_path):
    item = integration_item("porto", "TENANCY_KEY_A", "TENANCY_WHSEC_A", world.a.store_id, {}, world.sim.base_url,
                            notifications={"channels": [{"url_env": "CHAT_URL", "on": ["rejected", "dead"]}]})
    item.pop("mapping")
    path = _file(tmp_path, item)
    env = {"CHAT_URL": "mailto://ops:hunter2@example.com"}

    assert world.cli("integrations", "apply", path, env=env).exit_code == 0
    with world.db.unit_of_work() as session:
        stored = session.scalar(select(Integration).where(Integration.name == "porto")).config
    assert "hunter2" not in json.dumps(stored)
    (channel,) = stored["notifications"]["channels"]
    assert set(channel) == {"url_encrypted", "on"} and channel["on"] == ["rejected", "dead"]
    shown = world.cli("integrations", "show", "porto")
    assert "hunter2" not in shown.output and "<mailto://…#" in shown.output
    assert "Applied: 0 created, 0 changed, 1 unchanged." in world.cli("integrations", "apply", path, env=env).output
    changed = world.cli("integrations", "apply", path, env={"CHAT_URL": "mailto://ops:other@example.com"})
    assert "~ notifications.channels[0].url" in changed.output and "other" not in changed.output


def test_reconcile_with_a_refused_key_is_one_line(world, tmp_path):
    document = json.loads(json.dumps(world.document))
    document["integrations"][0]["vendus"]["api_key_env"] = "WRONG_KEY"
    path = tmp_path / "wrong.yaml"
    path.write_text(dump_yaml(document))
    assert world.cli("integrations", "apply", str(path), "--offline", env={"WRONG_KEY": "nope"}).exit_code == 0

    result = world.cli("reconcile", "--integration", "shop-a", env={"WRONG_KEY": "nope"})

    assert result.exit_code == 1
    assert len(_lines(result.output)) == 1 and result.output.startswith("Error: Vendus refused"), result.output
    assert "Traceback" not in result.output and "nope" not in result.output


def test_delete_asks_first(world):
    declined = world.cli("integrations", "delete", "shop-a", input="n\n")
    assert declined.exit_code == 1 and "not deleted" in declined.output
    unanswered = world.cli("integrations", "delete", "shop-a")
    assert unanswered.exit_code != 0
    with world.db.unit_of_work() as session:
        assert session.get(Integration, world.a.id).status == "active"

    confirmed = world.cli("integrations", "delete", "shop-a", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    with world.db.unit_of_work() as session:
        assert session.get(Integration, world.a.id).status == "deleted"


def test_events_list_by_name_with_filters_and_csv(world):
    first = world.process(world.a, sale_envelope(world.a.store_id, sale_id="SALE-A1"))
    world.process(world.a, sale_envelope(world.a.store_id, sale_id="SALE-A2"))
    other = world.process(world.b, sale_envelope(world.b.store_id, sale_id="SALE-B1"))
    with world.db.unit_of_work() as session:
        session.get(Event, other).status = "imported"

    listed = json.loads(world.cli("events", "list", "--integration", "shop-a", "--json").output)
    assert {e["integration"] for e in listed} == {"shop-a"} and len(listed) == 2
    by_sale = json.loads(world.cli("events", "list", "--sale", "SALE-A1", "--json").output)
    assert [e["id"] for e in by_sale] == [first]
    everything = json.loads(world.cli("events", "list", "--json").output)
    assert other not in [e["id"] for e in everything]  # imported history is hidden unless asked
    asked = json.loads(world.cli("events", "list", "--include-imported", "--store", str(world.b.store_id),
                                 "--source", "push", "--json").output)
    assert [e["id"] for e in asked] == [other]

    exported = world.cli("events", "list", "--integration", world.a.id, "--type", "sale.completed", "--csv")
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    store = world.a.store_id
    assert [r["business_key"] for r in rows] == [f"sale:{store}:SALE-A2", f"sale:{store}:SALE-A1"]
    assert {r["integration"] for r in rows} == {"shop-a"}

    unknown = world.cli("events", "list", "--integration", "nowhere")
    assert unknown.exit_code == 1 and "no integration 'nowhere'" in unknown.output


def test_events_replay_by_id_and_every_dead_one_of_an_integration(world):
    dead_a = world.accept(world.a, sale_envelope(world.a.store_id))
    world.run_chain(dead_a, fail_at="actions")
    dead_b = world.accept(world.b, sale_envelope(world.b.store_id))
    world.run_chain(dead_b, fail_at="actions")
    done = world.process(world.a, sale_envelope(world.a.store_id))

    refused = world.cli("events", "replay", str(done))
    assert refused.exit_code == 1 and f"event {done} is done" in refused.output

    result = world.cli("events", "replay", "--dead", "--integration", "shop-a")
    assert result.exit_code == 0, result.output
    assert f"event {dead_a}: replayed from actions" in result.output and "1 replayed, 0 refused" in result.output
    assert world.enqueued.events == [(dead_a, "kapta.billing.bill")]
    world.run_enqueued()
    assert world.event(dead_a).status == "done" and world.event(dead_b).status == "dead"

    by_id = world.cli("events", "replay", str(dead_b))
    assert by_id.exit_code == 0 and f"event {dead_b}: replayed from actions" in by_id.output


def test_integrations_health_names_the_broken_integration(world):
    dead = world.accept(world.b, sale_envelope(world.b.store_id))
    world.run_chain(dead, fail_at="actions")

    result = world.cli("integrations", "health", "--json")

    assert result.exit_code == 1
    rows = json.loads(result.output)
    assert rows[0]["name"] == "shop-b"  # problems first
    assert "1 dead event(s)" in rows[0]["problems"] and rows[0]["dead"] == 1
    assert rows[0]["last_hour"] == {"dead": 1}
    table = world.cli("integrations", "health", "shop-b")
    assert "shop-b" in table.output and "shop-a" not in table.output


def test_doctor_checks_each_active_integration(world, tmp_path):
    with world.db.unit_of_work() as session:
        row = session.get(Integration, world.b.id)
        row.config = {**row.config, "mapping": {**row.config["mapping"], "payment_methods": {"cash": 987654}}}

    result = world.cli("doctor")

    assert result.exit_code == 1
    line = next(line for line in result.output.splitlines() if "integration shop-b" in line)
    assert "payment method cash → 987654 does not exist in Vendus" in line
    assert any("integration shop-a" in line and "never polled" in line for line in result.output.splitlines())


def test_health_counts_sales_near_their_deadline_until_they_are_invoiced(world):
    from kapta_vendus.db.models import Alert, Link

    with world.db.unit_of_work() as session:
        for sale in ("LATE-1", "LATE-2"):
            session.add(Alert(integration_id=world.a.id, kind="deadline", key=f"sale:{world.a.store_id}:{sale}",
                              details={"sale_id": sale, "store_id": world.a.store_id}))
        session.add(Link(integration_id=world.a.id, from_kind="sale", from_key=f"{world.a.store_id}:LATE-2",
                         relation="invoiced_by",
                         to_kind="document", to_key="1"))

    (row,) = json.loads(world.cli("integrations", "health", "shop-a", "--json").output)

    assert row["deadline_sales"] == 1 and "1 sale(s) near their legal deadline" in row["problems"]
