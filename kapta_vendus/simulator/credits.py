"""Credit notes (NC): every line points at a row of an issued invoice and credits part of its qty.

Rules (reference §7.4): ``notes`` is required; each item needs ``reference_document{document_number,
document_row}`` (row is 1-based) and a qty within that row's ``qty_nc``; price, tax and title come from
the original line and whatever else the item says is ignored. A top-level ``reference_document_id``
is refused. A test-mode NC may credit a real invoice: it lives in the test space and leaves the
original's ``qty_nc`` alone.

The credited value of ``q`` units is the original line total times q/qty, except that the credit
which empties a row takes exactly what is left, so credits of a row never add up to more (or less)
than the row itself.
"""

from __future__ import annotations

from decimal import Decimal

from .accounts import Account
from .errors import invalid
from .lines import check_item
from .money import ZERO, money, q2, qty_str

CREDITABLE_TYPES = frozenset({"FT", "FS", "FR"})
REFERENCE_FIELDS = frozenset({"document_number", "document_row", "reference_id", "reference_relation"})


def _original(account: Account, ref: object, mode: str, i: int) -> tuple[dict, bool]:
    """Find the referenced invoice; returns (doc, same_space)."""
    field = f"items[{i}].reference_document"
    if not isinstance(ref, dict) or any(k not in REFERENCE_FIELDS for k in ref):
        raise invalid(field)
    number = ref.get("document_number")
    if not isinstance(number, str) or not number.strip():
        raise invalid(f"{field}.document_number")
    doc = account.find_number(number.strip(), mode)
    same_space = doc is not None
    if doc is None and mode == "tests":
        doc = account.find_number(number.strip(), "normal")
    if doc is None:
        raise invalid(f"{field}.document_number", "Documento de referência não encontrado.")
    if doc["type"] not in CREDITABLE_TYPES or doc["status"] != "N":
        raise invalid(f"{field}.document_number", "Documento de referência não pode ser creditado.")
    return doc, same_space


def credit_lines(
    account: Account, items: object, mode: str, need_product: bool = True
) -> tuple[list[dict], list[tuple]]:
    """Return (NC lines, effects); each effect is (original doc, row index, qty, gross) to apply on commit.

    Each item names the original line's product by ``id`` or ``reference`` (vendus-api §3.4: one of
    the two is always required; §7.4: the original line's); ``need_product=False`` waives it."""
    if not isinstance(items, list) or not items:
        raise invalid("items")
    lines: list[dict] = []
    effects: list[tuple] = []
    pending: dict[tuple[int, int], list[Decimal]] = {}  # (doc id, row) -> [qty, gross] in this NC
    for i, item in enumerate(items):
        qty = check_item(item, i)
        if "reference_document" not in item:
            raise invalid(f"items[{i}].reference_document", "Obrigatório em notas de crédito.")
        if need_product and item.get("id") in (None, "") and item.get("reference") in (None, ""):
            raise invalid(f"items[{i}]", "Indique o id ou a reference do artigo da linha original.")
        original, same_space = _original(account, item["reference_document"], mode, i)
        row = item["reference_document"].get("document_row")
        if isinstance(row, str) and row.isdigit():
            row = int(row)
        if not isinstance(row, int) or isinstance(row, bool) or not 1 <= row <= len(original["items"]):
            raise invalid(f"items[{i}].reference_document.document_row")
        source = original["items"][row - 1]
        used = pending.setdefault((original["id"], row), [ZERO, ZERO])
        available = Decimal(source["qty_nc"]) - used[0]
        if qty > available:
            raise invalid(f"items[{i}].qty", f"Quantidade superior à disponível para crédito ({qty_str(available)}).")
        row_qty, row_gross = Decimal(source["qty"]), Decimal(source["gross_total"])
        if same_space and qty == available:
            gross = row_gross - Decimal(source["credited_gross"]) - used[1]
        else:
            gross = min(q2(row_gross * qty / row_qty), row_gross - Decimal(source["credited_gross"]) - used[1])
        gross = max(gross, ZERO)
        used[0] += qty
        used[1] += gross
        lines.append(
            {
                **source,
                "row": i + 1,
                "qty": qty_str(qty),
                "qty_nc": qty_str(0),
                "gross_total": money(gross),
                "ref_number": original["number"],
                "ref_row": row,
                "ref_doc_id": original["id"],
                "credited_gross": "0.00",
            }
        )
        if same_space:
            effects.append((original, row - 1, qty, gross))
    return lines, effects


def apply_credit(original: dict, row_index: int, qty: Decimal, gross: Decimal) -> None:
    """Lower the original row's creditable qty. Copy-on-write: lines may be shared between documents."""
    items = list(original["items"])
    line = dict(items[row_index])
    line["qty_nc"] = qty_str(Decimal(line["qty_nc"]) - qty)
    line["credited_gross"] = money(Decimal(line["credited_gross"]) + gross)
    items[row_index] = line
    original["items"] = items


def reverse_credit(account: Account, note: dict) -> list[dict]:
    """Give a cancelled NC's quantities back to the rows it credited (same space only)."""
    touched = []
    for line in note["items"]:
        original = account.docs.get(line["ref_doc_id"])
        if original is None or original["mode"] != note["mode"]:
            continue  # a test NC against a real invoice never took anything from it
        apply_credit(original, line["ref_row"] - 1, -Decimal(line["qty"]), -Decimal(line["gross_total"]))
        touched.append(original)
    return touched
