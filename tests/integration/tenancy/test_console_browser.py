"""The console in a real headless Chromium (the OS's /usr/bin/chromium, driven by Playwright).

The app runs in this process on a real HTTP port (werkzeug), over the tenancy world's PostgreSQL and
simulator. A replay runs the event's chain at once (as a worker would), so the page that follows the
click shows the event finished. Screenshots go to tests/output/console/ (not committed).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tenancy_testkit import sale_envelope
from werkzeug.serving import make_server

from kapta_vendus.tasks import dispatch
from kapta_vendus.web import create_app

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CHROMIUM = os.environ.get("KAPTA_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).parents[2] / "output" / "console"


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)"
        if os.environ.get("KAPTA_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def console_url(world, monkeypatch) -> Iterator[str]:
    # A replay's chain runs at once, in the server's thread, as a worker would run it.
    monkeypatch.setattr(dispatch, "enqueue_event", lambda event_id, start_at=None: world.run_chain(
        event_id, start_at=start_at))
    app = create_app(world.settings.replace(console_secure_cookies=False))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/console"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def page(chromium, request):
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield tab
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    # A Content-Security-Policy violation shows up as a console error: the pages must cause none.
    assert not [e for e in errors if "Content Security Policy" in e], errors


def log_in(page, url: str, token: str) -> None:
    page.goto(f"{url}/")
    assert page.url.startswith(f"{url}/login")
    page.fill("#token", token)
    page.click("form.login button")
    page.wait_for_url(f"{url}/")


def test_log_in_filter_open_an_event_and_replay_a_dead_one(world, console_url, page):
    done = world.process(world.a, sale_envelope(world.a.store_id, sale_id="BROWSER-OK"))
    dead = world.accept(world.a, sale_envelope(world.a.store_id, sale_id="BROWSER-DEAD"))
    world.run_chain(dead, fail_at="actions")
    log_in(page, console_url, world.token("operate", tenant=world.a))

    assert page.locator("tr.problem[data-integration='shop-a']").count() == 1  # a dead event is a problem
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)
    page.click("nav >> text=Events")
    page.select_option("select[name=status]", "dead")
    page.click("form.filters button")
    assert page.inner_text("#total").startswith("1 event(s)")
    assert page.locator(f"a[href='/console/events/{done}']").count() == 0

    page.click(f"a[href='/console/events/{dead}']")
    assert page.inner_text("#event-status") == "dead"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "dead-event-before-replay.png"), full_page=True)
    page.click("#replay")

    page.wait_for_url(f"{console_url}/events/{dead}")
    assert page.inner_text("#event-status") == "done"
    assert "replayed from actions" in page.inner_text("p.flash")
    assert page.locator("td.number").count() >= 1  # the document it produced, with its number
    assert world.event(dead).status == "done"

    page.click("nav >> text=Charts")
    assert page.locator("svg.chart").count() == 2
    page.screenshot(path=str(SHOTS / "charts.png"), full_page=True)
    page.click("nav >> text=Integrations")
    page.click("#dry-run")
    assert "issue_document" in page.inner_text("#dry-run-result")
    page.screenshot(path=str(SHOTS / "integration-dry-run.png"), full_page=True)


def test_a_read_token_cannot_replay(world, console_url, page):
    dead = world.accept(world.a, sale_envelope(world.a.store_id))
    world.run_chain(dead, fail_at="actions")
    log_in(page, console_url, world.token("read", tenant=world.a))

    page.goto(f"{console_url}/events/{dead}")

    assert page.locator("#replay").count() == 0
    assert "operate scope" in page.inner_text("#replay-needs-operate")
    page.goto(f"{console_url}/dead")
    assert page.locator("#replay-selected").count() == 0
    assert world.event(dead).status == "dead"


def test_bulk_replay_from_dead_letters(world, console_url, page):
    dead = [world.accept(world.a, sale_envelope(world.a.store_id)) for _ in range(2)]
    for event_id in dead:
        world.run_chain(event_id, fail_at="actions")
    log_in(page, console_url, world.token("operate", tenant=world.a))

    page.goto(f"{console_url}/dead")
    for event_id in dead:
        page.check(f"input[name=event_id][value='{event_id}']")
    page.click("#replay-selected")

    page.wait_for_url(f"{console_url}/dead")
    assert f"Replayed 2 event(s): {dead[0]}, {dead[1]}." in page.inner_text("p.flash")
    assert [world.event(e).status for e in dead] == ["done", "done"]


def test_a_dead_delivery_is_sent_again_from_its_destinations_page(world, console_url, page, monkeypatch):
    from destination_server import DestinationServer

    from kapta_vendus.destinations import sender

    sent: list[int] = []
    monkeypatch.setattr(dispatch, "enqueue_delivery", sent.append)
    admin = world.token("read", "operate", "admin")
    with DestinationServer(fail_times=1, fail_status=502) as server:
        made = world.admin(admin, f"/integrations/{world.a.id}/destinations", method="POST",
                           body={"name": "erp", "url": server.url, "events": ["document.issued"]}).get_json()
        server.secret = made["secret"]
        world.process(world.a, sale_envelope(world.a.store_id, sale_id="BROWSER-DEST"))
        (delivery_id,) = sent
        assert sender.deliver(world.db, world.settings.replace(delivery_horizon_hours=0.0001), delivery_id) == "dead"
        log_in(page, console_url, world.token("operate", tenant=world.a))

        page.goto(f"{console_url}/integrations/{world.a.id}")
        page.click("#destinations >> text=erp")
        row = page.locator(f"tr[data-delivery='{delivery_id}']")
        assert row.get_attribute("class") == "delivery-dead" and "502" in row.inner_text()
        row.locator("button.replay-delivery").click()

        page.wait_for_url(f"{console_url}/integrations/{world.a.id}/destinations/{made['id']}")
        assert f"Delivery {delivery_id} sent again." in page.inner_text("p.flash")
        assert sent == [delivery_id, delivery_id]
        assert sender.deliver(world.db, world.settings, delivery_id) == "delivered"
        page.reload()
        assert page.locator(f"tr.delivery-delivered[data-delivery='{delivery_id}']").count() == 1
