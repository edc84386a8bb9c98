"""A Vendus outage longer than the old retry budget is waited out, not turned into dead events.

The simulator (persisting to a file, on a fixed port) is stopped while sales keep arriving, for
longer than the retries in place allow (``KAPTA_TASK_MAX_RETRIES=1``: a few seconds; before, 9
attempts over ~3.7 minutes ended every event dead). The retry horizon is a setting, kept longer
than the outage here. Then the simulator starts again: every event resumes by itself and ends
``done`` with one document, none ``dead``, and no stale ``last_error``.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator

import e2e_events as ev
import pytest
import redis
from e2e_stack import API_KEY, Stack, scratch_database
from processes import stop_all, wait_until
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Alert, Event

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]

ENV = {"KAPTA_TASK_MAX_RETRIES": "1", "KAPTA_RETRY_HORIZON": "900", "KAPTA_RESUME_INTERVAL": "1",
       "KAPTA_SWEEP_INTERVAL": "5", "KAPTA_VENDUS_CONNECT_TIMEOUT": "1", "KAPTA_VENDUS_TIMEOUT": "5"}
OUTAGE_SECONDS = 25  # longer than the old budget at these settings (1 retry in place: ~2-4 s)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OutageStack(Stack):
    sim_port: int = 0

    def launch_simulator(self):
        # A fixed port and a state file: the restarted simulator is the same Vendus account.
        self.sim_port = self.sim_port or _free_port()
        self.simulator = self._start("simulator", "simulator", "--port", str(self.sim_port), "--api-key", API_KEY,
                                     "--db", str(self.log_dir / "vendus.sqlite3"), "--quiet")
        return self.simulator


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_admin_url, e2e_redis_url, e2e_fernet_key) -> Iterator[OutageStack]:
    with scratch_database(pg_admin_url) as database_url:
        running = OutageStack(tmp_path_factory.mktemp("e2e-outage"), database_url, e2e_redis_url, e2e_fernet_key,
                              extra_env=dict(ENV))
        running.flush_redis()
        try:
            running.launch_simulator()
            receiver = running.launch_receiver()
            running.await_simulator()
            running.create_integration(f"outage-{uuid.uuid4().hex[:6]}")
            running.receiver, running.receiver_url = receiver, running.await_receiver(receiver)
            running.start_worker()
            running.start_beat()
            yield running
        finally:
            running.stop()
            redis.Redis.from_url(e2e_redis_url).flushdb()


def _statuses(stack: Stack) -> dict[str, int]:
    with Session(stack.engine) as session:
        return dict(session.execute(select(Event.status, func.count()).group_by(Event.status)).all())


def _down_alerts(stack: Stack) -> int:
    with Session(stack.engine) as session:
        return session.scalar(select(func.count(Alert.id)).where(Alert.kind == "vendus_down"))


def test_events_wait_out_an_outage_longer_than_the_old_budget_and_resume_by_themselves(stack):
    before = stack.push(ev.sale(stack.store_id))
    assert before.status_code == 202
    stack.wait_done(before.json()["id"], timeout=60)

    stop_all([stack.simulator])  # Vendus goes away
    sales = [ev.sale(stack.store_id) for _ in range(6)]
    for envelope in sales:
        assert stack.push(envelope).status_code == 202
    started = time.monotonic()
    wait_until(lambda: _statuses(stack).get("waiting", 0) == len(sales), what="every event to wait", timeout=60)
    wait_until(lambda: _down_alerts(stack) == 1, what="the outage to be noticed once", timeout=60)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - started)))
    assert _statuses(stack).get("dead", 0) == 0  # far beyond the old budget: still waiting

    stack.launch_simulator()  # Vendus is back, same account, same port
    stack.await_simulator()
    for envelope in sales:
        event = stack.wait_finished(envelope["id"], timeout=180)
        assert (event.status, event.last_error) == ("done", None), (event.status, event.last_error)
        assert len(stack.sim_documents(envelope["data"]["sale_id"])) == 1
    assert _statuses(stack).get("dead", 0) == 0
    wait_until(lambda: _down_alerts(stack) == 0, what="the recovery to be recorded", timeout=30)
