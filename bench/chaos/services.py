"""Redis and PostgreSQL of the run's own, started by the suite on free ports in a temporary folder.

Fault runs stop, kill and restart these two; the machine's shared services are never touched.
Redis keeps nothing on disk (``--save ""``, no AOF), as in production: a restart loses every
message, and the inbox plus the sweeper must make up for it. PostgreSQL runs as the ``postgres``
user (it refuses to run as root), with ``fsync=off`` because durability across a machine crash is
not what is being tested here (a server crash is: ``pg_ctl stop -m immediate``).

``prefix`` runs every command through another program, e.g. ``ip netns exec kv-data`` to start
the services inside a network namespace (see ``bench/hosts``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.chaos.e2e import ManagedProcess, start_process

PG_USER = "postgres"


class ServiceError(RuntimeError):
    pass


def _as_postgres(argv: Sequence[str]) -> list[str]:
    # PostgreSQL refuses to run as root: switch user when the suite runs as root.
    return ["runuser", "-u", PG_USER, "--", *argv] if os.geteuid() == 0 else list(argv)


@dataclass
class OwnRedis:
    port: int
    log_dir: Path
    host: str = "127.0.0.1"
    prefix: Sequence[str] = ()
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> OwnRedis:
        argv = [*self.prefix, shutil.which("redis-server") or "redis-server", "--port", str(self.port),
                "--bind", self.host, "--save", "", "--appendonly", "no", "--protected-mode", "no"]
        self.process = start_process("redis", argv, dict(os.environ), self.log_dir)
        self.process.wait_for_log(r"Ready to accept connections", timeout=30)
        return self

    def restart_empty(self) -> None:
        """SIGKILL and start again: every queued message, RedBeat lock and counter is gone."""
        assert self.process is not None
        self.process.kill()
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@dataclass
class OwnPostgres:
    port: int
    log_dir: Path
    host: str = "127.0.0.1"
    prefix: Sequence[str] = ()
    data_dir: Path = field(init=False)
    _root: Path = field(init=False)

    def __post_init__(self) -> None:
        # A folder the postgres user can enter (the log folder may sit under root's home).
        self._root = Path(tempfile.mkdtemp(prefix="kapta-chaos-pg-"))
        self.data_dir = self._root / "data"
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_USER)
            os.chown(self._root, entry.pw_uid, entry.pw_gid)
        os.chmod(self._root, 0o755)  # noqa: S103 - postgres must enter it; it holds no secret

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 120) -> None:
        result = subprocess.run([*self.prefix, *_as_postgres(argv)], capture_output=True, text=True,
                                timeout=timeout, cwd=self._root)
        if result.returncode != 0:
            raise ServiceError(f"{' '.join(argv[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")

    def init(self) -> OwnPostgres:
        self._run(shutil.which("initdb") or "initdb", "-D", str(self.data_dir), "-A", "trust", "-U", PG_USER,
                  "--no-sync", "-E", "UTF8")
        if self.host != "127.0.0.1":  # other namespaces of the same private subnet (bench/hosts)
            with (self.data_dir / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.host}/24 trust\n")
        return self

    def create_database(self, name: str = "kapta") -> str:
        """A database migrated to head; it goes with the cluster, so nothing ever drops it."""
        from kapta_vendus.db import migrate

        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        url = f"postgresql+psycopg://postgres@{self.host}:{self.port}/{name}"
        migrate.upgrade(url)
        return url

    def start(self) -> None:
        # fsync=off only skips flushing to the disk: a killed server loses nothing the kernel holds.
        # synchronous_commit must stay on: off, an immediate stop loses the last commits, including
        # events the receiver had already answered 202 for (a first run of this suite saw exactly that).
        options = (f"-p {self.port} -k {self._root} -c listen_addresses={self.host} -c fsync=off "
                   "-c max_connections=300")
        self._run(shutil.which("pg_ctl") or "pg_ctl", "-D", str(self.data_dir), "-o", options,
                  "-l", str(self._root / "postgres.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run(shutil.which("pg_ctl") or "pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.running():
            with contextlib.suppress(ServiceError):
                self.stop("immediate")
        log = self._root / "postgres.log"
        if log.exists():
            self.log_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(log, self.log_dir / "postgres.log")
        shutil.rmtree(self._root, ignore_errors=True)

