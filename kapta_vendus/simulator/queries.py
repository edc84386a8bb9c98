"""GET documents/: filters, paging and the list-row shape.

``since``/``until`` are inclusive dates compared with the document ``date`` (what integrations poll
by and what the docs describe), or with the date of ``system_time`` by assumption. Results come in id
order. Only the filters actually given are evaluated, and only over the date window (see docindex).
"""

from __future__ import annotations

from .accounts import MODES, Account
from .documents import TYPE_TITLES
from .errors import a001, invalid, no_data
from .money import parse_date
from .paging import Page, page_params
from .render import row
from .taxes import normalize_nif


def _date_param(params, name: str) -> str | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    return parse_date(value, name)


def _int_param(params, name: str) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    if not str(value).isdigit():
        raise invalid(name)
    return int(value)


def _types(params, accepts_lists: bool) -> frozenset[str] | None:
    raw = params.get("type")
    if not raw:
        return None
    codes = [code.strip().upper() for code in raw.split(",") if code.strip()]
    if (len(codes) > 1 and not accepts_lists) or any(code not in TYPE_TITLES for code in codes):
        raise a001("Tipo de documento inválido.")
    return frozenset(codes)


def build_filter(params, assumptions):
    """Return a predicate over internal documents, or None when no field filter applies."""
    checks = []
    types = _types(params, assumptions.type_filter_accepts_lists)
    if types:
        checks.append(lambda d: d["type"] in types)
    status = params.get("status")
    if status:
        statuses = frozenset(s.strip() for s in status.split(","))
        if not statuses <= {"N", "A", "F"}:
            raise invalid("status")
        checks.append(lambda d: d["status"] in statuses)
    for name, key in (("store_id", "store_id"), ("register_id", "register_id")):
        value = _int_param(params, name)
        if value is not None:
            checks.append(lambda d, k=key, v=value: d[k] == v)
    client_id = _int_param(params, "client_id")
    if client_id is not None:
        checks.append(lambda d: (d["client"] or {}).get("id") == client_id)
    if params.get("client_fiscal_id"):
        nif = normalize_nif(params["client_fiscal_id"])
        checks.append(lambda d: (d["client"] or {}).get("fiscal_id") == nif)
    if params.get("client_country"):
        country = params["client_country"].upper()
        checks.append(lambda d: (d["client"] or {}).get("country") == country)
    if params.get("external_reference"):
        reference = params["external_reference"]
        checks.append(lambda d: d["external_reference"] == reference)
    if params.get("subtype"):
        subtype = params["subtype"]
        checks.append(lambda d: d["subtype"] == subtype)
    if params.get("q"):
        needle = params["q"].lower()
        checks.append(lambda d: needle in d["number"].lower() or needle in d["external_reference"].lower())
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda d: all(check(d) for check in checks)


def list_documents(account: Account, params, assumptions, today: str) -> Page:
    mode = params.get("mode") or "normal"
    if mode not in MODES:
        raise invalid("mode")
    since, until = _date_param(params, "since"), _date_param(params, "until")
    match = build_filter(params, assumptions)
    page, per_page = page_params(params, assumptions)
    docs, total = account.spaces[mode].select(
        match,
        date_field=assumptions.list_date_field,
        since=since,
        until=until,
        offset=(page - 1) * per_page,
        limit=per_page,
    )
    if not docs:
        raise no_data()
    view = params.get("view", "normal")
    with_client = assumptions.list_rows_client == "always" or (
        assumptions.list_rows_client == "detailed" and view == "detailed"
    )
    rows = [row(account, doc, assumptions, today, with_client) for doc in docs]
    return Page(rows, total, page, per_page)
