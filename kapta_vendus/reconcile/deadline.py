"""The legal-deadline watchdog: an invoice is due by the 5th working day after the sale (CIVA 36(1)).

Working days are Monday to Friday, except Portuguese national holidays (from the ``holidays``
package: fixed dates plus Good Friday and Corpus Christi, which move with Easter). Regional and
municipal holidays are not counted out, so the deadline we compute is never later than the real one.

The sale's day is its local date in the store's legal time. A sale without a fiscal document
raises one high-priority notification once ``margin`` working days or fewer are left (or the
deadline has passed), and never again for that sale (an ``Alert`` row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache

import holidays

from kapta_vendus.db.models import utcnow
from kapta_vendus.db.session import Database
from kapta_vendus.integrations.service import get_integration
from kapta_vendus.reconcile import alerts
from kapta_vendus.reconcile.alerts import Finding, Sender
from kapta_vendus.reconcile.policy import DEFAULT_POLICY, ReconcilePolicy
from kapta_vendus.reconcile.sales import sales_without_document
from kapta_vendus.reconcile.tenant import tenant_from

LEGAL_WORKING_DAYS = 5


@cache
def _national_holidays() -> holidays.HolidayBase:
    # Built on first use (no work at import); it fills in each year as dates are asked about.
    return holidays.country_holidays("PT")


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _national_holidays()


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after ``start`` (``start`` itself never counts)."""
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        counted += is_working_day(day)
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]; negative when ``end`` is before ``start``."""
    if end < start:
        return -working_days_between(end, start)
    return sum(is_working_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))


def legal_deadline(sale_day: date) -> date:
    return add_working_days(sale_day, LEGAL_WORKING_DAYS)


@dataclass
class WatchResult:
    watched: int = 0  # sales without a fiscal document
    approaching: int = 0  # within the margin, deadline not passed
    overdue: int = 0
    alerted: int = 0  # notified this time (once per sale, ever)
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"watched": self.watched, "approaching": self.approaching, "overdue": self.overdue,
                "alerted": self.alerted}


def watch_deadlines(db: Database, integration_id: str, *, policy: ReconcilePolicy = DEFAULT_POLICY,
                    now: datetime | None = None, sender: Sender | None = None,
                    default_language: str = "pt") -> WatchResult:
    now = now or utcnow()
    result = WatchResult()
    with db.unit_of_work() as session:
        tenant = tenant_from(get_integration(session, integration_id))
        open_sales = sales_without_document(session, tenant, received_after=now - timedelta(days=policy.lookback_days),
                                            received_before=now)
    result.watched = len(open_sales)
    lang = alerts.language(tenant, default_language)
    due = []
    for sale in open_sales:
        store_id = sale.store_id or 0
        sale_day = tenant.local_date(store_id, sale.closed_at)
        deadline = legal_deadline(sale_day)
        left = working_days_between(tenant.local_date(store_id, now), deadline)
        if left > policy.deadline_margin_days:
            continue
        if left < 0:
            result.overdue += 1
        else:
            result.approaching += 1
        when = alerts.WHEN[lang if lang in alerts.WHEN else "en"]
        due.append(Finding("deadline", f"sale:{store_id}:{sale.sale_id}", {
            "sale_id": sale.sale_id, "store_id": store_id, "sale_date": sale_day.isoformat(),
            "deadline": deadline.isoformat(), "working_days_left": left, "event_id": sale.event_id,
            "when": when["overdue"] if left < 0 else when["today"] if left == 0 else when["left"].format(n=left)}))
    result.findings = due
    for finding in alerts.claim(db, integration_id, "deadline", due):
        title, body = alerts.render("deadline", lang, **finding.details)
        result.alerted += alerts.notify(db, tenant, "deadline", [finding], title, body, urgent=True, sender=sender)
    return result
