"""The state database. Every tenant-owned row carries ``integration_id``.

Indexes follow the queries the pipeline makes: the inbox by (integration, dedup key) for
deduplication and by (status, updated_at) for the sweeper; documents by Vendus id, number and
external reference; links from both ends; issuances by idempotency key.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Constraint names are explicit so that Alembic can drop them on SQLite (batch mode) and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")
Money = Numeric(14, 2)
# SQLite has no 64-bit autoincrement BIGINT; INTEGER PRIMARY KEY is already 64-bit there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored in UTC, always read back aware.

    PostgreSQL's ``timestamptz`` already behaves so, but SQLite has no time zones: plain
    ``DateTime(timezone=True)`` silently drops the offset on write and returns naive values. Binding
    converts to UTC first (so stored strings also compare correctly), and reading attaches UTC.
    A naive datetime is refused rather than guessed at. The DDL is that of ``DateTime(timezone=True)``,
    which is what migrations render.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: use an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # A bare ``Mapped[datetime]`` gets the aware UTC type too, so no column can silently go naive.
    type_annotation_map = {dict[str, Any]: JSONType, list[Any]: JSONType, datetime: UTCDateTime()}


class Integration(Base):
    __tablename__ = "integrations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|disabled|deleted
    vendus_base_url: Mapped[str] = mapped_column(String(500))
    vendus_api_key_enc: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(8), default="normal")  # normal|tests
    # Mapping, rules, notifications and event selection, as validated by their schemas.
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    stores: Mapped[list[IntegrationStore]] = relationship(
        back_populates="integration", cascade="all, delete-orphan", order_by="IntegrationStore.store_id"
    )
    secrets: Mapped[list[WebhookSecret]] = relationship(
        back_populates="integration", cascade="all, delete-orphan", order_by="WebhookSecret.id"
    )

    @property
    def store_ids(self) -> list[int]:
        return [s.store_id for s in self.stores]


class IntegrationStore(Base):
    __tablename__ = "integration_stores"
    __table_args__ = (UniqueConstraint("integration_id", "store_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(BigInteger)
    integration: Mapped[Integration] = relationship(back_populates="stores")


class WebhookSecret(Base):
    __tablename__ = "webhook_secrets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True
    )
    secret_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when rotated: the secret keeps verifying until then, for a zero-downtime rotation.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    integration: Mapped[Integration] = relationship(back_populates="secrets")


class Event(Base):
    """The inbox: one row per distinct event, whatever path (push, poll, import) it came by."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("integration_id", "dedup_key"),
        Index("ix_events_status_updated", "status", "updated_at"),
        Index("ix_events_integration_received", "integration_id", "received_at"),
        Index("ix_events_integration_business", "integration_id", "business_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="RESTRICT"))
    source: Mapped[str] = mapped_column(String(16))  # push|poll|import
    type: Mapped[str] = mapped_column(String(40))
    dedup_key: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str] = mapped_column(String(255))  # the envelope id
    store_id: Mapped[int | None] = mapped_column(BigInteger)
    business_key: Mapped[str | None] = mapped_column(String(255))  # e.g. the sale id
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[str] = mapped_column(Text)  # the body exactly as received
    # received|in_flight|done|rejected|dead|imported
    status: Mapped[str] = mapped_column(String(16), default="received")
    current_step: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # When a step waits for a retry: the sweeper leaves the event alone until then.
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    steps: Mapped[list[StepRun]] = relationship(back_populates="event", order_by="StepRun.id")


class StepRun(Base):
    """The audit trail: one row per execution of one pipeline step."""

    __tablename__ = "step_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(String(36), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16))  # ok|skipped|failed|retrying
    summary: Mapped[str] = mapped_column(String(500), default="")
    output: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    event: Mapped[Event] = relationship(back_populates="steps")


