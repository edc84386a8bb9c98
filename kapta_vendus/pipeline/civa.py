"""The rules of the VAT code that decide which document a sale may be, and how it is paid.

* FS limit, CIVA 40(1): 1,000 EUR only when every line is goods sold to a non-taxable buyer;
  100 EUR for anything else (a service line, a company buyer) — pt-invoicing-rules §3.
* Consumer identification, CIVA 36: an invoice of 1,000 EUR or more to a non-taxable buyer
  carries the buyer's name and address — pt-invoicing-rules §3.
* Rounding: Vendus totals each line to cents and adds them up; a POS may round the whole
  document. Within one cent per line the payment amount is left out, so Vendus takes its own
  total, and the difference is recorded — reference/events.md "Late and rounded sales".
* Regional rates: Madeira and Azores lines carry ``tax_custom`` with the region's rate
  (vendus-api §3.4; rates from pt-invoicing-rules §2).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from kapta_vendus.pipeline.model import CENT, GOODS

GOODS_TO_CONSUMER_FS_LIMIT = Decimal(1000)
OTHER_FS_LIMIT = Decimal(100)
IDENTIFIED_CONSUMER_THRESHOLD = Decimal(1000)

# NIF prefixes of individuals (pt-invoicing-rules §1): 1-3 residents, 45 non-residents. A buyer
# with any other NIF (companies 5, public bodies 6, 7x/9x entities, the old sole-trader range 8)
# is treated as a taxable person, and so is a buyer with a valid EU VAT number.
_INDIVIDUAL_PREFIXES = ("1", "2", "3", "45")

# Vendus country codes and rates of the island regions, per VAT code (pt-invoicing-rules §2).
REGION_COUNTRY = {"mainland": "PT", "madeira": "PT-MA", "azores": "PT-AC"}
REGIONAL_RATES: dict[str, dict[str, Decimal]] = {
    "madeira": {"NOR": Decimal(22), "INT": Decimal(12), "RED": Decimal(4)},
    "azores": {"NOR": Decimal(16), "INT": Decimal(9), "RED": Decimal(4)},
}


def is_taxable_buyer(fiscal_id: str | None, country: str, eu_vat: bool) -> bool:
    """Whether the buyer is (presumed) a taxable person, from the id they gave."""
    if not fiscal_id:
        return False
    if country != "PT":
        return eu_vat
    return not fiscal_id.startswith(_INDIVIDUAL_PREFIXES)


def legal_fs_limit(kinds: Iterable[str], taxable_buyer: bool, cap: Decimal | None = None) -> Decimal:
    """The largest total an FS may have for this sale (CIVA 40(1)), never above ``cap``."""
    kinds = tuple(kinds)
    all_goods = bool(kinds) and all(kind == GOODS for kind in kinds)
    limit = GOODS_TO_CONSUMER_FS_LIMIT if all_goods and not taxable_buyer else OTHER_FS_LIMIT
    return min(limit, cap) if cap is not None else limit


def fs_limit_reason(total: Decimal, limit: Decimal, kinds: Iterable[str], taxable_buyer: bool) -> str:
    why = ("the buyer is a taxable person" if taxable_buyer
           else "the sale has service lines" if any(k != GOODS for k in kinds)
           else "of this integration's limit")
    legal = "CIVA 40(1) allows 1000 € only for goods sold to non-taxable buyers, 100 € otherwise"
    return (f"document_type: an FS of {total} € is over the FS limit of {limit} € ({why}; {legal}):"
            " issue an FR or FT instead")


@dataclass(frozen=True)
class PaymentSettlement:
    """How the paid payments of an FR/FS are sent, against the total Vendus will compute."""

    vendus_total: Decimal  # the sum of the lines, each rounded to cents
    paid: Decimal  # what the POS says was paid
    omit_amount: bool  # leave the amount out: Vendus then charges its own total

    @property
    def difference(self) -> Decimal:
        return self.paid - self.vendus_total


def rounding_tolerance(line_count: int) -> Decimal:
    return CENT * max(line_count, 1)


def settle(vendus_total: Decimal, paid: Decimal, line_count: int) -> PaymentSettlement | None:
    """The settlement of a paid sale, or None when the payments differ by more than a cent a line."""
    difference = paid - vendus_total
    if abs(difference) > rounding_tolerance(line_count):
        return None
    return PaymentSettlement(vendus_total, paid, omit_amount=difference != 0)


def tax_custom(region: str, tax: str) -> dict[str, object] | None:
    """The item's ``tax_custom`` for an island store (None on the mainland and for exempt lines)."""
    rates = REGIONAL_RATES.get(region)
    if rates is None or tax not in rates:
        return None
    rate = rates[tax]
    return {"country": REGION_COUNTRY[region], "rate": f"{rate.normalize():f}", "code": tax, "type": "IVA"}


def region_of_postal_code(postal_code: str | None) -> str | None:
    """The tax region of a Portuguese postal code: 9000-9399 Madeira, 9500-9999 Azores."""
    digits = "".join(ch for ch in str(postal_code or "") if ch.isdigit())[:4]
    if len(digits) < 4:
        return None
    number = int(digits)
    if 9000 <= number <= 9399:
        return "madeira"
    if 9500 <= number <= 9999:
        return "azores"
    return "mainland"
