"""The knobs of reconciliation, with their defaults and why.

They are not environment variables (yet): the beat jobs use the defaults, and the operator commands
take options for the ones an operator may want to change for one run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class ReconcilePolicy:
    # Vendus filters by document date only. Each poll re-lists this many days before the cursor:
    # documents dated a day late (the account's local date against our UTC), status changes of
    # recent documents, and anything a crash between two pages left half-seen.
    overlap_days: int = 2
    # No cursor yet: how far back the first poll of a store looks. History is the import's job.
    first_poll_days: int = 2
    # Vendus' documented maximum: a store with fewer documents in the window is one request.
    per_page: int = 1000
    # A sale accepted here should have its fiscal document within this time (drift after it).
    sale_sla: timedelta = timedelta(minutes=30)
    # Drift compares the mirror with Vendus over this many days (wider than the poll window, so
    # changes to older documents are noticed too).
    drift_days: int = 7
    # Working days before the legal deadline when the watchdog raises its alarm.
    deadline_margin_days: int = 1
    # Sales older than this are no longer watched (by drift and by the watchdog).
    lookback_days: int = 31

    def with_(self, **changes: Any) -> ReconcilePolicy:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


DEFAULT_POLICY = ReconcilePolicy()
