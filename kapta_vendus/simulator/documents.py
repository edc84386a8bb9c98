"""Creating and changing documents: the orchestration of validation, numbering, payments and credits.

Every check runs before anything is mutated, so a refused request leaves no trace (no half-created
client, product or receipt). The caller (SimulatorState) holds the lock for the whole call, which
also makes ``tx_id`` replay atomic: two concurrent requests with one tx_id yield one document.
"""

from __future__ import annotations

from decimal import Decimal

from .accounts import Account
from .catalog import resolve_document_client, snapshot
from .credits import apply_credit, credit_lines
from .errors import a001, invalid
from .issuing import check_date, issue, series_name
from .lines import apply_document_discount, sale_lines, summarize
from .money import HUNDRED, ZERO, money, parse_date, parse_decimal
from .payments import DEBT_TYPES, link_receipt, plan_payments
from .receipts import create_receipt, receipt_draft

TYPE_TITLES = {
    "FT": "Fatura",
    "FS": "Fatura Simplificada",
    "FR": "Fatura Recibo",
    "NC": "Nota de Crédito",
    "RG": "Recibo",
    "PF": "Fatura Pró-Forma",
    "OT": "Orçamento",
    "EC": "Encomenda",
    "DC": "Consulta de Mesa",
    "GT": "Guia de Transporte",
    "GR": "Guia de Remessa",
    "GD": "Guia de Devolução",
    "GA": "Guia de Ativos Próprios",
}
DOCUMENT_FIELDS = frozenset(
    {
        "type",
        "register_id",
        "mode",
        "items",
        "client",
        "payments",
        "invoices",
        "notes",
        "date",
        "date_supply",
        "date_due",
        "external_reference",
        "tx_id",
        "discount_code",
        "discount_amount",
        "discount_percentage",
        "stock_operation",
        "output",
        "output_template_id",
        "return_qrcode",
        "errors_full",
        "movement_of_goods",
        "related_document_id",
        "doc_to_generate",
        "ifthenpay",
        "eupago",
        "multibanco",
        "supplier",
        "stamp_retention_amount",
        "irc_retention_id",
        "print_discount",
        "ncr_id",
    }
)


def _check_fields(body: dict, strict: bool) -> None:
    if "reference_document_id" in body:
        raise invalid("reference_document_id", "Indique reference_document em cada linha.")
    if strict:
        for name in body:
            if name not in DOCUMENT_FIELDS and not name.startswith("rest_"):
                raise invalid(name)


def _date_field(body: dict, name: str, default: str) -> str:
    value = body.get(name)
    if value in (None, ""):
        return default
    return parse_date(value, name)


def resolve_register(account: Account, raw: object, policy: str) -> dict:
    if raw in (None, ""):
        register = account.first_register() if policy == "first" else None
        if register is None:
            raise invalid("register_id")
        return register
    register_id = int(raw) if isinstance(raw, int) or str(raw).isdigit() else None
    register = account.registers.get(register_id) if register_id is not None else None
    if register is None or register.get("status", "on") != "on":
        raise invalid("register_id", "Caixa não encontrada.")
    return register


def _mode(register: dict, raw: object, override_allowed: bool) -> str:
    register_mode = register.get("mode", "tests")
    if raw in (None, ""):
        return register_mode
    if raw not in ("normal", "tests") or (raw != register_mode and not override_allowed):
        raise invalid("mode")
    return raw


def _requested_mode(account: Account, body: dict) -> str:
    """The mode a request will be issued in, without refusing anything (for the tx_id lookup)."""
    if body.get("mode") in ("normal", "tests"):
        return body["mode"]
    raw = body.get("register_id")
    register_id = int(raw) if isinstance(raw, int) or str(raw or "").isdigit() else None
    register = account.registers.get(register_id) if register_id is not None else account.first_register()
    return (register or {}).get("mode", "tests")


def _replayed(ctx, account: Account, body: dict) -> dict | None:
    """The document an earlier request with this tx_id (or external_reference, by assumption) created.

    tx_ids are kept per mode (vendus-api §7.6/§7.7: test documents are a separate space), so the same
    tx_id in tests mode and in normal mode names two different documents.
    """
    mode = _requested_mode(account, body)
    tx_id = body.get("tx_id")
    if tx_id not in (None, ""):
        found = account.tx_ids.get((mode, str(tx_id)))
        retention = ctx.assumptions.tx_id_retention_seconds
        if found and (retention is None or ctx.clock.timestamp() - found[1] <= retention):
            return account.docs[found[0]]
    reference = body.get("external_reference")
    if ctx.assumptions.external_reference_dedup and reference and reference in account.external_refs:
        doc = account.docs[account.external_refs[reference]]
        return doc if doc["mode"] == mode else None
    return None


