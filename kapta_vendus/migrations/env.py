"""Alembic environment. The URL comes from the caller (``kapta-vendus db upgrade``), never a file."""

from alembic import context

from kapta_vendus.db.models import Base, UTCDateTime
from kapta_vendus.db.session import make_engine

config = context.config
target_metadata = Base.metadata


def render_item(type_, obj, autogen_context):
    # A migration must not import application code, which changes after the migration is written:
    # our TypeDecorators render as the plain DDL type they emit.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    # Batch mode lets ALTERs work on SQLite, which cannot alter constraints in place.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
