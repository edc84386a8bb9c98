"""Shared fixtures.

Integration tests use real PostgreSQL and Redis. Their URLs come from KAPTA_TEST_DATABASE_URL
(an admin URL: the suite creates its own database) and KAPTA_TEST_REDIS_URL; a test that needs
one that is not reachable is skipped locally, but CI sets KAPTA_REQUIRE_SERVICES=1 so that a
missing service fails the run instead of silently skipping.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kapta_vendus.config import Settings, set_settings

PG_ADMIN_URL = os.environ.get("KAPTA_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("KAPTA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("KAPTA_REQUIRE_SERVICES") == "1"
TEST_FERNET_KEY = "n9Oq0u0n8k3Yb7l7a4sH9yTqV1cRkJmZ2pW5xE6dA0s="


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} not reachable: {type(exc).__name__}: {exc}"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _forget_settings():
    yield
    set_settings(None)


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Embedded-default settings isolated in a temporary data dir."""
    return Settings(data_dir=str(tmp_path / "var"), secret_keys=(TEST_FERNET_KEY,),
                    receiver_cache_ttl=0)  # tests change integrations and push at once


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """The admin URL, once PostgreSQL is known to answer: for tests that create their own database."""
    admin = create_engine(PG_ADMIN_URL)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        _unavailable("PostgreSQL", exc)
    finally:
        admin.dispose()
    return PG_ADMIN_URL


@pytest.fixture(scope="session")
def pg_database_url():
    """A fresh PostgreSQL database for this test session, migrated to head."""
    from kapta_vendus.db import migrate

    name = f"kapta_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        _unavailable("PostgreSQL", exc)
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    from kapta_vendus.db.session import _databases

    for db_url, db in list(_databases.items()):
        if db_url == url:
            db.dispose()
            _databases.pop(db_url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_db(pg_database_url):
    """The session's PostgreSQL Database, emptied after each test."""
    from kapta_vendus.db.models import Base
    from kapta_vendus.db.session import database_for

    db = database_for(pg_database_url)
    yield db
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def sqlite_db(tmp_path):
    from kapta_vendus.db import migrate
    from kapta_vendus.db.session import Database

    url = f"sqlite:///{tmp_path}/state.sqlite3"
    migrate.upgrade(url)
    db = Database(url)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request):
    """Run a test on both supported databases."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


@pytest.fixture
def redis_url():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:
        _unavailable("Redis", exc)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()
