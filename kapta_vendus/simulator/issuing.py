"""Numbering, date order, signature excerpt (hash) and ATCUD: what turns a draft into an issued document.

Numbers are ``TYPE SERIES/N``, gapless per (mode, type, series). The series is the register's code
plus the year (``01P2026``) and test documents get a ``T`` prefix (``T01P2026``), so each year and
each mode counts on its own. Real Vendus signs with its AT-certified RSA key; the simulator chains a
SHA-256 of the same fields instead, which keeps the 4-character excerpt stable and per-series.
"""

from __future__ import annotations

import base64
import hashlib
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from .accounts import Account
from .errors import a001


def series_name(series_format: str, register: dict, mode: str, date: str) -> str:
    base = series_format.format(code=register.get("series", "01"), year=date[:4])
    return f"T{base}" if mode == "tests" else base


def check_date(account: Account, mode: str, doc_type: str, series: str, date: str, today: str) -> None:
    """Vendus refuses future dates and dates before the latest document of the series (A001)."""
    if date > today:
        raise a001(f"A data do documento ({date}) não pode ser posterior à data atual ({today}).")
    current = account.series.get((mode, doc_type, series))
    if current and date < current["date"]:
        raise a001(
            f"A data do documento ({date}) não pode ser anterior à data do último documento "
            f"emitido nesta série ({current['date']})."
        )


def signature(date: str, system_time: str, number: str, gross: str, previous: str) -> str:
    text = f"{date};{system_time.replace(' ', 'T')};{number};{gross};{previous}"
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@lru_cache(maxsize=4096)
def validation_code(account_id: int, mode: str, doc_type: str, series: str) -> str:
    """An 8-character AT series validation code, stable per account and series."""
    digest = hashlib.sha1(f"{account_id}|{mode}|{doc_type}|{series}".encode()).digest()  # noqa: S324
    return base64.b32encode(digest).decode()[:8]


def issue(account: Account, doc: dict, doc_id: int) -> dict:
    """Give ``doc`` its id, number, hash and ATCUD and add it to the account (caller holds the lock)."""
    key = (doc["mode"], doc["type"], doc["series"])
    current = account.series.get(key) or {"n": 0, "hash": ""}
    seq = current["n"] + 1
    number = f"{doc['type']} {doc['series']}/{seq}"
    full = signature(doc["date"], doc["system_time"], number, doc["amount_gross"], current["hash"])
    doc.update(
        id=doc_id,
        seq=seq,
        number=number,
        hash_full=full,
        hash=full[0] + full[10] + full[20] + full[30],
        atcud=f"{validation_code(account.id, *key)}-{seq}",
    )
    account.add_document(doc)
    return doc


_QR_REGION_LETTER = {"PT": "I", "PT-AC": "J", "PT-MA": "K"}
_QR_FIELDS = {"RED": (3, 4), "INT": (5, 6), "NOR": (7, 8)}  # (base field, VAT field) per rate class


def qrcode_data(account: Account, doc: dict) -> str:
    """The AT QR string (fields A..R, bases per region I/J/K); the simulator never renders an image."""
    client = doc.get("client") or {}
    parts = [
        f"A:{account.info.get('fiscal_id', '')}",
        f"B:{client.get('fiscal_id') or '999999990'}",
        f"C:{client.get('country') or 'PT'}",
        f"D:{doc['type']}",
        f"E:{doc['status']}",
        f"F:{doc['date'].replace('-', '')}",
        f"G:{doc['number']}",
        f"H:{doc['atcud']}",
    ]
    # per region (line country) and rate class: [base, VAT], from each line's own rate and net
    buckets: dict[str, dict[str, list[Decimal]]] = {}
    for line in doc.get("items") or []:
        per_class = buckets.setdefault(line["country"], {})
        gross = Decimal(line["gross_total"])
        base = (gross * 100 / (100 + Decimal(line["rate"]))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        bucket = per_class.setdefault(line["tax_id"], [Decimal(0), Decimal(0)])
        bucket[0] += base
        bucket[1] += gross - base
    vat_total = Decimal(0)
    for country, per_class in buckets.items():
        letter = _QR_REGION_LETTER.get(country, "I")
        parts.append(f"{letter}1:{country}")
        exempt = sum((v[0] + v[1] for k, v in per_class.items() if k not in _QR_FIELDS), Decimal(0))
        if exempt:
            parts.append(f"{letter}2:{exempt:.2f}")
        for tax_class, (base_field, vat_field) in _QR_FIELDS.items():
            if tax_class in per_class:
                base, vat = per_class[tax_class]
                vat_total += vat
                parts += [f"{letter}{base_field}:{base:.2f}", f"{letter}{vat_field}:{vat:.2f}"]
    parts += [f"N:{vat_total:.2f}", f"O:{doc['amount_gross']}", f"Q:{doc['hash']}", "R:0000"]
    return "*".join(parts)
