"""Document lines: validating ``items[]``, pricing them, and summarising taxes per rate.

Prices are VAT-inclusive (``gross_price``). Line discounts are both taken from the list price: the
``discount_percentage`` of the price, and the ``discount_amount`` (the SDK's example: 100, 20 off and
3.5 % -> 100 - 3.50 - 20 = 76.50, net 62.20; compounding them would give 77.20). Line totals are rounded
to cents; each line's net is its rounded gross without VAT, and the document's net is the sum of them.
Lines are treated as immutable values: a later change (a credit note lowering ``qty_nc``) replaces
the line dict, so bulk-created documents can share one list of lines.
"""

from __future__ import annotations

from decimal import Decimal

from .accounts import Account
from .errors import invalid
from .money import HUNDRED, ZERO, money, parse_decimal, q2, qty_str
from .taxes import EXEMPTIONS, REGIONS, REVOKED_EXEMPTIONS, TAX_CUSTOM_COUNTRIES, TAX_IDS, exemption_law, rate_for

ITEM_FIELDS = frozenset(
    {
        "qty",
        "id",
        "reference",
        "title",
        "gross_price",
        "supply_price",
        "type_id",
        "unit_id",
        "category_id",
        "brand_id",
        "variant_id",
        "lot_id",
        "discount_amount",
        "discount_percentage",
        "stock_control",
        "stock_type",
        "tax_id",
        "tax_exemption",
        "tax_exemption_law",
        "tax_custom",
        "reference_document",
        "text",
        "serial",
    }
)
TAX_CUSTOM_FIELDS = frozenset({"country", "rate", "code", "type"})
TYPE_IDS = frozenset({"P", "S", "O", "I", "E"})


def check_item(item: object, i: int) -> Decimal:
    """Reject unknown field names (live Vendus answers P001) and return the validated qty."""
    if not isinstance(item, dict):
        raise invalid(f"items[{i}]")
    for name in item:
        if name not in ITEM_FIELDS:
            raise invalid(f"items[{i}].{name}")
    if "qty" not in item:
        raise invalid(f"items[{i}].qty")
    # quantities carry 3 decimals on the wire; price with the same qty that will be shown
    qty = Decimal(qty_str(parse_decimal(item["qty"], f"items[{i}].qty", positive=True)))
    if qty <= 0:
        raise invalid(f"items[{i}].qty")
    return qty


def _resolve_product(account: Account, item: dict, i: int, assumptions) -> tuple[dict | None, bool]:
    """Return (product, is_new). An item needs ``id`` or ``reference`` (vendus-api §3.4); an unknown
    reference with ``title`` + ``gross_price`` becomes a product."""
    if item.get("id") not in (None, ""):
        raw_id = item["id"]
        product_id = int(raw_id) if isinstance(raw_id, int) or str(raw_id).isdigit() else None
        product = account.products.get(product_id) if product_id is not None else None
        if product is None:
            raise invalid(f"items[{i}].id", "Produto não encontrado.")
        return product, False
    reference = item.get("reference")
    if reference not in (None, ""):
        product_id = account.product_by_ref.get(str(reference))
        if product_id is not None:
            return account.products[product_id], False
        if "title" not in item or "gross_price" not in item:
            raise invalid(f"items[{i}].reference", "Produto não encontrado.")
        create = assumptions.create_products_from_items
        return ({"reference": str(reference)} if create else None), create
    if not assumptions.items_without_product or "title" not in item or "gross_price" not in item:
        raise invalid(f"items[{i}]", "Indique o id ou a reference do produto.")
    return None, False


def _custom_rate(custom: object, i: int) -> tuple[str, Decimal, str | None]:
    """Validate ``tax_custom {country, rate, code?, type?}``; returns (country, rate, code or None)."""
    field = f"items[{i}].tax_custom"
    if not isinstance(custom, dict) or any(k not in TAX_CUSTOM_FIELDS for k in custom):
        raise invalid(field)
    country = str(custom.get("country") or "").upper()
    if country not in TAX_CUSTOM_COUNTRIES:
        raise invalid(f"{field}.country", "País ou região desconhecido.")
    rate = parse_decimal(custom.get("rate"), f"{field}.rate")
    if rate >= HUNDRED:
        raise invalid(f"{field}.rate")
    if str(custom.get("type") or "IVA").upper() != "IVA":
        raise invalid(f"{field}.type")
    code = custom.get("code")
    if code not in (None, "") and str(code).upper() not in TAX_IDS:
        raise invalid(f"{field}.code")
    return country, rate, (str(code).upper() if code not in (None, "") else None)


