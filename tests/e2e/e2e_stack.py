"""The whole service as separate processes: simulator, receiver, Celery worker and beat.

The stack gets its own PostgreSQL database and its own Redis database number, passed to every
process through ``KAPTA_*`` variables (the test process's own ``KAPTA_*`` are never inherited).
Tests talk to it the way operators and senders do: signed HTTP pushes, the CLI, the simulator's
API and ``/_sim`` control endpoints, and read-only queries of the state database.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from processes import ManagedProcess, start_process, stop_all, wait_until
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Document, Event, Issuance

FINISHED = ("done", "rejected", "dead")
# The console script operators run, next to this interpreter (else the module, same code).
_SCRIPT = Path(sys.executable).parent / "kapta-vendus"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "kapta_vendus"]
REPO = str(Path(__file__).resolve().parents[2])
API_KEY = "e2e-key"
# A Redis database of its own for the reconcile stacks: beat runs there, and its messages must reach
# that stack's worker only, whatever other stack (another module, another test run on the machine)
# uses the shared e2e number.
RECONCILE_REDIS_URL = os.environ.get("KAPTA_TEST_RECONCILE_REDIS_URL", "redis://127.0.0.1:6379/12")


def require_redis(url: str) -> None:
    """Skip the test when Redis does not answer at ``url`` (fail it where KAPTA_REQUIRE_SERVICES=1)."""
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("KAPTA_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis not reachable: {exc}")
        pytest.skip(f"Redis not reachable: {exc}")
    finally:
        client.close()


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one stack, migrated to head, dropped afterwards."""
    from kapta_vendus.db import migrate

    name = f"kapta_e2e_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Stack:
    log_dir: Path
    database_url: str
    redis_url: str
    fernet_key: str
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[ManagedProcess] = field(default_factory=list)
    simulator: ManagedProcess | None = None
    receiver: ManagedProcess | None = None
    worker: ManagedProcess | None = None
    beat: ManagedProcess | None = None
    sim_url: str = ""
    receiver_url: str = ""
    store_id: int = 0
    account_id: str = ""
    integration_id: str = ""
    secret: str = ""

    def __post_init__(self) -> None:
        self.engine: Engine = create_engine(self.database_url, pool_size=2)
        self.redis = redis.Redis.from_url(self.redis_url)
        self.http = requests.Session()

    # -- environment and processes ------------------------------------------------------------------
    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAPTA_")}
        env.update({
            "KAPTA_DATABASE_URL": self.database_url,
            "KAPTA_BROKER_URL": self.redis_url,
            "KAPTA_SECRET_KEYS": self.fernet_key,
            "KAPTA_DATA_DIR": str(self.log_dir / "var"),
            "KAPTA_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "400",  # rich wraps CLI output at 80 columns without a terminal
            "NO_COLOR": "1",
        })
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def _start(self, name: str, *args: str, **env: str) -> ManagedProcess:
        process = start_process(name, [*CLI, *args], self.env(**env), self.log_dir, cwd=REPO)
        self.processes.append(process)
        return process

    # Each process is launched first and awaited later, so that a stack boots its processes in parallel.
    def launch_simulator(self) -> ManagedProcess:
        # Port 0: the kernel picks a free port and the process prints it, so two runs never collide.
        self.simulator = self._start("simulator", "simulator", "--port", "0", "--api-key", API_KEY, "--quiet")
        return self.simulator

    def await_simulator(self) -> None:
        port = self.simulator.wait_for_port(r"simulator listening on http://127\.0\.0\.1:(\d+)/")
        self.sim_url = f"http://127.0.0.1:{port}"
        self.simulator.wait_for_http(f"{self.sim_url}/_sim/stats")
        self.store_id = int(self.sim_get("stores/")[0]["id"])
        self.account_id = str(self.sim_get("account")["id"])

    def launch_receiver(self, **env: str) -> ManagedProcess:
        return self._start("receiver", "serve", "--port", "0", "--workers", "2", **env)

    @staticmethod
    def await_receiver(process: ManagedProcess) -> str:
        port = process.wait_for_port(r"Listening at: http://127\.0\.0\.1:(\d+)")
        url = f"http://127.0.0.1:{port}"
        process.wait_for_http(f"{url}/healthz")
        return url

    def start_receiver(self, **env: str) -> tuple[ManagedProcess, str]:
        process = self.launch_receiver(**env)
        return process, self.await_receiver(process)

    def launch_worker(self) -> ManagedProcess:
        assert self.worker is None or not self.worker.alive, "a worker is already running"
        name = f"e2e-{uuid.uuid4().hex[:6]}@%h"
        # Without mingle and gossip: a second less to start, and nothing to learn from other workers.
        self.worker = self._start("worker", "worker", "--concurrency", "2", "--pool", "prefork", "-n", name,
                                  "--without-mingle", "--without-gossip")
        return self.worker

    def await_worker(self) -> None:
        self.worker.wait_for_log(r"\bready\.")

    def start_worker(self) -> ManagedProcess:
        self.launch_worker()
        self.await_worker()
        return self.worker

    def start_beat(self) -> ManagedProcess:
        assert self.beat is None or not self.beat.alive, "beat is already running"
        self.beat = self._start("beat", "beat")
        self.beat.wait_for_log(r"beat: Starting")
        return self.beat

    def ensure(self, *, worker: bool, beat: bool) -> None:
        """Bring the worker and beat to the wanted state (running or stopped), whatever came before."""
        for process, wanted, start in ((self.beat, beat, self.start_beat), (self.worker, worker, self.start_worker)):
            running = process is not None and process.alive
            if running and not wanted:
                process.stop()
            elif wanted and not running:
                start()

    def stop(self) -> None:
        self.http.close()  # first: gunicorn would wait for kept-alive connections before it exits
        stop_all(self.processes)
        self.redis.close()
        self.engine.dispose()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([*CLI, *args], env=self.env(), cwd=REPO, capture_output=True, text=True,
                                timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"kapta-vendus {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def create_integration(self, name: str) -> None:
        out = self.cli("integrations", "create", "--name", name, "--vendus-url", f"{self.sim_url}/ws/v1.1",
                       "--vendus-api-key", API_KEY, "--store", str(self.store_id)).stdout
        ident = re.search(r"integration id:\s+(\S+)", out)
        secret = re.search(r"webhook secret:\s+(whsec_\S+)", out)
        assert ident and secret, f"cannot read the id and secret from:\n{out}"
        self.integration_id, self.secret = ident.group(1), secret.group(1)

    def flush_redis(self) -> None:
        self.redis.flushdb()

    # -- the receiver ---------------------------------------------------------------------------------
    def push(self, envelope: dict[str, Any], *, url: str | None = None) -> requests.Response:
        from kapta_vendus.receiver.sender import send_event

        return send_event(url or self.receiver_url, self.integration_id, self.secret, envelope, session=self.http)

    def post_raw(self, body: bytes, headers: dict[str, str], *, integration_id: str | None = None) -> requests.Response:
        return self.http.post(f"{self.receiver_url}/v1/integrations/{integration_id or self.integration_id}/events",
                              data=body, headers=headers, timeout=10)

    # -- the simulator ----------------------------------------------------------------------------------
    def sim_get(self, path: str, **params: Any) -> Any:
        reply = self.http.get(f"{self.sim_url}/ws/v1.1/{path}", params=params, auth=(API_KEY, ""), timeout=10)
        reply.raise_for_status()
        return reply.json()

    def sim_post(self, path: str, body: dict[str, Any]) -> Any:
        reply = self.http.post(f"{self.sim_url}/ws/v1.1/{path}", json=body, auth=(API_KEY, ""), timeout=10)
        assert reply.status_code == 201, reply.text
        return reply.json()

    def ref(self, reference: str) -> str:
        """Our external reference for ``<sale_id>[#suffix]``: integration tag, store and sale id."""
        from kapta_vendus.pipeline.references import sale_reference

        sale_id, sep, suffix = reference.partition("#")
        return sale_reference(self.integration_id, self.store_id, sale_id) + sep + suffix

    def sim_documents(self, external_reference: str) -> list[dict[str, Any]]:
        """Documents of the account carrying ``external_reference`` as written, or as our reference for
        that sale (``ref``): tests name a sale by its id, documents made elsewhere by any text."""
        found = {d["id"]: d for ref in (external_reference, self.ref(external_reference))
                 for d in self._sim_documents(ref)}
        return [found[i] for i in sorted(found)]

    def _sim_documents(self, external_reference: str) -> list[dict[str, Any]]:
        reply = self.http.get(f"{self.sim_url}/ws/v1.1/documents/", auth=(API_KEY, ""), timeout=10,
                              params={"external_reference": external_reference, "per_page": 100})
        if reply.status_code == 404:  # Vendus answers "No data" instead of an empty list
            return []
        reply.raise_for_status()
        return [d for d in reply.json() if d.get("external_reference") == external_reference]

    def sim_stats(self) -> dict[str, Any]:
        reply = self.http.get(f"{self.sim_url}/_sim/stats", timeout=10)
        reply.raise_for_status()
        return reply.json()

    def sim_count(self, route: str = "POST documents") -> int:
        """Requests the account made to ``route`` (e.g. "POST documents"), as the simulator saw them."""
        account = self.sim_stats()["accounts"].get(self.account_id, {})
        return int(account.get("by_route", {}).get(route, 0))

    def set_faults(self, config: dict[str, Any]) -> dict[str, Any]:
        reply = self.http.post(f"{self.sim_url}/_sim/faults", json=config, timeout=10)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def fault_hits(self) -> list[int]:
        """How often each configured fault rule fired. A latency rule counts as soon as the request
        arrives, before it sleeps: a hit means the request is inside the simulator."""
        reply = self.http.get(f"{self.sim_url}/_sim/faults", timeout=10)
        reply.raise_for_status()
        return [int(rule["hits"]) for rule in reply.json()["rules"]]

    def clear_faults(self) -> None:
        self.set_faults({})

    # -- the state database --------------------------------------------------------------------------
    def event(self, external_id: str) -> Event | None:
        with Session(self.engine) as session:
            return session.scalar(select(Event).where(Event.integration_id == self.integration_id,
                                                      Event.external_id == external_id))

    def events_count(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(Event))

    def documents(self, *, external_reference: str | None = None, vendus_id: int | None = None) -> list[Document]:
        query = select(Document).where(Document.integration_id == self.integration_id).order_by(Document.id)
        if external_reference is not None:
            query = query.where(Document.external_reference.in_([external_reference, self.ref(external_reference)]))
        if vendus_id is not None:
            query = query.where(Document.vendus_id == vendus_id)
        with Session(self.engine) as session:
            return list(session.scalars(query))

    def issuances(self, event_id: int) -> list[Issuance]:
        with Session(self.engine) as session:
            return list(session.scalars(select(Issuance).where(Issuance.event_id == event_id)))

    def wait_finished(self, external_id: str, timeout: float = 30.0) -> Event:
        """Until the event ends (done, rejected or dead); the caller asserts which."""

        def finished() -> Event | None:
            event = self.event(external_id)
            return event if event is not None and event.status in FINISHED else None

        return wait_until(finished, timeout=timeout, what=f"event {external_id} to finish",
                          describe=lambda: self.explain(external_id))

    def wait_done(self, external_id: str, timeout: float = 30.0) -> Event:
        event = self.wait_finished(external_id, timeout)
        assert event.status == "done", f"event {external_id} ended {event.status}: {event.last_error}\n" + \
            self.explain(external_id)
        return event

    def show_event(self, event_id: int) -> dict[str, Any]:
        return json.loads(self.cli("events", "show", str(event_id), "--json").stdout)

    def explain(self, external_id: str) -> str:
        event = self.event(external_id)
        if event is None:
            return f"event {external_id}: not in the inbox"
        return (f"event {external_id} (#{event.id}): status={event.status} step={event.current_step} "
                f"attempts={event.attempts} last_error={event.last_error}")


def reconcile_stack(tmp_path_factory: pytest.TempPathFactory, admin_url: str, fernet_key: str,
                    name: str) -> AbstractContextManager[Stack]:
    """A ``running_stack`` on ``RECONCILE_REDIS_URL``, logging to a fresh ``name`` folder."""
    return running_stack(tmp_path_factory.mktemp(name), admin_url, RECONCILE_REDIS_URL, fernet_key, name=name)


@contextmanager
def running_stack(log_dir: Path, admin_url: str, redis_url: str, fernet_key: str, *,
                  extra_env: dict[str, str] | None = None, name: str = "e2e") -> Iterator[Stack]:
    """Database, Redis DB, simulator, receiver and one worker, all stopped and cleaned afterwards."""
    with scratch_database(admin_url) as database_url:
        stack = Stack(log_dir, database_url, redis_url, fernet_key, extra_env=dict(extra_env or {}))
        stack.flush_redis()
        try:
            stack.launch_simulator()
            receiver = stack.launch_receiver()
            stack.launch_worker()
            stack.await_simulator()
            stack.create_integration(f"{name}-{uuid.uuid4().hex[:6]}")
            stack.receiver, stack.receiver_url = receiver, stack.await_receiver(receiver)
            stack.await_worker()
            yield stack
        finally:
            stack.stop()
            # Stopped first, so no worker redelivers or beat writes while Redis is emptied.
            redis.Redis.from_url(redis_url).flushdb()
