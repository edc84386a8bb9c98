"""Fixtures of the end-to-end tests: a Redis database of their own, and process logs on failure."""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from e2e_stack import require_redis
from processes import logs_since, stop_all

E2E_REDIS_URL = os.environ.get("KAPTA_TEST_E2E_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture(scope="module")
def e2e_redis_url() -> Iterator[str]:
    """A Redis database number used by nothing else (the integration tests use another one).

    A stack flushes it and its workers consume whatever is queued there, so two stacks must never
    share it: when two runs of this suite overlap on one machine, a lock file makes the second
    wait for the first stack to finish instead of taking its tasks and flushing its queues.
    """
    require_redis(E2E_REDIS_URL)
    with _exclusive(E2E_REDIS_URL, timeout=240):  # under the 300 s test timeout
        yield E2E_REDIS_URL


@contextmanager
def _exclusive(redis_url: str, *, timeout: float) -> Iterator[None]:
    parts = urlsplit(redis_url)
    name = re.sub(r"[^A-Za-z0-9]+", "-", f"{parts.hostname}-{parts.port}-{parts.path}").strip("-")
    path = Path(tempfile.gettempdir()) / f"kapta-vendus-e2e-{name}.lock"
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{redis_url} stayed in use by another e2e run for {timeout:.0f}s ({path})")
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def e2e_fernet_key() -> str:
    """A throwaway key for KAPTA_SECRET_KEYS: encrypts the stacks' API keys and webhook secrets."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@pytest.fixture(scope="session", autouse=True)
def _no_process_left_behind():
    yield
    stop_all()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[_STARTED_AT] = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        logs = logs_since(item.stash.get(_STARTED_AT, 0.0) - 1)
        if logs:
            report.sections.append(("e2e process logs", logs))


_STARTED_AT = pytest.StashKey[float]()
