"""`kapta-vendus import` as a process: killed halfway and resumed, and 100k documents in constant memory.

The simulator runs as its own process (its documents are not in the importer's memory) and is
seeded through ``/_sim/bulk``. Peak memory is the import process's own ``ru_maxrss``, read with
``os.wait4`` when it exits.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from e2e_stack import API_KEY, CLI, REPO, Stack, reconcile_stack
from processes import wait_until
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Document, Event, SyncCursor

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

COMMAND = [CLI] if isinstance(CLI, str) else list(CLI)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_admin_url, e2e_redis_url, e2e_fernet_key) -> Iterator[Stack]:
    # A Redis database of its own (see e2e_stack.RECONCILE_REDIS_URL).
    with reconcile_stack(tmp_path_factory, pg_admin_url, e2e_fernet_key, "e2e-import") as running:
        yield running


def today(stack: Stack) -> date:
    return date.fromisoformat(stack.http.get(f"{stack.sim_url}/_sim/clock", timeout=10).json()["now"][:10])


def bulk(stack: Stack, n: int, first: date, last: date) -> None:
    reply = stack.http.post(f"{stack.sim_url}/_sim/bulk", json={
        "api_key": API_KEY, "n": n, "start_date": first.isoformat(), "end_date": last.isoformat()}, timeout=120)
    assert reply.status_code in (200, 201), reply.text


def count(stack: Stack, model, integration_id: str) -> int:
    with Session(stack.engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(model.integration_id == integration_id))


def checkpoint(stack: Stack, integration_id: str) -> dict:
    with Session(stack.engine) as session:
        position = session.scalar(select(SyncCursor.position).where(
            SyncCursor.integration_id == integration_id, SyncCursor.resource == "import:documents"))
    return position or {}


def new_integration(stack: Stack, name: str) -> str:
    out = stack.cli("integrations", "create", "--name", name, "--vendus-url", f"{stack.sim_url}/ws/v1.1",
                    "--vendus-api-key", API_KEY, "--store", str(stack.store_id)).stdout
    return re.search(r"integration id:\s+(\S+)", out).group(1)


def import_with_peak_rss(stack: Stack, *args: str) -> tuple[dict, int]:
    """Run ``kapta-vendus import ... --json``; returns its summary and its peak RSS in KiB."""
    with open(stack.log_dir / "import-rss.log", "ab") as errors:
        process = subprocess.Popen([*COMMAND, "import", *args, "--json"], env=stack.env(), cwd=REPO,
                                   stdout=subprocess.PIPE, stderr=errors)
        out = process.stdout.read()
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait
    assert process.returncode == 0, out.decode()
    return json.loads(out), usage.ru_maxrss


def test_an_import_killed_halfway_resumes_with_no_duplicates_and_no_gaps(stack: Stack):
    end = today(stack) - timedelta(days=500)
    first = end - timedelta(days=99)
    bulk(stack, 20_000, first, end)
    stack.set_faults({"rules": [{"paths": ["documents"], "slow_page_ms": 150}]})
    args = ["import", "--integration", stack.integration_id, "--since", first.isoformat(), "--until", end.isoformat()]
    process = stack._start("import", *args, "--json")
    try:
        wait_until(lambda: checkpoint(stack, stack.integration_id).get("page", 0) >= 5, timeout=60,
                   what="five committed pages", describe=process.describe)
        process.kill()  # SIGKILL: no cleanup, no last checkpoint
    finally:
        process.stop()
        stack.clear_faults()
    killed_at = checkpoint(stack, stack.integration_id)
    assert 5 <= killed_at["page"] < 20 and not killed_at["done"]
    assert count(stack, Document, stack.integration_id) >= killed_at["page"] * 1000

    summary = json.loads(stack.cli(*args, "--json").stdout)

    (report,) = summary["documents"]
    assert report["complete"] and report["resumed_from_page"] == killed_at["page"]
    assert report["documents"] == 20_000 - killed_at["page"] * 1000
    assert report["by_type_status"] == {"FT N": 20_000}
    assert count(stack, Document, stack.integration_id) == 20_000
    assert count(stack, Event, stack.integration_id) == 20_000
    with Session(stack.engine) as session:
        ids = session.execute(select(func.min(Document.vendus_id), func.max(Document.vendus_id),
                                     func.count(func.distinct(Document.vendus_id)))
                              .where(Document.integration_id == stack.integration_id)).one()
        statuses = set(session.scalars(select(Event.status).where(Event.integration_id == stack.integration_id)))
    assert ids[2] == 20_000 and ids[1] - ids[0] + 1 == 20_000  # bulk ids are consecutive: no gap
    assert statuses == {"imported"}


def test_100k_documents_import_in_constant_memory(stack: Stack):
    end = today(stack) - timedelta(days=1)
    first = end - timedelta(days=99)  # 1,000 documents a day
    bulk(stack, 100_000, first, end)
    small_id = new_integration(stack, "rss-10k")
    large_id = new_integration(stack, "rss-100k")

    small, small_rss = import_with_peak_rss(stack, "--integration", small_id, "--since", first.isoformat(),
                                            "--until", (first + timedelta(days=9)).isoformat())
    large, large_rss = import_with_peak_rss(stack, "--integration", large_id, "--since", first.isoformat(),
                                            "--until", end.isoformat())

    assert small["documents"][0]["documents"] == 10_000
    assert large["documents"][0]["documents"] == 100_000 and large["documents"][0]["complete"]
    assert count(stack, Document, large_id) == 100_000
    # Ten times the documents, (about) the same memory: pages are streamed, nothing accumulates.
    assert large_rss - small_rss < 40 * 1024, (small_rss, large_rss)
    assert large_rss < 300 * 1024, large_rss
