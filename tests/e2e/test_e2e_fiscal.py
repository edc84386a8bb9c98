"""Ordinary Portuguese sales over the real stack, read back through the simulator's API.

Signed HTTP → receiver → PostgreSQL → Redis → worker → Vendus simulator; then ``GET documents/{id}``
shows what Vendus holds: document type, client, ``date_supply``, item ``type_id``, tax rates and the
exemption law (pt-invoicing-rules §2-§3, vendus-api §3.4, events.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import e2e_events as ev
import pytest
from e2e_stack import API_KEY, Stack, running_stack

pytestmark = pytest.mark.e2e

LISBON = ZoneInfo("Europe/Lisbon")
COMPANY_NIF = "501964843"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_admin_url, e2e_redis_url, e2e_fernet_key) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("e2e-fiscal"), pg_admin_url, e2e_redis_url,
                       e2e_fernet_key, name="e2e-fiscal") as running:
        yield running


def _issue(stack: Stack, envelope: dict, doc_type: str) -> dict:
    """Push, wait for ``done``, and return the Vendus detail of the sale's one ``doc_type``."""
    reply = stack.push(envelope)
    assert reply.status_code == 202, reply.text
    stack.wait_done(envelope["id"])
    docs = [d for d in stack.sim_documents(envelope["data"]["sale_id"]) if d["type"] == doc_type]
    assert len(docs) == 1, docs
    return stack.sim_get(f"documents/{docs[0]['id']}")


def _line(title: str, price: str, **extra) -> dict:
    return {"reference": re.sub(r"\W", "", title.upper())[:20], "title": title, "qty": "1", "unit_price": price,
            "tax": "NOR", **extra}


def _paid(amount: str) -> list[dict]:
    return [{"method": "card", "amount": amount, "status": "paid"}]


def test_services_sale_over_100_is_an_fr_with_service_items(stack):
    envelope = ev.sale(stack.store_id, lines=[_line("Jantar de grupo", "150.00", tax="INT", kind="service")],
                       payments=_paid("150.00"))
    detail = _issue(stack, envelope, "FR")
    assert [(i["type_id"], i["tax"]["rate"]) for i in detail["items"]] == [("S", 13)]


def test_named_customer_without_nif_is_on_the_fr(stack):
    customer = {"name": "João Silva", "address": "Rua Direita 1", "postalcode": "1100-001", "city": "Lisboa"}
    envelope = ev.sale(stack.store_id, lines=[_line("Sofá", "1500.00")], payments=_paid("1500.00"),
                       customer=customer)
    client = _issue(stack, envelope, "FR")["client"]
    assert (client["name"], client["address"], client["city"]) == ("João Silva", "Rua Direita 1", "Lisboa")
    assert not client.get("fiscal_id")


def test_late_sale_carries_today_and_its_supply_date(stack):
    envelope = ev.sale(stack.store_id)
    closed = datetime.now(UTC) - timedelta(days=1)
    envelope["data"]["closed_at"] = closed.isoformat()
    detail = _issue(stack, envelope, "FS")
    assert detail["date"] == datetime.now(LISBON).date().isoformat()
    assert detail["date_supply"] == closed.astimezone(LISBON).date().isoformat()
    assert [i["type_id"] for i in detail["items"]] == ["P", "P"]


def test_exempt_line_prints_the_account_s_law(stack):
    laws = {row["id"]: row["law"] for row in stack.sim_get("taxes/exemptions/")}
    envelope = ev.sale(stack.store_id, lines=[_line("Consulta", "40.00", tax="ISE", exemption="M07",
                                                    kind="service")], payments=_paid("40.00"))
    [item] = _issue(stack, envelope, "FS")["items"]
    assert (item["tax"]["exemption"], item["tax"]["exemption_law"], item["tax"]["rate"]) == ("M07", laws["M07"], 0)


def test_customer_change_credits_and_reissues_to_the_customer(stack):
    sale = ev.sale(stack.store_id)
    fs = _issue(stack, sale, "FS")
    change = ev.envelope("sale.customer_changed", stack.store_id, {
        "sale_id": sale["data"]["sale_id"], "change_id": ev.unique("CHG"),
        "customer": {"name": "Empresa Exemplo, Lda", "fiscal_id": COMPANY_NIF}})
    assert stack.push(change).status_code == 202
    stack.wait_done(change["id"])

    docs = stack.sim_documents(f"{sale['data']['sale_id']}#CC:{change['data']['change_id']}")
    assert sorted(d["type"] for d in docs) == ["FR", "NC"]
    fr = stack.sim_get(f"documents/{next(d['id'] for d in docs if d['type'] == 'FR')}")
    assert fr["client"]["fiscal_id"] == COMPANY_NIF and fr["amount_gross"] == fs["amount_gross"]


def test_madeira_store_is_charged_madeira_rates(stack):
    funchal = next(s for s in stack.sim_get("stores/") if str(s.get("postalcode", "")).startswith("9"))
    out = stack.cli("integrations", "create", "--name", ev.unique("funchal"), "--vendus-url",
                    f"{stack.sim_url}/ws/v1.1", "--vendus-api-key", API_KEY, "--store", str(funchal["id"])).stdout
    previous = (stack.integration_id, stack.secret, stack.store_id)
    stack.integration_id = re.search(r"integration id:\s+(\S+)", out).group(1)
    stack.secret = re.search(r"webhook secret:\s+(whsec_\S+)", out).group(1)
    stack.store_id = int(funchal["id"])
    try:
        lines = [_line("Sumo natural", "3.50"), _line("Tosta mista", "3.20", tax="INT"),
                 _line("Água 50cl", "1.00", tax="RED")]
        detail = _issue(stack, ev.sale(stack.store_id, lines=lines, payments=_paid("7.70")), "FS")
    finally:
        stack.integration_id, stack.secret, stack.store_id = previous
    assert [(i["tax"]["country"], i["tax"]["rate"]) for i in detail["items"]] == [
        ("PT-MA", 22), ("PT-MA", 12), ("PT-MA", 4)]
