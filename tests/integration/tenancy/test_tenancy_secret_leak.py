"""The secret-leak grep: realistic flows with known keys and secrets, then everything produced is searched.

Produced means: log records (as raised, and as written by the redacting handler), process output,
every CLI output, every admin API and receiver response, what was enqueued (task arguments), and
every row of every table apart from the columns that hold ciphertext or hashes by design. The
flows include failures, because error messages are where secrets usually slip out: a wrong API
key (Vendus answers 401), Vendus errors and refusals, bad signatures, a foreign secret, a
configuration file with mistakes, and a key ring that cannot read the stored values.
"""

from __future__ import annotations

import base64
import copy
import json
import logging

import pytest
from sqlalchemy import inspect, select
from tenancy_testkit import KEY_A, KEY_B, WHSEC_A, WHSEC_B, dump_yaml, sale_envelope

from kapta_vendus.db.models import Base
from kapta_vendus.pipeline import runner

pytestmark = pytest.mark.integration

WRONG_KEY = "tenancy-wrong-vendus-key-5d1e"
CIPHERTEXT_COLUMNS = {("integrations", "vendus_api_key_enc"), ("webhook_secrets", "secret_enc"),
                      ("api_tokens", "token_hash")}


def _known(world, tokens: list[str]) -> list[str]:
    secrets = [KEY_A, KEY_B, WRONG_KEY, WHSEC_A, WHSEC_B, *tokens, *world.settings.secret_keys]
    secrets += [s.removeprefix("whsec_") for s in (WHSEC_A, WHSEC_B)]  # the HMAC key itself
    secrets += [base64.b64encode(f"{k}:".encode()).decode() for k in (KEY_A, KEY_B, WRONG_KEY)]  # as sent
    return secrets


def _database_text(world) -> str:
    parts = []
    with world.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [c["name"] for c in inspect(world.db.engine).get_columns(table.name)
                       if (table.name, c["name"]) not in CIPHERTEXT_COLUMNS]
            for row in conn.execute(select(*[table.c[c] for c in columns])):
                parts.append(json.dumps([str(v) for v in row]))
    return "\n".join(parts)


def _run(world, event_id: int) -> None:
    try:
        world.run_chain(event_id)
    except Exception as exc:  # as a task that exhausted its retries
        runner.mark_dead(world.db, event_id, exc)


def test_no_known_secret_appears_in_anything_produced(world, caplog, capfd, tmp_path):
    caplog.set_level(logging.DEBUG)
    produced: list[str] = []
    admin = world.token("admin")
    operate = world.token("operate", tenant=world.a)

    # Configuration: dry run and apply with a changed key, a broken file, list, show, tokens.
    path = tmp_path / "integrations.yaml"
    path.write_text(dump_yaml(world.document))
    for args, env in ((("integrations", "apply", str(path), "--dry-run"), {"TENANCY_KEY_B": WRONG_KEY}),
                      (("integrations", "apply", str(path)), {"TENANCY_KEY_B": WRONG_KEY}),  # refused by Vendus
                      (("integrations", "apply", str(path), "--offline"), {"TENANCY_KEY_B": WRONG_KEY}),
                      (("integrations", "list"), None), (("integrations", "show", "shop-a"), None),
                      (("integrations", "show", "shop-b", "--json"), None), (("tokens", "list"), None)):
        produced.append(world.cli(*args, env=env).output)
    broken = copy.deepcopy(world.document)
    broken["integrations"][0]["vendus"] = {"api_key": KEY_A}
    broken["integrations"][1]["webhook"] = {"secrets": [WHSEC_B]}
    path.write_text(dump_yaml(broken))
    produced.append(world.cli("integrations", "apply", str(path)).output)

    # Events: accepted, refused (bad signature, foreign secret, wrong store), and processed.
    good = [world.accept(world.a, sale_envelope(world.a.store_id)) for _ in range(2)]
    produced.append(world.push(world.a, sale_envelope(world.a.store_id), secret=WHSEC_B).get_data(as_text=True))
    produced.append(world.push(world.a, sale_envelope(world.b.store_id), secret=WHSEC_A,
                               integration_id=world.b.id).get_data(as_text=True))
    unmapped = world.accept(world.a, sale_envelope(world.a.store_id, method="voucher"))
    wrong_key = world.accept(world.b, sale_envelope(world.b.store_id))  # B now has a key Vendus refuses
    world.sim.state.faults.add_rule(methods=["POST"], paths=["documents"], errors={500: 1}, max_hits=1)
    failing = world.accept(world.a, sale_envelope(world.a.store_id))
    for event_id in (failing, *good, unmapped, wrong_key):
        _run(world, event_id)

    # Operations: dry runs, replay, key rotation with a ring that cannot read, the admin API.
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(sale_envelope(world.a.store_id)))
    produced.append(world.cli("rules", "test", "--integration", "shop-a", "--event", str(event_file)).output)
    produced.append(world.cli("rules", "test", "--integration", "shop-a", "--replay", "1..100").output)
    stranger_ring = {"KAPTA_SECRET_KEYS": "aW5jb3JyZWN0LWtleS1vZi0zMi1ieXRlcy1sb25nISE="}
    produced.append(world.cli("keys", "rotate", env=stranger_ring).output)
    produced.append(world.admin(operate, f"/integrations/{world.a.id}/events/{failing}/replay",
                                method="POST").get_data(as_text=True))
    world.run_enqueued()
    for tenant in (world.a, world.b):
        base = f"/integrations/{tenant.id}"
        pages = [world.admin(admin, p).get_json() for p in
                 ("/integrations", base, f"{base}/events", f"{base}/reconciliation-runs")]
        produced.extend(json.dumps(p) for p in pages)
        for event in pages[2]["items"]:
            produced.append(world.admin(admin, f"{base}/events/{event['id']}").get_data(as_text=True))
    produced.append(world.client.get("/admin/v1/openapi.json").get_data(as_text=True))

    out, err = capfd.readouterr()
    produced += [caplog.text, "\n".join(r.getMessage() for r in caplog.records), out, err,
                 repr(world.enqueued), _database_text(world)]
    everything = "\n".join(produced)

    assert world.event(wrong_key).status == "dead"  # the flows really failed where they should
    assert "A001" in (world.event(wrong_key).last_error or "")
    assert world.event(unmapped).status == "rejected"
    for evidence in ("step_runs", "voucher", "A001", "nothing was applied", "not readable", "no valid signature"):
        assert evidence in everything, f"the flows did not produce {evidence!r}: the grep would prove little"
    leaks = {secret for secret in _known(world, [admin, operate]) if secret in everything}
    assert not leaks, f"secrets found in produced output: {sorted(s[:6] + '…' for s in leaks)}"
