"""Per-integration mapping: POS names → Vendus ids, stores → registers/regions, FS limit, mode.

Loaded from a plain dict (a YAML file or a JSON column). Unlike events, unknown keys in a mapping
are refused: a misspelt ``payment_method`` silently ignored would turn every sale into an error.
Payment method names are matched case-insensitively (POS exports disagree on "Cash" vs "cash");
product references are matched exactly, as SKUs are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, tzinfo
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from kapta_vendus.events.fields import ExemptionCode, Text
from kapta_vendus.events.validation import flatten_errors
from kapta_vendus.pipeline.errors import MappingConfigError, MappingError
from kapta_vendus.pipeline.model import (
    GOODS,
    LINE_KINDS,
    REGIONS,
    Payment,
    Sale,
    SaleLine,
    region_timezone,
)

MODES = ("normal", "tests")
DEFAULT_FS_LIMIT = Decimal(1000)  # a cap: the legal limit is decided per sale (fiscal.legal_fs_limit)
MAX_FS_LIMIT = Decimal(1000)
# A consumer invoice of 1,000 EUR or more without the buyer's name and address (CIVA 36):
# refused, or issued with a warning and an alert (pt-invoicing-rules §3).
BUYER_IDENTIFICATION = ("reject", "warn")
NON_FISCAL_SALE_TYPES = ("DC", "EC", "PF", "OT")


class _ConfigId(fields.Field):
    """A Vendus id: an integer, or a string of digits (JSON object keys and quoted YAML)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(f"must be a positive integer id (got {value!r})")
        return value


class _ConfigAmount(fields.Field):
    """A euro amount in config. YAML turns 99.5 into a float; its repr is the digits written."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise ValidationError(f'must be an amount such as "1000" (got {value!r})')
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError(f'must be an amount such as "1000" (got {value!r})') from None
        if not amount.is_finite() or amount <= 0:
            raise ValidationError(f"must be greater than 0 (got {value})")
        if amount > MAX_FS_LIMIT:
            raise ValidationError(
                f"must be at most {MAX_FS_LIMIT}: the law allows no FS above 1000 € (got {value})"
            )
        return amount


def _one_of(choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error="must be one of " + ", ".join(choices) + " (got {input!r})")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class StoreSchema(_Strict):
    region = fields.String(load_default="mainland", validate=_one_of(REGIONS))
    register_id = _ConfigId(load_default=None, allow_none=True)
    fs_limit = _ConfigAmount(load_default=None, allow_none=True)


class IntegrationMappingSchema(_Strict):
    mode = fields.String(required=True, validate=_one_of(MODES))
    payment_methods = fields.Dict(
        keys=Text(required=True, max_length=50), values=_ConfigId(), load_default=dict
    )
    products = fields.Dict(keys=Text(required=True, max_length=100), values=_ConfigId(), load_default=dict)
    stores = fields.Dict(keys=_ConfigId(), values=fields.Nested(StoreSchema), load_default=dict)
    default_register_id = _ConfigId(load_default=None, allow_none=True)
    series = Text(max_length=30, load_default=None, allow_none=True)
    exemption_laws = fields.Dict(
        keys=ExemptionCode(), values=Text(required=True, max_length=300), load_default=dict
    )
    fs_limit = _ConfigAmount(load_default=DEFAULT_FS_LIMIT)
    sale_document_sources = fields.List(
        fields.String(validate=_one_of(NON_FISCAL_SALE_TYPES)), load_default=list
    )
    default_kind = fields.String(load_default=GOODS, validate=_one_of(LINE_KINDS))
    product_kinds = fields.Dict(
        keys=Text(required=True, max_length=100), values=fields.String(validate=_one_of(LINE_KINDS)),
        load_default=dict,
    )
    buyer_identification = fields.String(load_default="reject", validate=_one_of(BUYER_IDENTIFICATION))


# Built once and reused (it keeps no per-load state): three steps of every event load the mapping.
_SCHEMA = IntegrationMappingSchema()


@dataclass(frozen=True)
class StoreMapping:
    region: str = "mainland"
    register_id: int | None = None
    fs_limit: Decimal | None = None


@dataclass(frozen=True)
class IntegrationMapping:
    mode: str
    payment_methods: Mapping[str, int]  # keys lower-cased
    products: Mapping[str, int]
    stores: Mapping[int, StoreMapping]
    default_register_id: int | None
    series: str | None  # informational: Vendus has no series field, the register decides it
    exemption_laws: Mapping[str, str]  # the operator's overrides; otherwise the account's law texts
    fs_limit: Decimal
    sale_document_sources: frozenset[str]
    default_kind: str = GOODS
    product_kinds: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    buyer_identification: str = "reject"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> IntegrationMapping:
        """Validate and load a mapping; raise MappingConfigError naming every bad field."""
        if not isinstance(raw, Mapping):
            raise MappingConfigError(["mapping: must be an object"])
        try:
            data = _SCHEMA.load(raw)
        except ValidationError as exc:
            # marshmallow files dict errors under "key"/"value"; the dict key alone names the entry.
            reasons = [re.sub(r"\.(?:key|value)(?=[.\[:])", "", r) for r in flatten_errors(exc.messages)]
            raise MappingConfigError(reasons) from None
        methods: dict[str, int] = {}
        for name, method_id in data["payment_methods"].items():
            if name.lower() in methods:
                raise MappingConfigError(
                    [f"payment_methods.{name}: given twice (names are case-insensitive)"]
                )
            methods[name.lower()] = method_id
        return cls(
            mode=data["mode"],
            payment_methods=MappingProxyType(methods),
            products=MappingProxyType(dict(data["products"])),
            stores=MappingProxyType({k: StoreMapping(**v) for k, v in data["stores"].items()}),
            default_register_id=data["default_register_id"],
            series=data["series"],
            exemption_laws=MappingProxyType(dict(data["exemption_laws"])),
            fs_limit=data["fs_limit"],
            sale_document_sources=frozenset(data["sale_document_sources"]),
            default_kind=data["default_kind"],
            product_kinds=MappingProxyType(dict(data["product_kinds"])),
            buyer_identification=data["buyer_identification"],
        )

    def store(self, store_id: int) -> StoreMapping:
        return self.stores.get(store_id, StoreMapping())

    def timezone_for(self, store_id: int) -> tzinfo:
        return region_timezone(self.store(store_id).region)

    def fs_limit_for(self, store_id: int) -> Decimal:
        return self.store(store_id).fs_limit or self.fs_limit

    def register_for(self, store_id: int, requested: int | None = None) -> int:
        """The sale's own register, else the store's, else the integration's default."""
        register = requested or self.store(store_id).register_id or self.default_register_id
        if register is None:
            raise MappingError(
                [
                    f"no register for store {store_id}: send register_id, or set"
                    f" stores.{store_id}.register_id or default_register_id in the mapping"
                ]
            )
        return register

    def method_id(self, method: str) -> int:
        found = self.payment_methods.get(method.strip().lower())
        if found is None:
            known = ", ".join(sorted(self.payment_methods)) or "none"
            raise MappingError(
                [f"payment method {method!r} is not mapped to a Vendus payment method (mapped: {known})"]
            )
        return found

    def exemption_law(self, code: str) -> str | None:
        """The operator's own text for ``code``, if any (the account's law text applies otherwise)."""
        return self.exemption_laws.get(code)

    def kind_of(self, line: SaleLine) -> str:
        """goods or service: the event's, else the mapping's for the product, else the default."""
        if line.kind:
            return line.kind
        return self.product_kinds.get(line.reference or "", self.default_kind)

    def region_for(self, store_id: int) -> str:
        return self.store(store_id).region

    def counts_as_sale(self, document_type: str) -> bool:
        """Whether closing this non-fiscal Vendus document (DC/EC/PF/OT) is treated as a sale."""
        return document_type.upper() in self.sale_document_sources


