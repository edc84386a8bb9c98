"""The admin API and CLI over destinations: secret shown once, scoped per integration, the
delivery log and replay of dead deliveries (one by one or in bulk)."""

from __future__ import annotations

import pytest
from destination_server import DestinationServer
from sqlalchemy import select
from tenancy_testkit import sale_envelope

from kapta_vendus.db.sync_models import Delivery
from kapta_vendus.destinations import sender
from kapta_vendus.tasks import dispatch

pytestmark = pytest.mark.integration


@pytest.fixture
def deliveries(monkeypatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(dispatch, "enqueue_delivery", sent.append)
    return sent


def test_a_destination_made_through_the_api_delivers_and_its_log_is_visible(world, deliveries):
    admin = world.token("read", "operate", "admin")
    with DestinationServer(fail_times=1) as server:
        made = world.admin(admin, f"/integrations/{world.a.id}/destinations", method="POST",
                           body={"name": "pos", "url": server.url, "events": ["document.issued"]})
        assert made.status_code == 200, made.get_json()
        server.secret = made.get_json()["secret"]
        dest_id = made.get_json()["id"]
        listed = world.admin(admin, f"/integrations/{world.a.id}/destinations").get_json()
        assert "secret" not in listed["items"][0] and listed["items"][0]["active_secrets"] == 1
        assert server.secret not in str(listed)

        world.process(world.a, sale_envelope(world.a.store_id, sale_id="API-1"))
        (delivery_id,) = deliveries
        short = world.settings.replace(delivery_horizon_hours=0.0001, delivery_backoff=60)
        assert sender.deliver(world.db, short, delivery_id) == "dead"

        log = world.admin(admin, f"/integrations/{world.a.id}/destinations/{dest_id}/deliveries").get_json()
        (row,) = log["items"]
        assert (row["status"], row["attempts"], row["last_status_code"]) == ("dead", 1, 500)

        replay = world.admin(admin, f"/integrations/{world.a.id}/deliveries/replay", method="POST",
                             body={"destination_id": dest_id})
        assert replay.get_json()["replayed"] == [delivery_id]
        assert sender.deliver(world.db, world.settings, delivery_id) == "delivered"
        cli = world.cli("destinations", "deliveries", "--integration", world.a.id, "--json")
        assert '"status": "delivered"' in cli.output
        assert server.ids()[0] == server.ids()[1] and all(r.verified for r in server.received)


def test_another_integrations_token_sees_no_destination(world):
    admin = world.token("read", "operate", "admin")
    world.admin(admin, f"/integrations/{world.a.id}/destinations", method="POST",
                body={"name": "pos", "url": "https://pos.example/hooks", "events": ["sale.rejected"]})
    other = world.token("read", "operate", tenant=world.b)
    assert world.admin(other, f"/integrations/{world.a.id}/destinations").status_code == 404
    with world.db.unit_of_work() as session:
        assert session.scalars(select(Delivery)).all() == []