def _tax(item: dict, product: dict, region: str, date: str, i: int, assumptions) -> dict:
    """The line's tax: the account's rate for ``tax_id``, or the item's ``tax_custom`` (vendus-api §3.4)."""
    custom = None
    if item.get("tax_custom") is not None:
        custom = _custom_rate(item["tax_custom"], i)
    tax_id = str((custom and custom[2]) or item.get("tax_id") or product.get("tax_id") or "NOR").upper()
    if tax_id not in TAX_IDS:
        raise invalid(f"items[{i}].tax_id")
    own = "tax_id" in item or (custom is not None and custom[2] is not None)
    exemption = item.get("tax_exemption", product.get("tax_exemption") if not own else None)
    law = item.get("tax_exemption_law", product.get("tax_exemption_law") if not own else None)
    if tax_id == "ISE":
        allowed = exemption in EXEMPTIONS and (
            exemption not in REVOKED_EXEMPTIONS or assumptions.accept_revoked_exemptions
        )
        if not allowed:
            raise invalid(f"items[{i}].tax_exemption", "Motivo de isenção inválido.")
        # tax_exemption_law is optional (§3.4): the document then shows the account's law for the code
        if law in (None, ""):
            law = exemption_law(exemption)
        elif not isinstance(law, str) or not law.strip():
            raise invalid(f"items[{i}].tax_exemption_law")
    elif exemption:
        raise invalid(f"items[{i}].tax_exemption", "Só é permitido com tax_id ISE.")
    if custom is not None:
        country, rate = custom[0], (Decimal(0) if tax_id in ("ISE", "OUT") else custom[1])
    else:
        rate, country = rate_for(region, tax_id, date), REGIONS[region]["country"]
    return {
        "tax_id": tax_id,
        "rate": str(rate.normalize()),
        "country": country,
        "exemption": exemption if tax_id == "ISE" else "",
        "exemption_law": law.strip() if tax_id == "ISE" else "",
    }


def sale_lines(account: Account, items: object, *, date: str, assumptions) -> tuple[list, list]:
    """Price ``items`` for an FT/FS/FR/PF/... Returns (lines, products to create on commit).

    Rates come from the account (never from the store: Vendus has no per-store region)."""
    region = account.region
    if not isinstance(items, list) or not items:
        raise invalid("items")
    lines, new_products = [], []
    for i, item in enumerate(items):
        qty = check_item(item, i)
        if "reference_document" in item:
            raise invalid(f"items[{i}].reference_document", "Só é permitido em notas de crédito.")
        product, is_new = _resolve_product(account, item, i, assumptions)
        base = product if product is not None and not is_new else {}
        title = item.get("title", base.get("title"))
        if not isinstance(title, str) or not title.strip():
            raise invalid(f"items[{i}].title")
        if item.get("gross_price") is None and base.get("gross_price") is None:
            raise invalid(f"items[{i}].gross_price")
        price = parse_decimal(item.get("gross_price", base.get("gross_price")), f"items[{i}].gross_price")
        type_id = str(item.get("type_id") or base.get("type_id") or "P")
        if type_id not in TYPE_IDS:
            raise invalid(f"items[{i}].type_id")
        tax = _tax(item, base, region, date, i, assumptions)
        d_amount = parse_decimal(item.get("discount_amount", 0), f"items[{i}].discount_amount")
        d_pct = parse_decimal(item.get("discount_percentage", 0), f"items[{i}].discount_percentage")
        if d_pct > HUNDRED:
            raise invalid(f"items[{i}].discount_percentage")
        # discount_amount is taken per unit (times qty) or once per line, by assumption
        per_unit = assumptions.discount_amount_per == "unit"
        # the percentage is of the list price (not of the price after discount_amount): SDK example 76.50
        discounted = price * (HUNDRED - d_pct) / HUNDRED
        gross = q2((discounted - d_amount) * qty if per_unit else discounted * qty - d_amount)
        if gross < 0:
            raise invalid(f"items[{i}].discount_amount", "O desconto excede o valor da linha.")
        line = {
            "row": i + 1,
            "product_id": base.get("id"),
            "reference": str(item.get("reference") or base.get("reference") or ""),
            "title": title.strip(),
            "qty": qty_str(qty),
            "qty_nc": qty_str(qty),
            "type_id": type_id,
            "price": str(price),
            "discount_amount": money(d_amount),
            "discount_percentage": money(d_pct),
            "gross_total": money(gross),
            "text": str(item.get("text") or ""),
            "serial": str(item.get("serial") or ""),
            "unit_id": item.get("unit_id", base.get("unit_id")),
            "category_id": item.get("category_id", base.get("category_id")),
            "brand_id": item.get("brand_id", base.get("brand_id")),
            "stock_control": item.get("stock_control", 0),
            "ref_number": "",
            "ref_row": None,
            "ref_doc_id": None,
            "credited_gross": "0.00",
            **tax,
        }
        if is_new:
            new_products.append(
                (
                    line,
                    {
                        "reference": line["reference"],
                        "title": line["title"],
                        "gross_price": money(price),
                        "tax_id": tax["tax_id"],
                        "tax_exemption": tax["exemption"],
                        "tax_exemption_law": tax["exemption_law"],
                        "type_id": type_id,
                        "unit_id": line["unit_id"] or 1,
                    },
                )
            )
        lines.append(line)
    return lines, new_products


