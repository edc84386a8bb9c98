"""Insert-or-ignore and upsert statements for both supported databases (PostgreSQL, SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def dialect_insert(session: Session, model: Any):
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
