"""`rules test`: which rules match, which actions would run, the payload that would be sent. No Vendus call."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from tenancy_testkit import sale_envelope

from kapta_vendus.pipeline.references import sale_reference

pytestmark = pytest.mark.integration

BIG_SALES_AS_FT = {"name": "big sales as FT", "events": ["sale.completed"], "when": "total > 2",
                   "actions": [{"kind": "issue_document", "params": {"document_type": "FT"}}], "stop": True}
NOTIFY_CARD = {"name": "card sales", "events": ["sale.completed"], "when": '"card" in methods',
               "actions": [{"kind": "notify", "params": {"template": "document_seen"}}], "with_defaults": True}


def _with_rules(world, *rules, **sections):
    document = copy.deepcopy(world.document)
    document["integrations"][0]["rules"] = list(rules)
    document["integrations"][0].update(sections)
    world.apply(document)


def _requests(world) -> int:
    return world.sim.state.stats.count(account=str(world.sim.state.accounts[world.a.api_key].id))


def _event_file(tmp_path, envelope) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(envelope))
    return str(path)


def test_shows_matching_rules_actions_and_the_payload_without_calling_vendus(world, tmp_path):
    _with_rules(world, NOTIFY_CARD, BIG_SALES_AS_FT)
    before = _requests(world)

    result = world.cli("rules", "test", "--integration", "shop-a", "--event",
                       _event_file(tmp_path, sale_envelope(world.a.store_id, sale_id="S-1")))

    assert result.exit_code == 0, result.output
    out = result.output
    assert "big sales as FT" in out and "card sales" in out
    assert "matched: big sales as FT" in out
    assert "→ issue_document" in out and "payload that would be sent to Vendus" in out
    reference = sale_reference(world.a.id, world.a.store_id, "S-1")  # integration tag, store and sale id
    assert '"type": "FT"' in out and f'"external_reference": "{reference}"' in out
    assert _requests(world) == before
    assert world.event_count() == 0  # nothing stored either


def test_json_output_carries_the_whole_report(world, tmp_path):
    _with_rules(world, NOTIFY_CARD)
    envelope = sale_envelope(world.a.store_id, method="card")

    result = world.cli("rules", "test", "--integration", world.a.id, "--event", _event_file(tmp_path, envelope),
                       "--json")

    (report,) = json.loads(result.output)
    assert report["matched"] == ["card sales"] and report["used_defaults"] is True
    assert [a["kind"] for a in report["actions"]] == ["issue_document", "notify"]
    payload = report["actions"][0]["payload"]
    assert payload["type"] == "FS" and payload["payments"][0]["amount"] == "2.90"
    assert report["context"]["methods"] == ["card"]


def test_unselected_events_and_fiscal_rejections_are_explained(world, tmp_path):
    _with_rules(world, events={"types": ["payment.confirmed"]})
    skipped = world.cli("rules", "test", "--integration", "shop-a", "--event",
                        _event_file(tmp_path, sale_envelope(world.a.store_id)))
    assert "skipped by the integration's event selection: type sale.completed is not selected" in skipped.output

    _with_rules(world)
    bad_nif = sale_envelope(world.a.store_id, customer={"name": "Ana", "fiscal_id": "123456780"})
    rejected = world.cli("rules", "test", "--integration", "shop-a", "--event", _event_file(tmp_path, bad_nif))
    assert "would be rejected: customer.fiscal_id: not a valid Portuguese NIF" in rejected.output


def test_replay_over_stored_events_shows_what_a_rule_change_would_alter(world):
    small = world.process(world.a, sale_envelope(world.a.store_id, total="2.90"))
    cheap = sale_envelope(world.a.store_id, total="0.80")
    cheap["data"]["lines"] = [{"reference": "CAFE", "title": "Café", "qty": "1", "unit_price": "0.80", "tax": "RED"}]
    cheaper = world.process(world.a, cheap)
    before = _requests(world)
    _with_rules(world, BIG_SALES_AS_FT)

    by_id = world.cli("rules", "test", "--integration", "shop-a", "--replay", f"{small}..{cheaper}")
    today = datetime.now(UTC).date()
    by_date = world.cli("rules", "test", "--integration", "shop-a", "--replay",
                        f"{today - timedelta(days=1)}..{today}", "--json")

    assert by_id.exit_code == 0, by_id.output
    assert "2 event(s); 1 would be decided differently now" in " ".join(by_id.output.split())
    reports = json.loads(by_date.output)
    assert [r["matched"] for r in reports] == [["big sales as FT"], []]
    assert _requests(world) == before


def test_usage_errors(world, tmp_path):
    assert world.cli("rules", "test", "--integration", "shop-a").exit_code == 2
    assert world.cli("rules", "test", "--integration", "shop-a", "--replay", "yesterday").exit_code == 2
    assert world.cli("rules", "test", "--integration", "nope", "--replay", "1..2").exit_code == 1
