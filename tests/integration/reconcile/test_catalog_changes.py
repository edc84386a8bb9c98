"""Clients and products changed in the Vendus back office become customer.changed / product.changed
events; the first poll is a baseline, and an idle poll costs one call per resource."""

from __future__ import annotations

import pytest
from reconcile_testkit import API_KEY, SIM_TIMEOUT, World

from kapta_vendus.vendus import VendusClient

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_back_office_edits_become_change_events_once(world: World):
    world.poll()  # baseline: what already existed is not a change
    assert world.events(type="customer.changed") == [] and world.events(type="product.changed") == []
    with VendusClient(world.sim.base_url, API_KEY, timeout=SIM_TIMEOUT) as client:
        created = client.create_client({"name": "Loja Nova", "fiscal_id": "501964843"})
        product = next(iter(client.list_products(status="all")))
        client.update_product(product["id"], {"title": "Novo título"})

    world.poll()
    (customer,) = world.events(type="customer.changed")
    (changed,) = world.events(type="product.changed")
    assert world.event_data(customer)["id"] == created["id"]
    assert world.event_data(changed)["title"] == "Novo título"

    before = world.requests()
    world.poll()  # nothing changed since: no event, one call per resource
    assert world.requests() - before == 3
    assert len(world.events(type="customer.changed")) == 1


def test_a_polled_change_runs_to_done(world: World):
    world.poll()
    with VendusClient(world.sim.base_url, API_KEY, timeout=SIM_TIMEOUT) as client:
        client.create_client({"name": "Outro Cliente"})
    world.poll()
    (event,) = world.events(type="customer.changed")
    world.run_chain(event.id)
    (event,) = world.events(type="customer.changed")
    assert event.status == "done"
