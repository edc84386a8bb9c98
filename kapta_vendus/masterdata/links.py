"""The source id ↔ Vendus id maps, one row per (integration, kind, business key), locked while used."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kapta_vendus.db.models import utcnow
from kapta_vendus.db.sync_models import MasterDataLink


def locked_link(session: Session, integration_id: str, kind: str, source_key: str) -> MasterDataLink:
    """Insert-if-absent, then lock: two upserts of the same record are serialised, never duplicated."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(MasterDataLink).values(
        integration_id=integration_id, kind=kind, source_key=source_key, details={}, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["integration_id", "kind", "source_key"]))
    return session.scalar(select(MasterDataLink).where(
        MasterDataLink.integration_id == integration_id, MasterDataLink.kind == kind,
        MasterDataLink.source_key == source_key).with_for_update())


def mapped_client_id(session: Session, integration_id: str, *, customer_id: str | None,
                     fiscal_id: str | None) -> int | None:
    """The Vendus client a sale's customer maps to: by the source's customer_id, else by NIF."""
    query = select(MasterDataLink.vendus_id).where(
        MasterDataLink.integration_id == integration_id, MasterDataLink.kind == "customer",
        MasterDataLink.vendus_id.is_not(None))
    if customer_id:
        found = session.scalar(query.where(MasterDataLink.source_key == customer_id).limit(1))
        if found is not None:
            return found
    if fiscal_id:
        return session.scalar(query.where(MasterDataLink.fiscal_id == fiscal_id)
                              .order_by(MasterDataLink.updated_at.desc()).limit(1))
    return None


def upserted_products(session: Session, integration_id: str) -> dict[str, tuple[int, str]]:
    """reference → (Vendus product id, kind) for every product a ``product.upserted`` created or updated."""
    rows = session.execute(select(MasterDataLink.source_key, MasterDataLink.vendus_id, MasterDataLink.details).where(
        MasterDataLink.integration_id == integration_id, MasterDataLink.kind == "product",
        MasterDataLink.vendus_id.is_not(None)))
    return {key: (vendus_id, (details or {}).get("kind") or "goods") for key, vendus_id, details in rows}
