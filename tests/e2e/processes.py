"""Real processes for end-to-end tests: start, wait until ready, stop, and show their logs.

Each process runs in its own session (process group), so that stopping it also stops the
children it forked (gunicorn and Celery prefork workers), and so that a test can SIGKILL a worker
with its pool the way a crashed machine would. Output goes to a log file; the tail of every log
is added to a failed test's report (see ``tests/e2e/conftest.py``) and to every readiness error.

Ports are never guessed: servers are started on port 0, the kernel picks a free port, and the
port is read back from the process's own "listening on" line, so parallel runs cannot collide.

Processes are registered as they start and ``stop_all`` stops whatever is still running, so a
fixture's teardown never leaves anything behind, even when a test fails half-way.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import requests

T = TypeVar("T")

STARTED: list[ManagedProcess] = []  # every process started in this test session, in order


class ProcessError(AssertionError):
    """A process did not start, died early, or did not become ready in time."""


def wait_until(condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1,
               describe: Callable[[], str] | None = None) -> T:
    """Poll ``condition`` until it returns something truthy (returned), or fail after ``timeout``.

    ``describe`` explains the state at the deadline (the last value seen, a log tail...).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = condition()
        except (requests.RequestException, OSError) as exc:  # not up yet: keep polling
            value, last_error = None, exc
        if value:
            return value
        if time.monotonic() > deadline:
            detail = describe() if describe else ""
            error = f" (last error: {type(last_error).__name__}: {last_error})" if last_error else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{error}\n{detail}".rstrip())
        time.sleep(interval)


@dataclass
class ManagedProcess:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    cwd: str | None = None
    popen: subprocess.Popen | None = field(default=None, repr=False)
    started_at: float = 0.0
    stopped_at: float | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                list(self.argv), env=dict(self.env), cwd=self.cwd, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.started_at, self.stopped_at = time.time(), None
        STARTED.append(self)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def children(self) -> list[int]:
        """Pids of the direct children (a Celery prefork pool, gunicorn workers), from /proc."""
        pids: list[int] = []
        for task in Path(f"/proc/{self.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                pids.extend(int(p) for p in (task / "children").read_text().split())
        return pids

    def _signal_group(self, sig: int) -> None:
        # start_new_session made the process the leader of its own group: its pid is the group id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM to the whole group, SIGKILL what is left after ``timeout``; returns the exit code."""
        if self.popen is None or self.stopped_at is not None:
            return self.popen.returncode if self.popen else None
        began = time.monotonic()
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.popen.wait(timeout=10)
        self._reap_group(timeout=5)
        self.stopped_at = time.time()
        self._mark(f"stopped in {time.monotonic() - began:.1f}s", self.popen.returncode)
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL the whole group at once: no shutdown code runs, no message is acknowledged."""
        assert self.popen is not None
        self._signal_group(signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._reap_group(timeout=5)
        self.stopped_at = time.time()
        self._mark("killed", self.popen.returncode)

    def _reap_group(self, timeout: float) -> None:
        # Children (pool processes) may outlive the leader by a moment; never leave them behind.
        deadline = time.monotonic() + timeout
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._group_alive():
            self._signal_group(signal.SIGKILL)

    def _mark(self, what: str, code: int | None) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"\n===== {what} (exit code {code})\n".encode())

    # -- readiness ---------------------------------------------------------------------------------
    def _check_running(self) -> None:
        if not self.alive:
            code = self.popen.returncode if self.popen else None
            raise ProcessError(f"{self.name} exited early (exit code {code})\n{self.describe()}")

    def wait_for_http(self, url: str, *, timeout: float = 30.0, statuses: Sequence[int] = (200,)) -> None:
        """Until ``url`` answers one of ``statuses`` (and the process is still ours and running)."""

        def answered() -> bool:
            self._check_running()
            return requests.get(url, timeout=2).status_code in statuses

        wait_until(answered, timeout=timeout, what=f"{self.name} to answer {url}", describe=self.describe)

    def wait_for_log(self, pattern: str, *, timeout: float = 30.0, after: int = 0) -> re.Match:
        """Until the log (from byte ``after``) matches ``pattern``; returns the match."""
        regex = re.compile(pattern)

        def logged() -> re.Match | None:
            self._check_running()
            return regex.search(self.log_text(after))

        return wait_until(logged, timeout=timeout, what=f"{self.name} to log {pattern!r}", describe=self.describe)

    def wait_for_port(self, pattern: str, *, timeout: float = 30.0) -> int:
        """The port the process says it bound (started with port 0: the kernel picks a free one, no race).

        ``pattern`` has one group, the port, e.g. ``r"Listening at: http://127.0.0.1:(\\d+)"``.
        """
        return int(self.wait_for_log(pattern, timeout=timeout).group(1))

    # -- logs --------------------------------------------------------------------------------------
    def log_text(self, after: int = 0) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(after)
            return log.read().decode("utf-8", errors="replace")

    def describe(self, lines: int = 60) -> str:
        tail = "\n".join(self.log_text().splitlines()[-lines:])
        state = "running" if self.alive else f"exited ({self.popen.returncode if self.popen else 'never started'})"
        return f"----- {self.name} [{state}] log {self.log_path} (last {lines} lines)\n{tail}"


def start_process(name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path,
                  cwd: str | None = None) -> ManagedProcess:
    index = sum(1 for p in STARTED if p.name == name and p.log_path.parent == log_dir)
    log_path = log_dir / (f"{name}.log" if index == 0 else f"{name}-{index + 1}.log")
    return ManagedProcess(name, argv, env, log_path, cwd=cwd).start()


def stop_all(processes: Sequence[ManagedProcess] | None = None) -> None:
    """Stop every given (default: every started) process still running: all are asked at once."""
    running = [p for p in (STARTED if processes is None else processes) if p.stopped_at is None]
    for process in running:
        if process.popen is not None:
            process._signal_group(signal.SIGTERM)
    for process in reversed(running):
        process.stop()


def logs_since(moment: float, lines: int = 60) -> str:
    """The log tails of every process running at or after ``moment``: what a failed test shows."""
    relevant = [p for p in STARTED if p.stopped_at is None or p.stopped_at >= moment]
    return "\n\n".join(p.describe(lines) for p in relevant)