class Document(Base):
    """A mirror of a Vendus document, as last seen (issued by us, polled or imported)."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("integration_id", "mode", "vendus_id"),
        Index("ix_documents_integration_number", "integration_id", "number"),
        Index("ix_documents_integration_extref", "integration_id", "external_reference"),
        Index("ix_documents_integration_store_date", "integration_id", "store_id", "date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="RESTRICT"))
    vendus_id: Mapped[int] = mapped_column(BigInteger)
    mode: Mapped[str] = mapped_column(String(8), default="normal")
    type: Mapped[str] = mapped_column(String(4))
    number: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(2), default="N")
    date: Mapped[date | None] = mapped_column(Date)
    store_id: Mapped[int | None] = mapped_column(BigInteger)
    register_id: Mapped[int | None] = mapped_column(BigInteger)
    amount_gross: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    amount_net: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    total_unpaid: Mapped[Decimal | None] = mapped_column(Money)
    payment_status: Mapped[str | None] = mapped_column(String(16))
    external_reference: Mapped[str | None] = mapped_column(String(255))
    # Hash of the fields the poller compares, so an unchanged document costs nothing to skip.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    issued_here: Mapped[bool] = mapped_column(Boolean, default=False)
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Link(Base):
    """An edge between business objects: sale → invoice, invoice → receipt, invoice → credit note…"""

    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint(
            "integration_id", "from_kind", "from_key", "relation", "to_kind", "to_key",
            name="uq_links_edge",
        ),
        Index("ix_links_from", "integration_id", "from_kind", "from_key"),
        Index("ix_links_to", "integration_id", "to_kind", "to_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="RESTRICT"))
    from_kind: Mapped[str] = mapped_column(String(16))  # sale|document|payment|refund|external
    from_key: Mapped[str] = mapped_column(String(255))
    relation: Mapped[str] = mapped_column(String(32))  # invoiced_by|paid_by|credited_by|refers_to
    to_kind: Mapped[str] = mapped_column(String(16))
    to_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Issuance(Base):
    """One billing call's idempotency key, stored before the call and sent as Vendus ``tx_id``."""

    __tablename__ = "issuances"
    __table_args__ = (
        UniqueConstraint("integration_id", "idempotency_key"),
        Index("ix_issuances_integration_business", "integration_id", "business_key"),
        Index("ix_issuances_state_updated", "state", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="RESTRICT"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # issue_document|issue_receipt|issue_credit_note|…
    business_key: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    # pending (key stored, not sent) | sent (outcome unknown) | issued | rejected
    state: Mapped[str] = mapped_column(String(16), default="pending")
    document_type: Mapped[str | None] = mapped_column(String(4))
    request: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    vendus_id: Mapped[int | None] = mapped_column(BigInteger)
    document_number: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class SyncCursor(Base):
    """How far the poller has read one resource of one store."""

    __tablename__ = "sync_cursors"
    __table_args__ = (UniqueConstraint("integration_id", "store_id", "resource"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="RESTRICT"))
    store_id: Mapped[int] = mapped_column(BigInteger)
    resource: Mapped[str] = mapped_column(String(32))  # documents|clients|products|import:…
    cursor_date: Mapped[date | None] = mapped_column(Date)
    position: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. an import checkpoint
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ReconciliationRun(Base):
    __tablename__ = "reconciliation_runs"
    __table_args__ = (Index("ix_recon_integration_started", "integration_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="RESTRICT"))
    store_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # poll|import|drift
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|ok|failed
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    details: Mapped[list[Any]] = mapped_column(default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """A bearer token of the admin API. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)  # read|operate|admin
    # None: every integration (admin tokens); otherwise the one integration it may see.
    integration_id: Mapped[str | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Alert(Base):
    """A notification that must be raised once only (e.g. a sale nearing its legal deadline)."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("integration_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(32))  # deadline|drift|…
    key: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# The sync capability's tables (destinations, deliveries, master-data maps, customer emails) live in
# their own module; importing it here puts them in the one metadata that Alembic and tests read.
from kapta_vendus.db import sync_models  # noqa: E402,F401
