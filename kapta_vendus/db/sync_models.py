"""Tables of keeping other systems in sync: destinations and their deliveries, master-data maps and
the emails of documents to customers. Every row carries its integration, like the rest.

They live beside ``db.models`` (which imports this module at its end) so that the metadata seen by
Alembic holds them, while this capability's tables stay together in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event, inspect, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from kapta_vendus.db.models import Base, BigId, Integration, UTCDateTime, utcnow


class Destination(Base):
    """An endpoint of another system told what happened (outbound events, Standard Webhooks)."""

    __tablename__ = "destinations"
    __table_args__ = (UniqueConstraint("integration_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(1000))
    event_types: Mapped[list[Any]] = mapped_column(default=list)
    store_ids: Mapped[list[Any]] = mapped_column(default=list)  # empty: every store
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|disabled
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    declared_in: Mapped[str] = mapped_column(String(8), default="api")  # yaml|api
    # The destination's own circuit breaker: consecutive failures, and until when it stays open.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    circuit_open_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    secrets: Mapped[list[DestinationSecret]] = relationship(
        back_populates="destination", cascade="all, delete-orphan", order_by="DestinationSecret.id")


# What decides whether a destination is told of an event (destinations.outbox.wants). Workers cache
# the answer with the integration's updated_at (destinations.active), so a change of any of these
# moves it, in the same transaction.
DESTINATION_ROUTING = ("status", "event_types", "store_ids")


def _routing_changed(row: Destination) -> bool:
    attrs = inspect(row).attrs
    return any(attrs[name].history.has_changes() for name in DESTINATION_ROUTING)


@event.listens_for(Session, "before_flush")
def _bump_integrations_of_changed_destinations(session: Session, _flush_context, _instances) -> None:
    changed = {row.integration_id for row in (*session.new, *session.deleted) if isinstance(row, Destination)}
    changed |= {row.integration_id for row in session.dirty
                if isinstance(row, Destination) and _routing_changed(row)}
    changed.discard(None)
    if changed:
        session.execute(update(Integration.__table__).where(Integration.id.in_(changed))
                        .values(updated_at=utcnow()))


class DestinationSecret(Base):
    __tablename__ = "destination_secrets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("destinations.id", ondelete="CASCADE"), index=True)
    secret_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when rotated: deliveries are signed with it too until then, so receivers can switch over.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    destination: Mapped[Destination] = relationship(back_populates="secrets")


class Delivery(Base):
    """One outbound event for one destination: the outbox row, then the delivery log."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("destination_id", "dedup_key"),
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_deliveries_destination_created", "destination_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="RESTRICT"), index=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("destinations.id", ondelete="CASCADE"))
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)  # the envelope id, stable across retries
    event_type: Mapped[str] = mapped_column(String(40))
    dedup_key: Mapped[str] = mapped_column(String(255))
    source_event_id: Mapped[int | None] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)  # frozen at creation: every retry signs the same bytes
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_response_excerpt: Mapped[str | None] = mapped_column(String(300))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MasterDataLink(Base):
    """A source's customer or product ↔ its Vendus client or product, and the version last applied."""

    __tablename__ = "masterdata_links"
    __table_args__ = (
        UniqueConstraint("integration_id", "kind", "source_key"),
        Index("ix_masterdata_links_fiscal", "integration_id", "kind", "fiscal_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))  # customer|product
    source_key: Mapped[str] = mapped_column(String(255))  # customer_id, or product reference
    vendus_id: Mapped[int | None] = mapped_column(BigInteger)
    fiscal_id: Mapped[str | None] = mapped_column(String(30))
    version: Mapped[datetime | None] = mapped_column(UTCDateTime())  # occurred_at of the applied upsert
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. a product's kind
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CustomerEmail(Base):
    """A document sent to its customer by the service: at most once per document and recipient."""

    __tablename__ = "customer_emails"
    __table_args__ = (
        UniqueConstraint("integration_id", "document_vendus_id", "recipient"),
        Index("ix_customer_emails_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="RESTRICT"))
    document_vendus_id: Mapped[int] = mapped_column(BigInteger)
    document_number: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8), default="normal")
    recipient: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(2), default="pt")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# What an integration's purge erases, in an order its foreign keys allow (deliveries before destinations).
SYNC_HISTORY = (Delivery, Destination, MasterDataLink, CustomerEmail)