def create_document(ctx, account: Account, body: object) -> tuple[dict, bool]:
    """Validate and issue a document. Returns (document, replayed) where replayed means tx_id matched."""
    a = ctx.assumptions
    if not isinstance(body, dict):
        raise invalid("body")
    replay = _replayed(ctx, account, body)
    if replay is not None:
        return replay, True
    _check_fields(body, a.strict_document_fields)
    doc_type = str(body.get("type") or "FT").upper()
    if doc_type not in TYPE_TITLES:
        raise a001("Tipo de documento inválido.")
    register = resolve_register(account, body.get("register_id"), a.default_register)
    mode = _mode(register, body.get("mode"), a.mode_override_allowed)
    now = ctx.clock.now()
    today = account.today(now)
    date = _date_field(body, "date", today)
    series = series_name(a.series_format, register, mode, date)
    check_date(account, mode, doc_type, series, date, today)
    # date_supply defaults to date and may be earlier, never later (vendus-api §3.3, pt-rules §3)
    date_supply = _date_field(body, "date_supply", date)
    if date_supply > date:
        raise invalid(
            "date_supply", f"A data de entrega ({date_supply}) não pode ser posterior à data do documento ({date})."
        )
    system_time = now.strftime("%Y-%m-%d %H:%M:%S")
    draft = {
        "type": doc_type,
        "subtype": "",
        "mode": mode,
        "series": series,
        "date": date,
        "date_supply": date_supply,
        "date_due": date,
        "system_time": system_time,
        "local_time": account.local(now).strftime("%Y-%m-%d %H:%M:%S"),
        "notes": str(body.get("notes") or ""),
        "external_reference": str(body.get("external_reference") or ""),
        "store_id": register["store_id"],
        "register_id": register["id"],
        "user_id": account.info.get("user_id"),
        "client": None,
        "items": [],
        "taxes": [],
        "discounts": {"amount": "0.00", "percentage": "0.00", "total": "0.00"},
        "payments": [],
        "status": "N",
        "status_date": system_time,
        "paid": "0.00",
        "related": [],
        "allocations": [],
        "tax_authority_id": "",
        "tx_id": str(body["tx_id"]) if body.get("tx_id") not in (None, "") else None,
        "tx_ts": now.timestamp(),
    }
    if doc_type == "RG":
        return create_receipt(ctx, account, body, draft), False

    effects, new_products, new_client, client = [], [], None, None
    if doc_type == "NC":
        if not draft["notes"].strip():
            raise invalid("notes", "Indique o motivo da nota de crédito.")
        lines, effects = credit_lines(account, body.get("items"), mode, not a.items_without_product)
        first_ref = account.docs[lines[0]["ref_doc_id"]]
        draft["client"] = first_ref["client"]
    else:
        lines, new_products = sale_lines(account, body.get("items"), date=date, assumptions=a)
        d_amount = parse_decimal(body.get("discount_amount", 0), "discount_amount")
        d_pct = parse_decimal(body.get("discount_percentage", 0), "discount_percentage")
        if d_pct > HUNDRED:
            raise invalid("discount_percentage")
        apply_document_discount(lines, d_amount, d_pct)
        client, new_client = resolve_document_client(account, body.get("client"))
        # total discount = list value (price x qty) minus what is charged, line and document discounts alike
        listed = sum((Decimal(line["price"]) * Decimal(line["qty"]) for line in lines), ZERO)
        charged = sum((Decimal(line["gross_total"]) for line in lines), ZERO)
        draft["discounts"] = {
            "amount": money(d_amount),
            "percentage": money(d_pct),
            "total": money(listed - charged),
        }
    gross, net, taxes = summarize(lines, a.tax_rounding)

    if body.get("payments") not in (None, []) and doc_type not in DEBT_TYPES:
        raise invalid("payments", "Este tipo de documento não aceita pagamentos.")
    entries, paid, pay_due = plan_payments(account, body.get("payments"), gross)
    if doc_type in a.require_payments_types and (not entries or paid < gross):
        raise invalid("payments", "Este tipo de documento tem de ser pago no momento da emissão.")
    # FT payments make an automatic RG (§7.2); FR and FS are receipts themselves, paid at issue
    auto_rg = paid > 0 and doc_type in a.auto_rg_types
    if auto_rg:
        check_date(account, mode, "RG", series, date, today)
    date_due = _date_field(body, "date_due", pay_due or date)
    if date_due < date:
        raise invalid("date_due")

    # ---- commit: nothing below can be refused ----
    for line, spec in new_products:
        line["product_id"] = ctx.new_product(account, spec)["id"]
    if new_client is not None:
        client = ctx.new_client(account, new_client, today)
    if doc_type != "NC":
        draft["client"] = snapshot(client)
    draft.update(
        items=lines,
        taxes=taxes,
        amount_gross=money(gross),
        amount_net=money(net),
        payments=entries,
        date_due=date_due,
        paid=money(paid) if paid > 0 and not auto_rg else "0.00",
    )
    doc = issue(account, draft, ctx.next_id("document"))
    for original, row_index, qty, credited in effects:
        apply_credit(original, row_index, qty, credited)
        if doc["id"] not in original["related"]:
            original["related"] = [*original["related"], doc["id"]]
            doc["related"] = [*doc["related"], original["id"]]
        ctx.touch(account, "document", original)
    if auto_rg:
        receipt = receipt_draft(draft, series, entries, [(doc, paid)], a.rg_net)
        rg = issue(account, receipt, ctx.next_id("document"))
        link_receipt(rg, [(doc, paid)])
        ctx.touch(account, "document", rg)
    ctx.touch(account, "document", doc)
    return doc, False
