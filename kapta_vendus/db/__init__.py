"""State database: models, sessions, migrations."""

from kapta_vendus.db.models import (
    Alert,
    ApiToken,
    Base,
    Document,
    Event,
    Integration,
    IntegrationStore,
    Issuance,
    Link,
    ReconciliationRun,
    StepRun,
    SyncCursor,
    WebhookSecret,
)
from kapta_vendus.db.session import Database, database_for, on_commit

__all__ = [
    "Alert",
    "ApiToken",
    "Base",
    "Database",
    "Document",
    "Event",
    "Integration",
    "IntegrationStore",
    "Issuance",
    "Link",
    "ReconciliationRun",
    "StepRun",
    "SyncCursor",
    "WebhookSecret",
    "database_for",
    "on_commit",
]