def apply_document_discount(lines: list[dict], amount: Decimal, percentage: Decimal) -> Decimal:
    """Spread a whole-document discount over the lines, proportionally; returns the discount value."""
    base = sum((Decimal(line["gross_total"]) for line in lines), ZERO)
    if base == 0 or (amount == 0 and percentage == 0):
        return ZERO
    target = q2(base * (HUNDRED - percentage) / HUNDRED - amount)  # both from the base, as for lines
    if target < 0:
        raise invalid("discount_amount", "O desconto excede o total do documento.")
    reduction, left = base - target, base - target
    for index, line in enumerate(lines):
        gross = Decimal(line["gross_total"])
        share = left if index == len(lines) - 1 else min(left, q2(reduction * gross / base))
        left -= share
        line["gross_total"] = money(gross - share)
    return reduction


def rate_number(rate: Decimal) -> int | float:
    """Tax rates are numeric on the wire (23, not "23.00"); display only, never used in arithmetic."""
    return int(rate) if rate == rate.to_integral_value() else float(rate)


def net_of(gross: Decimal, rate: Decimal) -> Decimal:
    return q2(gross * HUNDRED / (HUNDRED + rate))


def summarize(lines: list[dict], tax_rounding: str) -> tuple[Decimal, Decimal, list[dict]]:
    """(amount_gross, amount_net, taxes[]) with one taxes entry per VAT rate.

    By default ``amount_net`` is the sum of the lines' nets (vendus-api §4, pt-invoicing-rules §5:
    NetTotal = sum of lines) and each ``taxes[].base`` the sum of that rate's line nets, so the three
    views of one document agree. ``tax_rounding=per_rate`` derives each base from the rate's gross.
    """
    per_rate: dict[Decimal, list[Decimal]] = {}
    for line in lines:
        rate = Decimal(line["rate"])
        gross = Decimal(line["gross_total"])
        bucket = per_rate.setdefault(rate, [ZERO, ZERO])
        bucket[0] += gross
        bucket[1] += net_of(gross, rate)
    taxes, total_gross, total_net = [], ZERO, ZERO
    for rate in sorted(per_rate):
        gross, line_net = per_rate[rate]
        base = net_of(gross, rate) if tax_rounding == "per_rate" else line_net
        taxes.append(
            {
                "rate": rate_number(rate),
                "base": money(base),
                "amount": money(gross - base),
                "total": money(gross),
            }
        )
        total_gross += gross
        total_net += base
    return total_gross, total_net, taxes
