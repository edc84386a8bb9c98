"""Hot-path statements built once and run with their row as parameters.

Building an INSERT with ``.values(...)`` for every row costs more CPU than running it: SQLAlchemy
makes a new statement and computes its cache key each time. Measured on PostgreSQL over 2,000
inserts of an issuance key: 1.04 ms of CPU each with ``.values()``, 0.37 ms built once (the VALUES
and SET clauses then come from the parameters' keys). Several rows go in one multi-row INSERT: four
rows cost 0.33 ms against 0.57 to 0.80 ms as an executemany (which psycopg runs as a pipeline).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table, bindparam, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


@functools.cache
def insert_unless_present(target: Any, dialect: str, conflict: tuple[str, ...] = (), returning: str = ""):
    """``INSERT … ON CONFLICT (conflict) DO NOTHING`` into a table or a model, returning nothing,
    one column (its name), or the model's new object (``returning="object"``)."""
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(target).on_conflict_do_nothing(index_elements=list(conflict) or None)
    if returning == "object":
        return statement.returning(target)
    if returning:
        columns = target.c if isinstance(target, Table) else target.__table__.c
        return statement.returning(columns[returning])
    return statement


@functools.cache
def update_by_id(table: Table):
    """``UPDATE table SET <the parameters' columns> WHERE id = :row_id``."""
    return update(table).where(table.c.id == bindparam("row_id"))


@functools.cache
def insert_rows(table: Table, columns: tuple[str, ...], count: int):
    """``INSERT INTO table (columns) VALUES (…), (…)`` for ``count`` rows, each value bound with its
    column's type; the parameters are ``row_parameters``."""
    types = {name: table.c[name].type for name in columns}  # a name that is not a column stops here
    groups = ", ".join("(" + ", ".join(f":{name}_{row}" for name in columns) + ")" for row in range(count))
    # Only the table's own name and column names are spliced in; every value is a bound parameter.
    statement = text(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {groups}")  # noqa: S608
    return statement.bindparams(*(bindparam(f"{name}_{row}", type_=types[name])
                                  for row in range(count) for name in columns))


def row_parameters(columns: tuple[str, ...], rows: list[tuple]) -> dict[str, Any]:
    return {f"{name}_{index}": value
            for index, row in enumerate(rows) for name, value in zip(columns, row, strict=True)}
