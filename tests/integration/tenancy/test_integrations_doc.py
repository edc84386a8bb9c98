"""docs/integrations.md: its full example is accepted by `integrations apply`, as the page says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select
from tenancy_testkit import KEY_A, WHSEC_A

from kapta_vendus.db.models import Integration
from kapta_vendus.destinations.registry import list_destinations
from kapta_vendus.integrations.yamlfile import parse_yaml
from kapta_vendus.vendus import VendusClient

pytestmark = pytest.mark.integration
DOC = Path(__file__).parents[3] / "docs" / "integrations.md"
ENV = {"VENDUS_KEY_LISBOA": KEY_A, "WEBHOOK_SECRET_LISBOA": WHSEC_A, "OPS_CHAT_URL": "json://ops.example/hook"}


def example() -> str:
    block = re.search(r"<!-- example: begin -->\n```yaml\n(.*?)```\n<!-- example: end -->", DOC.read_text(), re.S)
    assert block, "docs/integrations.md lost its marked example"
    return block.group(1)


def test_the_example_as_written_is_valid(world, tmp_path):
    path = tmp_path / "integrations.yaml"
    path.write_text(example())

    result = world.cli("integrations", "apply", str(path), "--dry-run", "--offline", env=ENV)

    assert result.exit_code == 0, result.output
    assert "Plan: 1 to create, 0 to change, 0 unchanged." in result.output
    channels = parse_yaml(example())["integrations"][0]["notifications"]["channels"]
    assert channels[0]["on"] == ["rejected", "dead"]  # `on` is a key, not YAML 1.1's true


def test_the_example_applies_against_a_vendus_account(world, tmp_path):
    """The same file with the ids of the simulator's account: checked against Vendus, applied, idempotent."""
    with VendusClient(world.sim.base_url, KEY_A) as client:
        store = int(client.list_stores()[0]["id"])
        register = int(next(r["id"] for r in client.list_registers(store_id=store)))
        methods = [int(m["id"]) for m in client.list_payment_methods()][:3]
    text = (example().replace("2001", str(store)).replace("3001", str(register))
            .replace("https://www.vendus.pt/ws/v1.1", world.sim.base_url))
    for written, real in zip(("24934", "24935", "24936"), methods, strict=True):
        text = text.replace(written, str(real))
    path = tmp_path / "integrations.yaml"
    path.write_text(text)

    applied = world.cli("integrations", "apply", str(path), env=ENV)

    assert applied.exit_code == 0, applied.output
    with world.db.unit_of_work() as session:
        row = session.scalar(select(Integration).where(Integration.name == "lisboa"))
        assert row.config["mapping"]["stores"][str(store)]["register_id"] == register
        assert len(row.config["rules"]) == 2 and row.config["limits"]["max_events_in_flight"] == 8
        assert "ops.example" not in str(row.config)  # channel URLs are encrypted at rest
        assert row.config["email"]["by"] == "service" and row.config["email"]["from"] == "faturas@lisboa.example.pt"
        (erp,) = list_destinations(session, row.id)
        assert (erp.name, erp.declared_in, erp.status) == ("erp", "yaml", "active")
        assert list(erp.event_types) == ["document.issued", "sale.rejected"] and list(erp.store_ids) == [store]
    assert f"endpoint POST /v1/integrations/{row.id}/events" in applied.output
    again = world.cli("integrations", "apply", str(path), env=ENV)
    assert "Applied: 0 created, 0 changed, 1 unchanged." in again.output, again.output
