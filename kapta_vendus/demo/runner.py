"""``kapta-vendus demo``: start the simulator, the receiver, a worker and beat; send a realistic
mix of signed events; print what was issued; stop everything.

On the embedded default it uses a fresh temporary data directory (SQLite state and broker), so it
needs no server and leaves nothing behind. Pointed at PostgreSQL and Redis (KAPTA_DATABASE_URL,
KAPTA_BROKER_URL) it runs the same way against them, under a uniquely named integration.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests

from kapta_vendus.config import VARIABLES, Settings

FIXTURE = Path(__file__).with_name("fixture.yaml")
API_KEY = "demo-key"


class DemoError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAPTA_")}
    for var in VARIABLES:
        value = getattr(settings, var.setting)
        env[var.env] = ",".join(value) if isinstance(value, tuple) else str(value)
    env.update(extra)
    return env


class Processes:
    """Child processes with their logs in the data dir; stopped in reverse order, always."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir, self.env, self.children = log_dir, env, []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop_all
        child = subprocess.Popen([sys.executable, "-m", "kapta_vendus", *args], env=self.env, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append((name, child, log))
        return child

    def check_alive(self) -> None:
        for name, child, _ in self.children:
            if child.poll() is not None:
                raise DemoError(f"{name} exited with {child.returncode}; see {self.log_dir / (name + '.log')}")

    def stop_all(self) -> None:
        for _, child, _ in reversed(self.children):
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for _, child, log in reversed(self.children):
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            log.close()


def wait_http(url: str, processes: Processes, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive()
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise DemoError(f"{url} did not answer within {timeout:.0f}s")


@contextmanager
def demo_settings(settings: Settings, keep: bool):
    """Embedded default: a fresh temporary data dir. Otherwise the configured servers, with beat's
    schedule under a prefix of its own (removed afterwards, see ``clean_up``)."""
    if not settings.embedded:
        yield settings.replace(beat_key_prefix=f"kapta-demo-{secrets.token_hex(4)}")
        return
    data_dir = tempfile.mkdtemp(prefix="kapta-vendus-demo-")
    # Removed only after a demo that worked: a failure's message points at the logs in it.
    yield Settings(data_dir=data_dir, secret_keys=settings.secret_keys, log_level="WARNING",
                   sweep_interval=5, sweep_grace=10)
    if not keep:
        shutil.rmtree(data_dir, ignore_errors=True)


def start_stack(stack: ExitStack, settings: Settings) -> tuple[str, str, Processes]:
    from kapta_vendus.db import migrate
    from kapta_vendus.integrations.crypto import key_ring
    from kapta_vendus.tasks.embedded_broker import declare_queues

    migrate.upgrade(settings.database_url)
    key_ring(settings)  # create the embedded key file before several processes race to do it
    declare_queues(settings.broker_url)  # the same for the embedded broker's tables and queues
    log_dir = Path(settings.data_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = Processes(log_dir, process_env(settings))
    stack.callback(processes.stop_all)
    sim_port, web_port = free_port(), free_port()
    processes.start("simulator", "simulator", "--port", str(sim_port), "--fixture", str(FIXTURE), "--quiet")
    processes.start("worker", "worker", "--concurrency", "2", "--without-gossip", "--without-mingle")
    processes.start("beat", "beat")
    processes.start("receiver", "serve", "--port", str(web_port), "--workers", "1")
    sim_url, web_url = f"http://127.0.0.1:{sim_port}/ws/v1.1", f"http://127.0.0.1:{web_port}"
    wait_http(f"http://127.0.0.1:{sim_port}/_sim/stats", processes)
    wait_http(f"{web_url}/healthz", processes)
    return sim_url, web_url, processes


def create_demo_integration(settings: Settings, sim_url: str) -> tuple[str, str, list[int]]:
    from kapta_vendus.db.session import database_for
    from kapta_vendus.integrations.discover import discover_mapping
    from kapta_vendus.integrations.service import create_integration
    from kapta_vendus.vendus import VendusClient

    with VendusClient(sim_url, API_KEY) as client:
        stores = [int(s["id"]) for s in client.list_stores()]
        mapping = discover_mapping(client, stores, "normal")
    with database_for(settings.database_url).unit_of_work() as session:
        integration, secret = create_integration(
            session, settings, name=f"demo-{secrets.token_hex(3)}", vendus_url=sim_url, api_key=API_KEY,
            stores=stores, mode="normal", config={"mapping": mapping})
        return integration.id, secret, stores


def clean_up(settings: Settings, integration_id: str | None) -> list[str]:
    """After a demo on real servers: nothing of it may keep running once the simulator is gone.

    The integration is deleted (never polled again; its records stay, as for any integration: the
    documents it issued are fiscal history, even in the simulator) and beat's schedule keys under the
    demo's own prefix are removed from Redis. Returns what was done, for the operator.
    """
    done = []
    if integration_id is not None:
        from kapta_vendus.db.session import database_for
        from kapta_vendus.integrations.lifecycle import delete_integration
        from kapta_vendus.integrations.service import get_integration

        with database_for(settings.database_url).unit_of_work() as session:
            delete_integration(session, get_integration(session, integration_id))
        done.append(f"integration {integration_id} deleted (never polled again)")
    if settings.uses_redis:
        import redis

        client = redis.Redis.from_url(settings.broker_url)
        try:
            keys = list(client.scan_iter(match=f"{settings.beat_key_prefix}*", count=500))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
        done.append(f"{len(keys)} beat schedule key(s) removed")
    return done
