"""The web console over HTTP (Flask's test client): login, scopes, CSRF, headers, filters, replay."""

from __future__ import annotations

import re

import pytest
from tenancy_testkit import sale_envelope

from kapta_vendus.web import create_app

pytestmark = pytest.mark.integration


@pytest.fixture
def browser(world):
    """A test client of an app whose session cookie may travel over plain HTTP (the client is not HTTPS)."""
    return create_app(world.settings.replace(console_secure_cookies=False)).test_client()


def _csrf(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


def login(client, token: str):
    form = client.get("/console/login").get_data(as_text=True)
    return client.post("/console/login", data={"token": token, "csrf_token": _csrf(form)})


def test_pages_need_a_login_and_a_valid_token(world, browser):
    assert browser.get("/console/").status_code == 302
    refused = login(browser, "kvt_not-a-token")
    assert refused.status_code == 401 and "not valid" in refused.get_data(as_text=True)

    ok = login(browser, world.token("read", tenant=world.a))
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/console/")
    assert browser.get("/console/").status_code == 200


def test_security_headers_and_cookie(world, browser):
    response = login(browser, world.token("admin"))
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    page = browser.get("/console/")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.get_data(as_text=True) and 'style="' not in page.get_data(as_text=True)


def test_forms_without_the_csrf_token_are_refused(world, browser):
    login(browser, world.token("operate", tenant=world.a))
    dead = world.accept(world.a, sale_envelope(world.a.store_id))
    world.run_chain(dead, fail_at="actions")

    refused = browser.post(f"/console/events/{dead}/replay")

    assert refused.status_code == 400 and "no longer valid" in refused.get_data(as_text=True)
    assert world.event(dead).status == "dead"


def test_overview_puts_problems_first(world, browser):
    dead = world.accept(world.b, sale_envelope(world.b.store_id))
    world.run_chain(dead, fail_at="actions")
    login(browser, world.token("admin"))

    html = browser.get("/console/").get_data(as_text=True)

    rows = re.findall(r'<tr class="(problem|healthy)" data-integration="([^"]+)"', html)
    assert rows[0] == ("problem", "shop-b") and "1 dead event(s)" in html


def test_a_bound_token_sees_only_its_integration(world, browser):
    other = world.process(world.b, sale_envelope(world.b.store_id))
    login(browser, world.token("read", tenant=world.a))

    assert "shop-b" not in browser.get("/console/").get_data(as_text=True)
    assert browser.get(f"/console/events/{other}").status_code == 404
    assert browser.get(f"/console/integrations/{world.b.id}").status_code == 404
    world.process(world.a, sale_envelope(world.a.store_id))
    listed = browser.get("/console/events?integration=shop-b").get_data(as_text=True)
    assert 'id="total">0 event(s)' in listed and f"/console/events/{other}" not in listed
    assert f"/console/events/{other}" not in browser.get("/console/events").get_data(as_text=True)


def test_events_filter_csv_event_page_and_replay(world, browser):
    done = world.process(world.a, sale_envelope(world.a.store_id, sale_id="CONSOLE-1"))
    dead = world.accept(world.a, sale_envelope(world.a.store_id, sale_id="CONSOLE-2"))
    world.run_chain(dead, fail_at="actions")
    login(browser, world.token("operate", tenant=world.a))

    listed = browser.get("/console/events?integration=shop-a&status=dead").get_data(as_text=True)
    assert f'/console/events/{dead}"' in listed and f'/console/events/{done}"' not in listed
    csv_text = browser.get("/console/events.csv?sale=CONSOLE-1").get_data(as_text=True)
    assert csv_text.splitlines()[1].startswith(f"{done},shop-a,sale.completed,done")

    page = browser.get(f"/console/events/{done}").get_data(as_text=True)
    assert ("Timeline" in page and "FS " in page) or "FR " in page
    assert f"sale {world.a.store_id} / CONSOLE-1" in page  # the chain starts at the sale (store / sale id)

    event_page = browser.get(f"/console/events/{dead}").get_data(as_text=True)
    replayed = browser.post(f"/console/events/{dead}/replay", data={"csrf_token": _csrf(event_page)})
    assert replayed.status_code == 302
    assert world.enqueued.events == [(dead, "kapta.billing.bill")]
    world.run_enqueued()
    assert world.event(dead).status == "done"


def test_a_read_token_cannot_replay(world, browser):
    dead = world.accept(world.a, sale_envelope(world.a.store_id))
    world.run_chain(dead, fail_at="actions")
    login(browser, world.token("read", tenant=world.a))

    page = browser.get(f"/console/events/{dead}").get_data(as_text=True)
    assert 'id="replay"' not in page and "needs a token with the operate scope" in page
    refused = browser.post(f"/console/events/{dead}/replay", data={"csrf_token": _csrf(page)})
    assert refused.status_code == 403 and world.event(dead).status == "dead"


def test_integration_page_masks_secrets_and_dry_runs(world, browser):
    login(browser, world.token("admin"))
    page = browser.get(f"/console/integrations/{world.a.id}").get_data(as_text=True)
    assert "shop-a" in page and world.a.api_key not in page and world.a.secret not in page

    result = browser.post(f"/console/integrations/{world.a.id}",
                          data={"csrf_token": _csrf(page), "event": page.split("<textarea")[1].split(">", 1)[1]
                                .split("</textarea>")[0].replace("&#34;", '"').replace("&quot;", '"')})
    html = result.get_data(as_text=True)
    assert result.status_code == 200 and 'id="dry-run-result"' in html and "issue_document" in html


def test_charts_are_inline_svg(world, browser):
    world.process(world.a, sale_envelope(world.a.store_id))
    login(browser, world.token("admin"))
    html = browser.get("/console/charts").get_data(as_text=True)
    assert html.count("<svg") == 2 and 'class="s-done"' in html and "shop-a" in html


def test_metrics_count_the_pipeline_and_report_state(world, browser):
    from prometheus_client.parser import text_string_to_metric_families

    world.process(world.a, sale_envelope(world.a.store_id))
    dead = world.accept(world.b, sale_envelope(world.b.store_id))
    world.run_chain(dead, fail_at="actions")

    response = browser.get("/metrics")

    assert response.status_code == 200
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(response.get_data(as_text=True))
               for s in family.samples}
    a, b = world.a.id, world.b.id
    assert samples[("kapta_state_up", ())] == 1
    assert samples[("kapta_dead_events", (("integration", b),))] == 1
    assert samples[("kapta_dead_events", (("integration", a),))] == 0
    assert samples[("kapta_integration_info", (("integration", a), ("name", "shop-a"), ("status", "active")))] == 1
    assert samples[("kapta_events_finished_total", (("integration", a), ("status", "done"),
                                                    ("type", "sale.completed")))] >= 1
    assert samples[("kapta_events_finished_total", (("integration", b), ("status", "dead"),
                                                    ("type", "sale.completed")))] >= 1
    posts = [v for (name, labels), v in samples.items() if name == "kapta_vendus_request_duration_seconds_count"
             and dict(labels).get("integration") == a and dict(labels).get("method") == "POST"]
    assert posts and sum(posts) >= 1  # the document's POST, labelled with the integration that made it
    assert ("kapta_poll_never_succeeded", (("integration", a), ("store", str(world.a.store_id)))) in samples


