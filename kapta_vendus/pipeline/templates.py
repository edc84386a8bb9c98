"""Notification texts in Portuguese and English, rendered with ``str.format``.

``render(kind, lang, **fields) -> (title, body)``. Decimal (or int) values of money fields are
formatted per language ("2,90 €" / "€2.90"); ``document_type`` adds the document's name and,
in Portuguese, the agreement of the participle (fatura emitida, recibo emitido).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

LANGS = ("pt", "en")
MONEY_FIELDS = frozenset({"amount", "total", "paid", "unpaid"})

# code → (Portuguese name, feminine?, English name)
DOCUMENT_NAMES: Mapping[str, tuple[str, bool, str]] = {
    "FT": ("Fatura", True, "Invoice"),
    "FS": ("Fatura simplificada", True, "Simplified invoice"),
    "FR": ("Fatura-recibo", True, "Invoice-receipt"),
    "NC": ("Nota de crédito", True, "Credit note"),
    "ND": ("Nota de débito", True, "Debit note"),
    "RG": ("Recibo", False, "Receipt"),
    "PF": ("Fatura pró-forma", True, "Pro-forma invoice"),
    "OT": ("Orçamento", False, "Quote"),
    "EC": ("Encomenda", True, "Order"),
    "DC": ("Consulta de mesa", True, "Table check"),
    "GT": ("Guia de transporte", True, "Transport guide"),
    "GR": ("Guia de remessa", True, "Delivery note"),
}

# kind → lang → (title, body)
TEMPLATES: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "document_issued": {
        "pt": ("{doc_name} {issued}", "{doc_name} {number} {issued} para a venda {sale_id} ({amount})"),
        "en": ("{doc_name} issued", "{doc_name} {number} issued for sale {sale_id} ({amount})"),
    },
    "receipt_issued": {
        "pt": ("Recibo emitido", "Recibo {number} emitido para {invoices} ({amount})"),
        "en": ("Receipt issued", "Receipt {number} issued for {invoices} ({amount})"),
    },
    "credit_note_issued": {
        "pt": ("Nota de crédito emitida", "Nota de crédito {number} emitida sobre {original}: {reason}"),
        "en": ("Credit note issued", "Credit note {number} issued against {original}: {reason}"),
    },
    "document_seen": {
        "pt": ("{doc_name} {registered} no Vendus", "{doc_name} {number} {registered} no Vendus ({amount})"),
        "en": ("{doc_name} recorded in Vendus", "{doc_name} {number} recorded in Vendus ({amount})"),
    },
    "invoice_finalized": {
        "pt": ("Documento faturado", "{doc_name} {number} faturado como {invoice_number}"),
        "en": ("Document invoiced", "{doc_name} {number} invoiced as {invoice_number}"),
    },
    "document_cancelled": {
        "pt": ("{doc_name} {cancelled}", "{doc_name} {number} {cancelled} no Vendus"),
        "en": ("{doc_name} cancelled", "{doc_name} {number} was cancelled in Vendus"),
    },
    "event_rejected": {
        "pt": ("Evento rejeitado", "Evento {event_type} {event_id} rejeitado: {reasons}"),
        "en": ("Event rejected", "Event {event_type} {event_id} rejected: {reasons}"),
    },
    "event_dead": {
        "pt": ("Evento falhou", "Evento {event_type} {event_id} falhou após {attempts} tentativas: {error}"),
        "en": ("Event failed", "Event {event_type} {event_id} failed after {attempts} attempts: {error}"),
    },
    "fiscal_warning": {
        "pt": ("Aviso fiscal", "Venda {sale_id}: {warnings}"),
        "en": ("Fiscal warning", "Sale {sale_id}: {warnings}"),
    },
}


class TemplateError(ValueError):
    """Unknown template or language, or a field the template needs was not given."""


def format_money(amount: Decimal | int, lang: str) -> str:
    """2,90 € / 1.234,50 € in Portuguese; €2.90 / €1,234.50 in English. Negative: sign first."""
    value = Decimal(amount).quantize(Decimal("0.01"))
    sign = "-" if value < 0 else ""
    grouped = f"{abs(value):,.2f}"  # 1,234.50
    if lang == "pt":
        return sign + grouped.replace(",", " ").replace(".", ",").replace(" ", ".") + " €"
    return f"{sign}€{grouped}"


def render(kind: str, lang: str, **fields: Any) -> tuple[str, str]:
    """Render a notification; ``lang`` "pt" or "en" (a region such as "pt-PT" is accepted)."""
    language = (lang or "").split("-")[0].split("_")[0].lower()
    if kind not in TEMPLATES:
        raise TemplateError(f"unknown notification template {kind!r} (known: {', '.join(sorted(TEMPLATES))})")
    if language not in LANGS:
        raise TemplateError(f"unknown language {lang!r} (expected pt or en)")
    title, body = TEMPLATES[kind][language]
    values = _prepare(fields, language)
    needed = {name for text in (title, body) for _, name, _, _ in string.Formatter().parse(text) if name}
    missing = sorted(needed - values.keys())
    if missing:
        raise TemplateError(f"template {kind!r} needs {', '.join(missing)}")
    return title.format(**values), body.format(**values)


def _prepare(fields: Mapping[str, Any], lang: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name in MONEY_FIELDS and isinstance(value, Decimal | int) and not isinstance(value, bool):
            value = format_money(value, lang)
        elif isinstance(value, list | tuple | set | frozenset):
            value = "; ".join(str(v) for v in value)
        values[name] = value
    doc_type = str(fields.get("document_type") or "").upper()
    if doc_type:
        pt_name, feminine, en_name = DOCUMENT_NAMES.get(doc_type, (doc_type, True, doc_type))
        ending = "a" if feminine else "o"
        values.setdefault("doc_name", pt_name if lang == "pt" else en_name)
        values.setdefault("issued", "emitid" + ending)
        values.setdefault("registered", "registad" + ending)
        values.setdefault("cancelled", "anulad" + ending)
    return values
