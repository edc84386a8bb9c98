"""Alerts raised once: an ``Alert`` row per (integration, kind, key) is the memory of "already told".

The row is written (and committed) before anything is sent, so concurrent checks cannot both
notify. If no channel accepted the message, the row is removed again and the next check retries;
when the integration has no alert channel at all, the row stays (the alert is recorded, and
``ReconciliationRun`` details show it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete

from kapta_vendus.db.models import Alert, utcnow
from kapta_vendus.db.session import Database
from kapta_vendus.pipeline.notify import send_alert
from kapta_vendus.reconcile.dbutil import dialect_insert
from kapta_vendus.reconcile.tenant import Tenant

Sender = Callable[[str, str, str], bool]

TEXTS: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "deadline": {
        "pt": ("URGENTE: venda sem fatura perto do prazo legal",
               "A venda {sale_id} (loja {store_id}, {sale_date}) ainda não tem fatura. O prazo legal "
               "(5.º dia útil) é {deadline}: {when}."),
        "en": ("URGENT: sale without an invoice near its legal deadline",
               "Sale {sale_id} (store {store_id}, {sale_date}) still has no invoice. The legal deadline "
               "(5th working day) is {deadline}: {when}."),
    },
    "drift": {
        "pt": ("Diferenças entre o kapta-vendus e o Vendus", "{count} diferença(s) nova(s):\n{lines}"),
        "en": ("Differences between kapta-vendus and Vendus", "{count} new difference(s):\n{lines}"),
    },
}
FINDINGS: Mapping[str, Mapping[str, str]] = {
    "no_document": {"pt": "venda {sale_id} sem documento fiscal {age_minutes} min depois de aceite",
                    "en": "sale {sale_id} has no fiscal document {age_minutes} min after it was accepted"},
    "missing": {"pt": "{number} (id {vendus_id}) emitido aqui não existe no Vendus",
                "en": "{number} (id {vendus_id}) issued here is not in Vendus"},
    "status": {"pt": "{number}: estado {ours} aqui, {theirs} no Vendus",
               "en": "{number}: status {ours} here, {theirs} in Vendus"},
    "receipt_mismatch": {"pt": "venda {sale_id}: recibos conhecidos {receipts}, pago segundo o Vendus {paid}",
                         "en": "sale {sale_id}: receipts known here {receipts}, paid according to Vendus {paid}"},
}
WHEN = {"pt": {"overdue": "já passou", "today": "é hoje", "left": "faltam {n} dia(s) útil(eis)"},
        "en": {"overdue": "it has passed", "today": "it is today", "left": "{n} working day(s) left"}}


@dataclass(frozen=True)
class Finding:
    kind: str  # no_document | missing | status | receipt_mismatch | deadline
    key: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, **self.details}


def language(tenant: Tenant, default: str) -> str:
    return str((tenant.config.get("notifications") or {}).get("language") or default)


def finding_line(finding: Finding, lang: str) -> str:
    texts = FINDINGS.get(finding.kind)
    if texts is None:
        return f"{finding.kind} {finding.key}"
    try:
        return texts.get(lang, texts["en"]).format(**finding.details)
    except KeyError:
        return f"{finding.kind} {finding.key}"


def claim(db: Database, integration_id: str, kind: str, findings: Sequence[Finding]) -> list[Finding]:
    """Record each finding's alert; returns those not alerted before (the ones to send)."""
    fresh = []
    with db.unit_of_work() as session:
        for finding in findings:
            new_id = session.execute(dialect_insert(session, Alert).values(
                integration_id=integration_id, kind=kind, key=finding.key[:255],
                details=finding.as_dict(), created_at=utcnow())
                .on_conflict_do_nothing().returning(Alert.id)).scalar()
            if new_id is not None:
                fresh.append(finding)
    return fresh


def release(db: Database, integration_id: str, kind: str, findings: Sequence[Finding]) -> None:
    with db.unit_of_work() as session:
        session.execute(delete(Alert).where(Alert.integration_id == integration_id, Alert.kind == kind,
                                            Alert.key.in_([f.key[:255] for f in findings])))


def notify(db: Database, tenant: Tenant, kind: str, findings: Sequence[Finding], title: str, body: str, *,
           urgent: bool, sender: Sender | None) -> bool:
    """Send one message for ``findings`` (already claimed); un-claim them if no channel took it.

    Returns whether the alert stands (sent, or recorded for an integration without alert channels).
    """
    delivered, channels = send_alert(dict(tenant.config), kind, title, body, urgent=urgent, sender=sender)
    if channels and not delivered:
        release(db, tenant.id, kind, findings)
        return False
    return True


def render(kind: str, lang: str, **fields: Any) -> tuple[str, str]:
    texts = TEXTS[kind]
    title, body = texts.get(lang, texts["en"])
    return title, body.format(**fields)