def test_revoking_the_token_ends_its_console_sessions(world, browser):
    from sqlalchemy import select

    from kapta_vendus.db.models import ApiToken
    from kapta_vendus.integrations.tokens import hash_token, revoke_token

    token = world.token("admin")
    login(browser, token)
    assert browser.get("/console/").status_code == 200
    with world.db.unit_of_work() as session:
        revoke_token(session, session.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_token(token))))

    after = browser.get("/console/")

    assert after.status_code == 302 and "/console/login" in after.headers["Location"]


def test_a_destination_page_lists_its_deliveries_and_sends_a_dead_one_again(world, browser, monkeypatch):
    from destination_server import DestinationServer
    from prometheus_client import REGISTRY

    from kapta_vendus.destinations import sender
    from kapta_vendus.tasks import dispatch

    sent: list[int] = []
    monkeypatch.setattr(dispatch, "enqueue_delivery", sent.append)
    admin = world.token("read", "operate", "admin")
    with DestinationServer(fail_times=1, fail_status=503) as server:
        made = world.admin(admin, f"/integrations/{world.a.id}/destinations", method="POST",
                           body={"name": "erp", "url": server.url, "events": ["document.issued"]}).get_json()
        server.secret = made["secret"]
        world.process(world.a, sale_envelope(world.a.store_id, sale_id="DEST-1"))
        (delivery_id,) = sent
        short = world.settings.replace(delivery_horizon_hours=0.0001, delivery_backoff=60)
        labels = {"integration": world.a.id, "destination": "erp", "status": "503", "outcome": "dead"}
        failures_before = REGISTRY.get_sample_value("kapta_delivery_failures_total", labels) or 0
        assert sender.deliver(world.db, short, delivery_id) == "dead"
        assert REGISTRY.get_sample_value("kapta_delivery_failures_total", labels) == failures_before + 1

        login(browser, world.token("read", tenant=world.a))
        integration_page = browser.get(f"/console/integrations/{world.a.id}").get_data(as_text=True)
        link = f"/console/integrations/{world.a.id}/destinations/{made['id']}"
        assert f'href="{link}"' in integration_page
        page = browser.get(link).get_data(as_text=True)
        row = re.search(rf'<tr class="delivery-dead" data-delivery="{delivery_id}">(.*?)</tr>', page, re.S).group(1)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert cells[1:5] == ["document.issued", "dead", "1", "503"]
        assert "needs operate" in row and "replay-delivery" not in row
        replay = f"{link}/deliveries/{delivery_id}/replay"
        assert browser.post(replay, data={"csrf_token": _csrf(page)}).status_code == 403
        assert browser.get(f"{link}?status=delivered").get_data(as_text=True).count('data-delivery=') == 0

        operator = browser.application.test_client()
        login(operator, world.token("operate", tenant=world.a))
        page = operator.get(link).get_data(as_text=True)
        assert 'class="replay-delivery"' in page
        assert operator.post(replay).status_code == 400  # no CSRF token
        assert operator.post(replay, data={"csrf_token": _csrf(page)}).status_code == 302
        assert sent == [delivery_id, delivery_id]
        assert sender.deliver(world.db, world.settings, delivery_id) == "delivered"
        after = operator.get(link).get_data(as_text=True)
        assert f'<tr class="delivery-delivered" data-delivery="{delivery_id}">' in after
        assert server.received[0].webhook_id == server.received[1].webhook_id  # the same webhook-id

        other = browser.application.test_client()
        login(other, world.token("operate", tenant=world.b))
        assert other.get(link).status_code == 404
        assert other.post(replay, data={"csrf_token": _csrf(page)}).status_code in (400, 404)
