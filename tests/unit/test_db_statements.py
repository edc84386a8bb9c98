"""Hot-path statements are built once and take their row as parameters (``kapta_vendus.db.statements``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import UTCDateTime
from kapta_vendus.db.statements import (
    dialect_name,
    insert_rows,
    insert_unless_present,
    row_parameters,
    update_by_id,
)

metadata = MetaData()
keys = Table("keys", metadata, Column("id", Integer, primary_key=True), Column("key", String, unique=True),
             Column("state", String), Column("note", String))


def test_insert_once_update_by_id_and_each_statement_built_once():
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        insert = insert_unless_present(keys, dialect_name(session), ("key",), "id")
        assert insert is insert_unless_present(keys, "sqlite", ("key",), "id")  # cached, not rebuilt
        first = session.scalar(insert, {"key": "a", "state": "sent"})
        assert first is not None
        assert session.scalar(insert, {"key": "a", "state": "other"}) is None  # present: left alone
        session.execute(update_by_id(keys), {"row_id": first, "state": "issued"})  # SET from the parameters
        assert update_by_id(keys) is update_by_id(keys)
        assert session.execute(select(keys.c.key, keys.c.state, keys.c.note)).all() == [("a", "issued", None)]


def test_several_rows_in_one_insert_with_their_columns_types():
    local = MetaData()
    runs = Table("runs", local, Column("id", Integer, primary_key=True), Column("step", String),
                 Column("at", UTCDateTime()))
    engine = create_engine("sqlite://")
    local.create_all(engine)
    at = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    columns = ("step", "at")
    with Session(engine) as session:
        statement = insert_rows(runs, columns, 3)
        assert statement is insert_rows(runs, columns, 3)
        session.execute(statement, row_parameters(columns, [("a", at), ("b", at), ("c", None)]))
        rows = session.execute(select(runs.c.step, runs.c.at).order_by(runs.c.id)).all()
    assert rows == [("a", at), ("b", at), ("c", None)]  # the column's type read the value back as UTC


def test_insert_rows_refuses_a_name_that_is_not_a_column():
    with pytest.raises(KeyError):
        insert_rows(keys, ("key", "state; DROP TABLE keys"), 1)