@dataclass(frozen=True)
class MappedLine:
    line: SaleLine
    product_id: int | None  # None: unknown product, sent as reference + title + gross_price
    exemption_law: str | None  # the operator's legal text for ISE lines; None: the account's
    kind: str = GOODS  # goods / service, sent as type_id P / S

    @property
    def reference(self) -> str:
        """Always a reference, so that any issued row can be credited by reference."""
        return self.line.stable_reference


@dataclass(frozen=True)
class MappedPayment:
    payment: Payment
    method_id: int | None  # None only for a pending payment whose method is not mapped


@dataclass(frozen=True)
class MappedSale:
    sale: Sale
    register_id: int
    mode: str
    fs_limit: Decimal
    timezone: tzinfo
    lines: tuple[MappedLine, ...]
    payments: tuple[MappedPayment, ...]
    region: str = "mainland"
    buyer_identification: str = "reject"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(line.kind for line in self.lines)

    @property
    def local_date(self) -> date:
        """The sale's date in the store's legal time: a sale at 00:30 in Lisbon is that day's."""
        return self.sale.closed_at.astimezone(self.timezone).date()

    @property
    def paid_payments(self) -> tuple[MappedPayment, ...]:
        return tuple(p for p in self.payments if p.payment.is_paid)


def map_sale(sale: Sale, mapping: IntegrationMapping) -> MappedSale:
    """Resolve Vendus ids for a sale; raise MappingError listing every unresolved name."""
    reasons: list[str] = []
    try:
        register_id = mapping.register_for(sale.store_id, sale.register_id)
    except MappingError as exc:
        reasons.extend(exc.reasons)
        register_id = 0
    payments: list[MappedPayment] = []
    for index, payment in enumerate(sale.payments):
        try:
            method_id: int | None = mapping.method_id(payment.method)
        except MappingError as exc:
            method_id = None
            # A pending payment is not sent with the invoice; its method matters when it is confirmed.
            if payment.is_paid:
                reasons.extend(f"payments[{index}]: {r}" for r in exc.reasons)
        payments.append(MappedPayment(payment, method_id))
    if reasons:
        raise MappingError(reasons)
    lines = tuple(
        MappedLine(
            line=line,
            product_id=mapping.products.get(line.reference) if line.reference else None,
            exemption_law=mapping.exemption_law(line.exemption) if line.exemption else None,
            kind=mapping.kind_of(line),
        )
        for line in sale.lines
    )
    return MappedSale(
        sale=sale,
        register_id=register_id,
        mode=mapping.mode,
        fs_limit=mapping.fs_limit_for(sale.store_id),
        timezone=mapping.timezone_for(sale.store_id),
        lines=lines,
        payments=tuple(payments),
        region=mapping.region_for(sale.store_id),
        buyer_identification=mapping.buyer_identification,
    )
