"""encrypt notification channel URLs at rest

Channel URLs carry passwords and tokens; they were stored in clear in ``integrations.config``.
Upgrading encrypts each ``url`` into ``url_encrypted`` under the deployment's KAPTA_SECRET_KEYS (the
same keys as API keys); downgrading decrypts them back. Only rows that hold channels are touched, and
the keys are read only when one does.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01 01:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

_integrations = sa.table("integrations", sa.column("id", sa.String), sa.column("config", sa.JSON))


def _rewrite(change) -> None:
    from kapta_vendus.config import get_settings

    bind = op.get_bind()
    rows = bind.execute(sa.select(_integrations.c.id, _integrations.c.config)).all()
    for integration_id, config in rows:
        channels = ((config or {}).get("notifications") or {}).get("channels") if isinstance(config, dict) else None
        if not channels:
            continue
        new = change(get_settings(), config)
        if new != config:
            bind.execute(_integrations.update().where(_integrations.c.id == integration_id).values(config=new))


def upgrade() -> None:
    from kapta_vendus.integrations.channels import seal

    _rewrite(seal)


def downgrade() -> None:
    from kapta_vendus.integrations.channels import unseal

    _rewrite(unseal)
