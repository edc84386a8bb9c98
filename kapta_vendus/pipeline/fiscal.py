"""Fiscal checks made before any call to Vendus (ARCHITECTURE guarantee 5).

A document Vendus accepts cannot be deleted, only corrected with a credit note, so everything
we can check locally is checked here and turned into a rejection a person can act on. Reasons
never quote the NIF itself: they end up in logs and step records (data minimisation).
Rules and their sources: reference/pt-invoicing-rules.md §1 (NIF), §2 (exemptions), §3 (documents).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.pt import nif as pt_nif

from kapta_vendus.events.exemptions import INTRA_EU_EXEMPTION, exemption_problem
from kapta_vendus.pipeline import civa
from kapta_vendus.pipeline.account_exemptions import REVERSE_CHARGE_CODES, AccountExemption
from kapta_vendus.pipeline.credit_notes import (  # re-exported: the credit-note plan is a fiscal check too
    CREDITABLE_TYPES,
    CreditLine,
    CreditNotePlan,
    plan_credit_note,
)
from kapta_vendus.pipeline.errors import FiscalRejection
from kapta_vendus.pipeline.model import FINAL_CONSUMER_NIF, Customer, Sale, compact_fiscal_id

__all__ = [
    "CREDITABLE_TYPES",
    "PAID_AT_ISSUE",
    "SALE_DOCUMENT_TYPES",
    "ClientDecision",
    "CreditLine",
    "CreditNotePlan",
    "FiscalClearance",
    "check_pt_nif",
    "check_receipt",
    "check_sale",
    "plan_credit_note",
    "resolve_client",
]

SALE_DOCUMENT_TYPES = ("FT", "FR", "FS")
PAID_AT_ISSUE = ("FR", "FS")  # Vendus refuses them without payments; the law says paid at issue
TAX_CODES = ("NOR", "INT", "RED", "ISE")

# NIF prefixes in use (pt-invoicing-rules §1). "8" is an obsolete range: warned about, not refused.
_NIF_PREFIXES_1 = frozenset("12356")
_NIF_PREFIXES_2 = frozenset({"45", "70", "71", "72", "74", "75", "77", "78", "79", "90", "91", "98", "99"})
_NOT_A_NIF = "customer.fiscal_id: not a valid Portuguese NIF"
_EU_VAT_PREFIXES = frozenset({cc.upper() for cc in eu_vat.MEMBER_STATES if cc != "gr"} | {"EL"})
_EU_COUNTRIES = frozenset({cc.upper() for cc in eu_vat.MEMBER_STATES if cc != "xi"})


@dataclass(frozen=True)
class ClientDecision:
    """Who the document is addressed to. ``omit``: anonymous final consumer, no client sent.

    A customer without a NIF who gave a name, an address or an email is not anonymous: the client
    is sent with those fields and no ``fiscal_id`` (pt-invoicing-rules §3, events.md).
    """

    omit: bool
    customer: Customer | None = None
    fiscal_id: str | None = None  # normalised: a PT NIF without "PT", a foreign id compacted
    country: str = "PT"
    eu_vat: bool = False  # a valid EU VAT number of another member state (intra-EU B2B)
    warnings: tuple[str, ...] = ()

    @property
    def taxable(self) -> bool:
        return civa.is_taxable_buyer(self.fiscal_id, self.country, self.eu_vat)

    @property
    def identified(self) -> bool:
        """Name and address are on the document (CIVA 36, invoices of 1,000 EUR or more)."""
        return self.customer is not None and self.customer.is_named_with_address


@dataclass(frozen=True)
class FiscalClearance:
    document_type: str
    client: ClientDecision
    warnings: tuple[str, ...] = ()
    settlement: civa.PaymentSettlement | None = None  # FR/FS: how the payments are sent


def check_pt_nif(value: str) -> tuple[str, tuple[str, ...]]:
    """Validate a Portuguese NIF; return (9 digits, warnings) or raise FiscalRejection."""
    number = pt_nif.compact(value)
    if not (len(number) == 9 and number.isdigit()):
        raise FiscalRejection([f"{_NOT_A_NIF} (must be 9 digits)"])
    if number[0] not in _NIF_PREFIXES_1 | {"8"} and number[:2] not in _NIF_PREFIXES_2:
        prefix = number[:2] if number[0] in "479" else number[0]  # 4x, 7x, 9x are split by 2 digits
        raise FiscalRejection([f"{_NOT_A_NIF} (prefix {prefix} is not assigned)"])
    try:
        pt_nif.validate(number)
    except StdnumError:
        raise FiscalRejection([f"{_NOT_A_NIF} (wrong check digit)"]) from None
    if number[0] == "8":
        return number, ("customer.fiscal_id: NIF prefix 8 is an obsolete range; accepted, please verify",)
    return number, ()


def resolve_client(customer: Customer | None) -> ClientDecision:
    """Decide whether and how the customer is sent; raise FiscalRejection for a bad fiscal id."""
    if customer is None or customer.is_final_consumer:
        # No NIF, or 999999990: a consumer. Vendus must never receive 999999990; a consumer who
        # gave a name, address or email still gets them on the document.
        country = (customer.country or "PT").upper() if customer else "PT"
        named = customer is not None and bool(customer.identification)
        return ClientDecision(omit=not named, customer=customer, country=country)
    country = (customer.country or "PT").upper()
    raw = customer.fiscal_id or ""
    if country == "PT":
        if re.match(r"[A-Za-z]{2}", raw.strip()) and not raw.strip().upper().startswith("PT"):
            hint = "for a foreign customer send customer.country"
            raise FiscalRejection([f"customer.fiscal_id: not a valid Portuguese NIF; {hint}"])
        number, warnings = check_pt_nif(raw)
        return ClientDecision(
            omit=False, customer=customer, fiscal_id=number, country="PT", warnings=warnings
        )
    return _foreign_client(customer, compact_fiscal_id(raw), country)


def _foreign_client(customer: Customer, compact: str, country: str) -> ClientDecision:
    if not re.fullmatch(r"[A-Z0-9]{2,20}", compact):
        raise FiscalRejection(["customer.fiscal_id: a foreign fiscal id must be 2 to 20 letters and digits"])
    if compact == FINAL_CONSUMER_NIF:
        return ClientDecision(omit=True, customer=customer)
    decision = {"omit": False, "customer": customer, "fiscal_id": compact, "country": country}
    if country in _EU_COUNTRIES and compact[:2] in _EU_VAT_PREFIXES:
        # An EU customer's id written as an EU VAT number has to be one. (Outside the EU two
        # leading letters mean nothing to us: such ids are accepted with their country.)
        if not eu_vat.is_valid(compact):
            raise FiscalRejection([f"customer.fiscal_id: not a valid {compact[:2]} VAT number"])
        return ClientDecision(**decision, eu_vat=compact[:2] != "PT")
    vat_prefix = "EL" if country == "GR" else country
    if country in _EU_COUNTRIES and eu_vat.is_valid(vat_prefix + compact):
        return ClientDecision(**decision, eu_vat=True)
    warnings: tuple[str, ...] = ()
    if country in _EU_COUNTRIES:
        warnings = (f"customer.fiscal_id: not a {country} VAT number; the customer is treated as a consumer",)
    return ClientDecision(**decision, warnings=warnings)


def check_sale(
    sale: Sale,
    *,
    document_type: str,
    fs_limit: Decimal | None = None,
    kinds: tuple[str, ...] | None = None,
    exemptions: Mapping[str, AccountExemption] | None = None,
    buyer_identification: str = "reject",
) -> FiscalClearance:
    """Every check for issuing ``document_type`` for ``sale``; raise FiscalRejection with all reasons.

    ``fs_limit`` is the integration's cap (the legal limit comes from ``kinds`` and the buyer),
    ``kinds`` the line kinds (goods when not given), ``exemptions`` the account's accepted codes.
    """
    reasons: list[str] = []
    warnings: list[str] = []
    if document_type not in SALE_DOCUMENT_TYPES:
        reasons.append(f"document_type: a sale is issued as FT, FR or FS, not {document_type}")
    try:
        client = resolve_client(sale.customer)
    except FiscalRejection as exc:
        reasons.extend(exc.reasons)
        client = ClientDecision(omit=True)
    warnings.extend(client.warnings)
    if not sale.lines:
        reasons.append("lines: a document needs at least one line")
    for index, line in enumerate(sale.lines):
        reasons.extend(_line_reasons(f"lines[{index}] ({line.title})", line, client, exemptions))
    settlement = None
    reasons.extend(_payment_reasons(sale, document_type))
    if document_type in PAID_AT_ISSUE and sale.payment_status == "paid":
        settlement = civa.settle(sale.total, sale.paid_amount, len(sale.lines))
    total = sale.total
    kinds = kinds if kinds is not None else tuple("goods" for _ in sale.lines)
    if document_type == "FS":
        limit = civa.legal_fs_limit(kinds, client.taxable, fs_limit)
        if total > limit:
            reasons.append(civa.fs_limit_reason(total, limit, kinds, client.taxable))
    if total >= civa.IDENTIFIED_CONSUMER_THRESHOLD and not client.taxable and not client.identified:
        problem = (f"customer: an invoice of {total} € to a non-taxable buyer must carry the buyer's name "
                   "and address (CIVA 36)")
        if buyer_identification == "warn":
            warnings.append(f"{problem}; issued without them as this integration allows")
        else:
            reasons.append(f"{problem}; send customer.name and customer.address")
    if reasons:
        raise FiscalRejection(reasons)
    return FiscalClearance(document_type=document_type, client=client, warnings=tuple(warnings),
                           settlement=settlement)


def _line_reasons(where: str, line: Any, client: ClientDecision,
                  exemptions: Mapping[str, AccountExemption] | None) -> list[str]:
    reasons: list[str] = []
    if line.tax not in TAX_CODES:
        reasons.append(f"{where}: tax must be one of {', '.join(TAX_CODES)} (got {line.tax})")
    if line.tax == "ISE":
        code = line.exemption
        if not code:
            reasons.append(f"{where}: a 0% (ISE) line needs an exemption code (M-code)")
        elif problem := exemption_problem(code):
            reasons.append(f"{where}: {problem}")
        elif exemptions is not None and code not in exemptions:
            reasons.append(f"{where}: exemption {code} is not accepted by this Vendus account "
                           f"(its taxes/exemptions list: {', '.join(sorted(exemptions)) or 'empty'})")
        elif code == INTRA_EU_EXEMPTION and not client.eu_vat:
            reasons.append(f"{where}: M16 (intra-EU supply) needs a customer with a valid EU VAT number "
                           "of another member state")
        elif code in REVERSE_CHARGE_CODES and not (client.fiscal_id and client.country == "PT"
                                                   and client.taxable):
            reasons.append(f"{where}: {code} (reverse charge) needs a taxable Portuguese buyer with a valid NIF")
    elif line.exemption:
        reasons.append(f"{where}: an exemption code is only allowed on ISE lines")
    if line.qty <= 0 or line.unit_price <= 0 or line.total <= 0:
        reasons.append(f"{where}: zero or negative lines are not allowed; use discount_percentage for discounts")
    if not Decimal(0) <= line.discount_percentage <= Decimal(100):
        reasons.append(f"{where}: discount_percentage must be between 0 and 100")
    return reasons


def _payment_reasons(sale: Sale, document_type: str) -> list[str]:
    total, paid, status = sale.total, sale.paid_amount, sale.payment_status
    reasons: list[str] = []
    if status == "paid" and civa.settle(total, paid, len(sale.lines)) is None:
        tolerance = civa.rounding_tolerance(len(sale.lines))
        reasons.append(f"payments: the sale is marked paid with {paid} €, but its lines total {total} € as "
                       f"Vendus computes them (per line); more than {tolerance} € apart")
    elif status == "partial" and not Decimal(0) < paid < total:
        reasons.append(
            f"payments: the sale is marked partial but paid payments add up to {paid} € of {total} €"
        )
    elif status == "pending" and paid != 0:
        reasons.append(f"payments: the sale is marked pending but {paid} € is marked paid")
    if document_type in PAID_AT_ISSUE and status != "paid":
        reasons.append(f"document_type: an {document_type} is paid at issue, but the sale is {status}")
    return reasons


def check_receipt(invoice_numbers: Sequence[str], amount: Decimal) -> None:
    """An RG names the invoices it settles and a positive amount in cents."""
    reasons = []
    if not invoice_numbers or not all(isinstance(n, str) and n.strip() for n in invoice_numbers):
        reasons.append("invoices: a receipt must reference at least one invoice number")
    if not isinstance(amount, Decimal) or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        reasons.append(f"amount: a receipt needs a positive amount with at most 2 decimals (got {amount})")
    if reasons:
        raise FiscalRejection(reasons)
