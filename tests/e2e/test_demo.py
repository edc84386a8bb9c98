"""The README's first command: `kapta-vendus demo` on the embedded default, end to end."""

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_demo_issues_every_document_type_and_exits_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAPTA_")}
    env["COLUMNS"] = "200"
    result = subprocess.run([sys.executable, "-m", "kapta_vendus", "demo"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    issued = {m.group(1) for line in rows for m in [re.search(r"│ (FR|FS|FT|RG|NC) \d\dP\d{4}/\d+ ", line)] if m}
    assert issued == {"FR", "FS", "FT", "RG", "NC"}, result.stdout
    assert len(rows) == 9 and all("│ done " in line for line in rows), result.stdout
    # A services sale over 100 € is an FR (CIVA 40(1)); a named customer without a NIF gets an FR.
    assert any("services sale over 100" in line and "│ FR " in line for line in rows), result.stdout
    assert any("named customer, no NIF" in line and "│ FR " in line for line in rows), result.stdout
    # The Madeira shop has its own register and series.
    assert any("Madeira" in line and "FS 02P" in line for line in rows), result.stdout
    # Nothing left behind: the embedded run used a temporary data dir.
    assert not (tmp_path / "var").exists()


def test_demo_on_postgresql_and_redis_leaves_nothing_running(tmp_path, pg_db, pg_database_url, e2e_redis_url):
    """On real servers the demo's integration is deleted (never polled again) and its beat keys removed."""
    import redis
    from sqlalchemy import select

    from kapta_vendus.db.models import Event, Integration

    client = redis.Redis.from_url(e2e_redis_url)
    client.flushdb()
    client.set("redbeat::lock", "someone else's beat")  # a deployment's own beat keys stay untouched
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAPTA_")}
    env.update(COLUMNS="200", KAPTA_DATABASE_URL=pg_database_url, KAPTA_BROKER_URL=e2e_redis_url,
               KAPTA_DATA_DIR=str(tmp_path / "var"), KAPTA_SWEEP_INTERVAL="5", KAPTA_SWEEP_GRACE="10")

    result = subprocess.run([sys.executable, "-m", "kapta_vendus", "demo"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=240)

    assert result.returncode == 0, result.stdout + result.stderr
    removed = re.search(r"clean-up: integration \S+ deleted \(never polled again\); (\d+) beat schedule key",
                        result.stdout)
    assert removed and int(removed.group(1)) > 0, result.stdout  # beat did write under the demo's own prefix
    with pg_db.unit_of_work() as session:
        (demo,) = session.scalars(select(Integration)).all()
        assert demo.name.startswith("demo-") and demo.status == "deleted"
        assert session.scalars(select(Event.status).where(Event.integration_id == demo.id)).all()
    keys = {k.decode() for k in client.keys("*")}
    assert not [k for k in keys if k.startswith("kapta-demo-")], keys
    assert "redbeat::lock" in keys
    client.flushdb()
    client.close()
