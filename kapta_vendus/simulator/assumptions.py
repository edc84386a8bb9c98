"""Every behaviour the public Vendus material leaves open, as one switchable config object.

Each field answers an entry of the reference's "Unknowns" list (see docs/simulator.md for the
table). Defaults follow the most likely reading; change them with ``--assume key=value`` on the
command line, ``POST /_sim/assumptions`` at run time, or ``SimulatorState(assumptions=...)``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field


@dataclass
class SimulatorAssumptions:
    # Unknown 1: what a bad key and a missing id look like.
    unauthorized_code: str = "A001"
    unauthorized_message: str = "Acesso negado. Chave de API inválida ou em falta."
    missing_id_message: str = "No data"
    # Unknown 2: every validation error is 403 P001 live; 422 is documented but never seen.
    validation_status: int = 403
    # Unknown 3: page size ceiling, what happens above it, headers on one-page results.
    per_page_default: int = 20
    per_page_max: int = 1000
    per_page_over_max: str = "clamp"  # "clamp" or "error" (403 P001)
    paginator_headers_on_single_page: bool = True
    # Unknown 4: comma lists in ``type``; what ``view=detailed`` adds to list rows.
    type_filter_accepts_lists: bool = True
    list_rows_client: str = "detailed"  # "never", "detailed" (only with view=detailed) or "always"
    # Unknown 5: series format (per register code + year) and so whether numbering restarts yearly.
    series_format: str = "{code}P{year}"
    # Unknown 7: external_reference is not a dedup key; tx_id is kept forever (None) or N seconds.
    external_reference_dedup: bool = False
    tx_id_retention_seconds: float | None = None
    # Unknown 8: which types PATCH status=A cancels, and which may be marked F (invoiced).
    cancellable_types: list[str] = field(default_factory=lambda: ["RG", "PF", "OT", "EC", "DC", "GT", "GR", "GD", "GA"])
    allow_patch_to_f: bool = True
    invoiceable_types: list[str] = field(default_factory=lambda: ["PF", "OT", "EC", "DC", "GT", "GR", "GD", "GA"])
    # Unknown 9: NC sign, line discount basis and tax rounding.
    nc_amount_sign: str = "positive"  # "positive" or "negative"
    discount_amount_per: str = "unit"  # "unit" (per unit, times qty) or "line"
    tax_rounding: str = "per_line"  # "per_line" (net = sum of line nets, §4) or "per_rate" (from each rate's gross)
    # Unknown 10: mode=tests on a normal register, and the register used when none is given.
    mode_override_allowed: bool = True
    default_register: str = "first"  # "first" active register of the account, or "required"
    # Unknown 11: partial RGs and how one RG amount is split over several invoices.
    rg_partial_payment: bool = True
    rg_allocation: str = "in_order"  # "in_order" (each up to its unpaid) or "proportional"
    # Unknown 12: third-party-only transport variants.
    accept_bearer_auth: bool = False
    accept_form_bodies: bool = False
    # Not in the unknowns list but still inferred: which documents are paid at issue, and which
    # documents create an automatic RG when they carry payments.
    require_payments_types: list[str] = field(default_factory=lambda: ["FS", "FR"])
    auto_rg_types: list[str] = field(default_factory=lambda: ["FT"])  # §7.2: FR/FS are receipts themselves
    create_products_from_items: bool = True
    # Deviations from the official docs, off by default (each one a documented switch):
    items_without_product: bool = False  # §3.4 needs id or reference (NC items too); True waives it
    accept_revoked_exemptions: bool = False  # M03/M08/M26 are listed as revoked; True accepts them
    rg_net: str = "proportional"  # RG amount_net: "proportional" net of what it pays, or "gross"
    strict_document_fields: bool = True
    products_default_status: str = "on"  # product list without ?status= shows only active ones
    list_date_field: str = "date"  # since/until compare the document "date" or the "system_time" date

    def update(self, values: dict) -> SimulatorAssumptions:
        """Apply a dict of overrides, coercing strings from the command line to the field's type."""
        known = {f.name: f for f in dataclasses.fields(self)}
        for key, raw in values.items():
            if key not in known:
                raise ValueError(f"unknown assumption {key!r}")
            setattr(self, key, _coerce(getattr(self, key), raw))
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(current: object, raw: object) -> object:
    if not isinstance(raw, str):
        return raw
    if isinstance(current, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, list):
        return [part.strip() for part in raw.split(",") if part.strip()]
    if current is None or isinstance(current, float):
        return None if raw.strip().lower() in {"", "none", "null"} else float(raw)
    return raw


def parse_assume_options(pairs: list[str] | tuple[str, ...]) -> dict:
    """``["per_page_max=100", "validation_status=422"]`` -> dict (values parsed as JSON when possible)."""
    result: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {pair!r}")
        try:
            result[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            result[key.strip()] = value
    return result
