"""Keeping other systems in sync, over the real stack (simulator, receiver, worker, beat):

- a sale with a customer email and two destinations, one healthy and one failing 5 times then
  recovering: the healthy one gets ``document.issued`` once, the failing one gets it after it
  recovers under the same ``webhook-id``; the customer's mailbox (a local aiosmtpd server) holds
  one message with the PDF;
- ``customer.upserted`` and ``product.upserted`` sent twice each make one client and one product;
- chaos: the worker is SIGKILLed while a delivery is inside its POST (sent, not recorded): the
  destination sees the same ``webhook-id`` at most twice and the delivery ends ``delivered``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import e2e_events as ev
import pytest
from destination_server import DestinationServer
from e2e_stack import Stack, running_stack
from processes import wait_until
from smtp_mailbox import Mailbox
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from kapta_vendus.db.sync_models import Delivery, Destination

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FAST_OUTBOUND = {"KAPTA_DELIVERY_BACKOFF": "0.2", "KAPTA_DELIVERY_COOLDOWN": "0.5",
                 "KAPTA_DELIVERY_SWEEP_INTERVAL": "1", "KAPTA_DELIVERY_TIMEOUT": "2"}


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_admin_url, e2e_redis_url, e2e_fernet_key, mailbox) -> Iterator[Stack]:
    env = {**FAST_OUTBOUND, "KAPTA_SMTP_URL": mailbox.url, "KAPTA_SMTP_FROM": "faturas@loja.example"}
    with running_stack(tmp_path_factory.mktemp("e2e-sync"), pg_admin_url, e2e_redis_url, e2e_fernet_key,
                       extra_env=env, name="e2e-sync") as running:
        running.start_beat()  # the outbound sweep sends the retries
        yield running


def add_destination(stack: Stack, name: str, url: str) -> str:
    out = stack.cli("destinations", "add", "--integration", stack.integration_id, "--name", name, "--url", url,
                    "--event", "document.issued").stdout
    secret = re.search(r"(whsec_\S+)", out)
    assert secret, out
    return secret.group(1)


def deliveries(stack: Stack) -> list[Delivery]:
    with Session(stack.engine) as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_sale_reaches_two_destinations_and_the_customer_mailbox(stack, mailbox):
    # The integration sends documents by email itself (its ``email`` configuration section).
    with stack.engine.begin() as conn:
        conn.execute(text("UPDATE integrations SET config = jsonb_set(config::jsonb, '{email}', "
                          "'{\"by\": \"service\", \"language\": \"pt\"}')"))
    with DestinationServer() as healthy, DestinationServer(fail_times=5) as failing:
        healthy.secret = add_destination(stack, "erp", healthy.url)
        failing.secret = add_destination(stack, "pos", failing.url)
        envelope = ev.sale(stack.store_id, customer={"name": "Maria Silva", "fiscal_id": "501964843",
                                                     "email": "maria@example.pt"})
        assert stack.push(envelope).status_code == 202
        stack.wait_done(envelope["id"], timeout=60)

        wait_until(lambda: failing.ids(accepted_only=True), timeout=60, what="the failing destination to recover",
                   describe=lambda: str([(d.status, d.attempts, d.last_error) for d in deliveries(stack)]))
        wait_until(lambda: mailbox.messages, timeout=60, what="the customer's email")
        assert healthy.ids() == healthy.ids(accepted_only=True) and len(healthy.ids()) == 1
        assert len(failing.ids()) == 6 and len(set(failing.ids())) == 1  # 5 failures, 1 success, one id
        assert all(r.verified for r in healthy.received + failing.received)
        body = healthy.received[0].body
        assert body["type"] == "document.issued" and body["data"]["sale_id"] == envelope["data"]["sale_id"]
        assert body["data"]["document"]["number"] and body["data"]["document"]["atcud"]
        # The destination has answered 2xx; the worker records it just after, in its own transaction.
        wait_until(lambda: {d.status for d in deliveries(stack)} == {"delivered"}, timeout=30,
                   what="both deliveries to be recorded delivered",
                   describe=lambda: str([(d.status, d.attempts) for d in deliveries(stack)]))

    (message,) = mailbox.messages
    assert message["To"] == "maria@example.pt"
    (attachment,) = mailbox.attachments(message)
    assert attachment[1].startswith(b"%PDF")
    log = json.loads(stack.cli("destinations", "deliveries", "--integration", stack.integration_id,
                               "--json").stdout)
    assert sorted(row["attempts"] for row in log) == [1, 6]


def test_master_data_sent_twice_is_one_client_and_one_product(stack):
    customer = ev.envelope("customer.upserted", stack.store_id, {
        "customer_id": ev.unique("CUST"), "name": "Cliente Duplo", "email": "duplo@example.pt"})
    product = ev.envelope("product.upserted", stack.store_id, {
        "reference": ev.unique("REF"), "title": "Produto Duplo", "gross_price": "3.50", "tax": "NOR",
        "kind": "service"})
    for envelope in (customer, product):
        assert stack.push(envelope).status_code == 202
        assert stack.push({**envelope, "id": ev.unique("evt")}).json()["status"] == "duplicate"
        stack.wait_done(envelope["id"], timeout=60)
    # Again under a newer version with the same content: recorded, nothing written twice.
    again = {**customer, "id": ev.unique("evt"), "occurred_at": ev.now()}
    assert stack.push(again).status_code == 202
    stack.wait_done(again["id"], timeout=60)

    clients = stack.sim_get("clients/", external_reference=customer["data"]["customer_id"])
    products = stack.sim_get("products/", reference=product["data"]["reference"], status="all")
    assert len(clients) == 1 and clients[0]["name"] == "Cliente Duplo"
    assert len(products) == 1 and products[0]["type_id"] == "S"
    assert stack.sim_count("POST clients") == 1 and stack.sim_count("POST products") == 1


def test_worker_killed_between_send_and_record_delivers_once_or_twice(stack):
    stack.ensure(worker=True, beat=True)
    # The first POST reaches the destination and is held there while the worker is killed.
    with DestinationServer(hang_seconds=4, hang_times=1) as server:
        name = ev.unique("chaos")
        server.secret = add_destination(stack, name, server.url)
        envelope = ev.sale(stack.store_id)
        assert stack.push(envelope).status_code == 202
        wait_until(lambda: server.arrived >= 1, timeout=60, what="the delivery to be inside its POST")
        stack.worker.kill()
        stack.start_worker()

        def delivered() -> bool:
            with Session(stack.engine) as session:
                status = session.scalar(select(Delivery.status).join(Destination, Destination.id ==
                                                                     Delivery.destination_id)
                                        .where(Destination.name == name))
            return status == "delivered"

        wait_until(delivered, timeout=90, what="the delivery to end delivered",
                   describe=lambda: str([(d.status, d.attempts, d.last_error) for d in deliveries(stack)]))
        ids = server.ids()
        assert 1 <= len(ids) <= 2 and len(set(ids)) == 1
