"""Fixtures, the default account, SQLite persistence, bulk seeding and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests
import yaml
from click.testing import CliRunner
from simulator_testkit import CAFE, NOW, Api

from kapta_vendus.simulator import SimClock, SimulatorState, create_app
from kapta_vendus.simulator.cli import simulator
from kapta_vendus.simulator.fixtures import DEFAULT_FIXTURE


def api_for(state: SimulatorState, key: str) -> Api:
    return Api(create_app(state).test_client(), state, key)


def test_default_account_is_ready_to_issue(state):
    account = state.accounts["key-a"]
    # a mainland store, a Madeira one (9000-xxx) and an Azores one (9500-xxx); registers in normal mode
    assert [s["postalcode"][:2] for s in account.stores.values()] == ["11", "90", "95"]
    assert account.first_register()["mode"] == "normal"
    assert [r["mode"] for r in account.registers.values()] == ["normal", "tests", "normal", "normal"]
    types = {m["type"] for m in account.payment_methods.values()}
    assert {"NU", "CD", "CC", "MBWAY", "TR"} <= types
    assert len(account.products) >= 3


def test_default_fixture_loads(tmp_path):
    state = SimulatorState(fixture=DEFAULT_FIXTURE, clock=SimClock(NOW, frozen=True))
    assert set(state.accounts) == {"demo-key", "demo-key-islands"}
    islands = api_for(state, "demo-key-islands")
    stores = {s["postalcode"]: s for s in islands.get("stores/").get_json()}
    assert set(stores) == {"9000-018", "9500-150"}
    azores_register = next(
        r["id"] for r in islands.account.registers.values() if r["store_id"] == stores["9500-150"]["id"]
    )
    # an Azores store still charges the account's rates; island rates come only through tax_custom (§3.4)
    created = islands.create(items=[{"reference": "SUMO", "qty": 1}], register_id=azores_register)
    assert islands.doc(created["id"])["items"][0]["tax"] == {
        "id": "NOR", "country": "PT", "rate": 23, "exemption": "", "exemption_law": "",
    }  # fmt: skip
    assert created["number"] == "FT 02P2026/1"


def test_custom_yaml_and_json_fixtures(tmp_path):
    spec = {
        "accounts": [
            {
                "api_key": "custom",
                "id": 9001,
                "region": "azores",
                "stores": [{"id": 42, "title": "Ponta Delgada", "registers": [{"id": 77, "mode": "tests"}]}],
                "payment_methods": [{"id": 5, "title": "Numerário", "type": "NU", "change": 1}],
                "products": [{"id": 8, "reference": "QJ", "title": "Queijada", "gross_price": "1.20", "tax_id": "RED"}],
                "clients": [{"id": 3, "fiscal_id": "501964843", "name": "Açores Lda"}],
            }
        ]
    }
    for name, text in (("f.yaml", yaml.safe_dump(spec)), ("f.json", json.dumps(spec))):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        state = SimulatorState(fixture=path, clock=SimClock(NOW, frozen=True))
        api = api_for(state, "custom")
        created = api.create(items=[{"id": 8, "qty": 1}], client={"id": 3}, payments=[{"id": 5}])
        assert created["number"] == "FT T01P2026/1"  # the only register is in tests mode
        doc = api.doc(created["id"], mode="tests")
        assert doc["items"][0]["tax"]["rate"] == 4 and doc["store_id"] == 42 and doc["register_id"] == 77


@pytest.mark.parametrize(
    "spec",
    [{"accounts": [{"region": "mainland"}]}, {"accounts": [{"api_key": "x", "region": "mars"}]}, {"nope": []}],
)
def test_bad_fixtures_are_rejected(spec, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises((ValueError, KeyError)):
        SimulatorState(fixture=path)


def test_sqlite_persistence_round_trip(tmp_path):
    db = tmp_path / "sim.db"
    clock = SimClock(NOW, frozen=True)
    first = SimulatorState(api_keys=["k"], db_path=db, clock=clock)
    api = api_for(first, "k")
    invoice = api.invoice(
        {"reference": "NOVO", "title": "Bolo", "gross_price": "2.00", "qty": 2},
        client={"fiscal_id": "501964843", "name": "ACME"},
        payments=[{"id": api.cash, "amount": "1.00"}],
        tx_id="keep-me",
    )
    test_doc = api.invoice(mode="tests")
    api.create(
        type="NC",
        notes="x",
        items=[{"qty": 1, "reference_document": {"document_number": invoice["number"], "document_row": 1}}],
    )
    first.bulk_create_documents("k", 500)
    before = api.doc(invoice["id"])
    first.close()

    second = SimulatorState(api_keys=["k"], db_path=db, clock=clock)
    api = api_for(second, "k")
    assert api.doc(invoice["id"]) == before
    assert api.doc(test_doc["id"], mode="tests")["number"] == "FT T01P2026/1"
    assert api.invoice(tx_id="keep-me")["id"] == invoice["id"]
    assert api.invoice()["number"] == "FT 01P2026/502"
    assert api.get("products/", reference="NOVO").status_code == 200
    assert api.get("clients/", fiscal_id="501964843").status_code == 200
    assert api.refused(items=[CAFE], date="2026-03-01") == "A001"  # series dates survive too
    second.close()


def test_bulk_create_options(state):
    api = api_for(state, "key-a")
    ids = state.bulk_create_documents(
        "key-a", 10, start_date="2026-03-01", end_date="2026-03-05", doc_type="FR", external_reference_prefix="b-"
    )
    assert len(ids) == 10
    first = api.doc(ids[0])
    assert first["date"] == "2026-03-01" and first["payment_status"] == "paid"
    assert first["external_reference"] == "b-1"
    assert api.doc(ids[-1])["date"] == "2026-03-05"
    assert api.get("documents/", type="RG").status_code == 404  # FR is paid at issue, no RG (§7.2)
    paid_ft = state.bulk_create_documents("key-a", 3, start_date="2026-03-05", end_date="2026-03-05", paid=True)
    assert api.get("documents/", type="RG").headers["X-Paginator-Items"] == "3"
    assert api.doc(paid_ft[0])["related_docs"][0]["type"] == "RG"
    with pytest.raises(ValueError):
        state.bulk_create_documents("key-a", 1, end_date="2026-03-11")
    with pytest.raises(ValueError):
        state.bulk_create_documents("key-a", 1, doc_type="NC")
    # the date rules still hold after bulk seeding
    assert api.refused(type="FR", items=[CAFE], payments=[{"id": api.cash}], date="2026-03-04") == "A001"


def test_cli_help_and_bad_options():
    runner = CliRunner()
    result = runner.invoke(simulator, ["--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--api-key", "--fixture", "--db", "--seed", "--latency-ms", "--rate-limit",
                   "--faults", "--assume"):  # fmt: skip
        assert option in result.output
    assert runner.invoke(simulator, ["--rate-limit", "lots"]).exit_code != 0
    assert runner.invoke(simulator, ["--assume", "no_such_thing=1"]).exit_code != 0


def test_cli_serves_a_ready_account(tmp_path):
    command = [sys.executable, "-m", "kapta_vendus.simulator.cli", "--port", "0", "--api-key", "cli-key",
               "--quiet", "--latency-ms", "1", "--db", str(tmp_path / "cli.db")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        base = line.split()[-1]
        # then the account's key, its stores (id, title, postal code) and registers, for --store <id>
        banner = [process.stdout.readline() for _ in range(10)]
        assert "API key cli-key" in banner[1]
        assert banner[3].split() == ["2001", "Loja", "Baixa", "1100-053"]
        assert banner[5].split()[-1] == "9500-150" and banner[6].split()[:3] == ["register", "id", "store"]
        assert banner[7].split() == ["3001", "2001", "Caixa", "API", "normal"]
        deadline = time.monotonic() + 10
        while True:
            try:
                response = requests.post(f"{base}/documents/", json={"items": [CAFE]}, auth=("cli-key", ""), timeout=5)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert response.status_code == 201
        assert response.json()["number"].startswith("FT 01P")
    finally:
        process.terminate()
        process.wait(timeout=10)
