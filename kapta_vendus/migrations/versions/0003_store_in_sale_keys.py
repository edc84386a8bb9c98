"""store in sale keys

Sale ids are unique per store only (reference/events.md), so the links of a sale, a payment or a
refund are now keyed ``<store>:<id>``, and a sale's events carry ``sale:<store>:<sale_id>``. No
table changes: existing rows are rewritten with the store of the document they link to (links)
or of the event itself (events); rows without a known store keep their old key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 01:00:00.000000
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The store of the document a link points at; only links whose document has a known store.
_UP_LINKS = """
UPDATE links SET from_key = (
    SELECT CAST(d.store_id AS VARCHAR) || ':' || links.from_key FROM documents d
    WHERE d.id = CAST(links.to_key AS BIGINT))
WHERE from_kind IN ('sale', 'payment', 'refund') AND to_kind = 'document' AND EXISTS (
    SELECT 1 FROM documents d WHERE d.id = CAST(links.to_key AS BIGINT) AND d.store_id IS NOT NULL)
"""
_UP_EVENTS = """
UPDATE events SET business_key = 'sale:' || CAST(store_id AS VARCHAR) || ':' || SUBSTR(business_key, 6)
WHERE business_key LIKE 'sale:%' AND store_id IS NOT NULL
"""
_DOWN_LINKS = """
UPDATE links SET from_key = (
    SELECT SUBSTR(links.from_key, LENGTH(CAST(d.store_id AS VARCHAR)) + 2) FROM documents d
    WHERE d.id = CAST(links.to_key AS BIGINT))
WHERE from_kind IN ('sale', 'payment', 'refund') AND to_kind = 'document' AND EXISTS (
    SELECT 1 FROM documents d WHERE d.id = CAST(links.to_key AS BIGINT) AND d.store_id IS NOT NULL
    AND links.from_key LIKE CAST(d.store_id AS VARCHAR) || ':%')
"""
_DOWN_EVENTS = """
UPDATE events SET business_key = 'sale:' || SUBSTR(business_key, LENGTH('sale:' || CAST(store_id AS VARCHAR)) + 2)
WHERE store_id IS NOT NULL AND business_key LIKE 'sale:' || CAST(store_id AS VARCHAR) || ':%'
"""


def upgrade() -> None:
    op.execute(_UP_LINKS)
    op.execute(_UP_EVENTS)


def downgrade() -> None:
    op.execute(_DOWN_LINKS)
    op.execute(_DOWN_EVENTS)
