"""Hot-path statements are built once and take their row as parameters (``kapta_vendus.db.statements``)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.orm import Session

from kapta_vendus.db.statements import dialect_name, insert_unless_present, update_by_id

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
