"""marshmallow schemas of the wire contract (reference/events.md): the envelope and each payload.

Loading gives plain dicts with typed values (Decimal money, aware datetimes); the pipeline's
normaliser turns them into frozen models. Unknown fields are excluded here (they stay in the raw
event kept by the inbox), so a sender may add fields without breaking anything.

Cross-field rules use ``skip_on_field_errors=False`` so that one payload reports all its
problems at once instead of one per round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema

from kapta_vendus.events.catalogue import EVENT_TYPES, EventType
from kapta_vendus.events.fields import (
    AwareDateTime,
    CountryCode,
    DocumentStatus,
    ExemptionCode,
    Money,
    Percentage,
    PositiveMoney,
    Quantity,
    StrictInteger,
    Text,
    VendusAmount,
)

TAX_CODES = ("NOR", "INT", "RED", "ISE")
EXEMPT_TAX = "ISE"
PAYMENT_STATUSES = ("paid", "partial", "pending")
PAYMENT_LINE_STATUSES = ("paid", "pending")
LINE_KINDS = ("goods", "service")  # CIVA 40(1): the FS limit depends on it; sent as type_id P / S


def _one_of(choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error="must be one of " + ", ".join(choices) + " (got {input!r})")


class _Base(Schema):
    class Meta:
        unknown = EXCLUDE


def _optional_text(max_length: int = 200) -> Text:
    return Text(max_length=max_length, load_default=None, allow_none=True)


class EnvelopeSchema(_Base):
    id = Text(required=True, max_length=200, strip=False)
    type = fields.String(required=True, validate=_one_of(EVENT_TYPES))
    occurred_at = AwareDateTime(required=True)
    store_id = StrictInteger(required=True)
    data = fields.Dict(required=True, error_messages={"invalid": "must be a JSON object"})


# --- sale.completed ---------------------------------------------------------------------------


class CustomerSchema(_Base):
    name = _optional_text()
    # A POS that has no NIF often sends "": that means "no NIF", not an invalid one.
    fiscal_id = _optional_text(max_length=30)
    country = CountryCode(load_default="PT", allow_none=True)
    email = fields.Email(
        load_default=None, allow_none=True, error_messages={"invalid": "must be an email address"}
    )
    address = _optional_text(max_length=250)
    postalcode = _optional_text(max_length=20)
    city = _optional_text(max_length=100)

    @post_load
    def _default_country(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if data.get("country") is None:
            data["country"] = "PT"  # an explicit null means the default, as an absent field does
        return data


class SaleLineSchema(_Base):
    reference = _optional_text(max_length=100)
    title = Text(required=True, max_length=200)
    qty = Quantity(required=True)
    unit_price = Money(required=True)
    tax = fields.String(required=True, validate=_one_of(TAX_CODES))
    exemption = ExemptionCode(load_default=None, allow_none=True)
    discount_percentage = Percentage(load_default=None, allow_none=True)
    # Not in the contract's table: an optional grouping that rules may test (``categories``).
    category = _optional_text(max_length=100)
    kind = fields.String(load_default=None, allow_none=True, validate=_one_of(LINE_KINDS))

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _exemption_goes_with_ise(self, data: Mapping[str, Any], original: Any, **kwargs: Any) -> None:
        tax, exemption = data.get("tax"), data.get("exemption")
        # A code that was given but refused already has its own, more precise, error.
        given = isinstance(original, Mapping) and isinstance(original.get("exemption"), str)
        given = given and bool(original["exemption"].strip())
        if tax == EXEMPT_TAX and not exemption and not given:
            raise ValidationError("required when tax is ISE (an exemption code such as M07)", "exemption")
        if exemption and tax in TAX_CODES and tax != EXEMPT_TAX:
            raise ValidationError(f"only allowed when tax is ISE (tax is {tax})", "exemption")


class PaymentSchema(_Base):
    method = Text(required=True, max_length=50)
    amount = Money(required=True)
    status = fields.String(required=True, validate=_one_of(PAYMENT_LINE_STATUSES))


class SaleCompletedSchema(_Base):
    sale_id = Text(required=True, max_length=100)
    register_id = StrictInteger(load_default=None, allow_none=True)
    closed_at = AwareDateTime(required=True)
    customer = fields.Nested(CustomerSchema, load_default=None, allow_none=True)
    lines = fields.List(
        fields.Nested(SaleLineSchema),
        required=True,
        validate=validate.Length(min=1, error="must have at least 1 line"),
    )
    payments = fields.List(fields.Nested(PaymentSchema), load_default=list)
    payment_status = fields.String(required=True, validate=_one_of(PAYMENT_STATUSES))
    notes = _optional_text(max_length=1000)


# --- payment.confirmed / sale.refunded ----------------------------------------------------------


class PaymentConfirmedSchema(_Base):
    sale_id = Text(required=True, max_length=100)
    payment_id = Text(required=True, max_length=100)
    method = Text(required=True, max_length=50)
    amount = PositiveMoney(required=True)
    confirmed_at = AwareDateTime(required=True)


class RefundLineSchema(_Base):
    reference = _optional_text(max_length=100)
    row = StrictInteger(load_default=None, allow_none=True)
    qty = Quantity(required=True)

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _reference_or_row(self, data: Mapping[str, Any], original: Any, **kwargs: Any) -> None:
        # Judge what was sent, so that a malformed row is reported once, by its own field error.
        sent = original if isinstance(original, Mapping) else {}
        has_reference = sent.get("reference") is not None and str(sent.get("reference")).strip() != ""
        has_row = sent.get("row") is not None
        if has_reference and has_row:
            raise ValidationError("give either reference or row, not both")
        if not has_reference and not has_row:
            raise ValidationError("needs a reference (product) or a row (1-based line of the invoice)")


class SaleRefundedSchema(_Base):
    sale_id = Text(required=True, max_length=100)
    refund_id = Text(required=True, max_length=100)
    reason = Text(required=True, max_length=1000)
    # None means "refund everything still creditable"; an empty list is more likely a bug.
    lines = fields.List(
        fields.Nested(RefundLineSchema),
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, error="must not be empty; leave lines out to refund everything"),
    )


class SaleCustomerChangedSchema(_Base):
    """The customer asks for their data on the invoice after the sale (reference/events.md)."""

    sale_id = Text(required=True, max_length=100)
    change_id = Text(required=True, max_length=100)
    customer = fields.Nested(CustomerSchema, required=True)
    reason = Text(max_length=1000, load_default="Correção dos dados do adquirente")


# --- events that carry a Vendus document ---------------------------------------------------------


class VendusDocumentSchema(_Base):
    id = StrictInteger(required=True)
    type = Text(required=True, max_length=10)
    number = Text(required=True, max_length=60)
    status = DocumentStatus(required=True)
    date = fields.Date(required=True, error_messages={"invalid": 'must be a date such as "2026-11-25"'})
    amount_gross = VendusAmount(required=True)
    amount_net = VendusAmount(required=True)
    external_reference = _optional_text(max_length=200)
    store_id = StrictInteger(required=True)
    register_id = StrictInteger(required=True, allow_none=True)


class InvoiceFinalizedSchema(VendusDocumentSchema):
    invoice = fields.Nested(VendusDocumentSchema, required=True)


DATA_SCHEMAS: Mapping[EventType, type[Schema]] = {
    EventType.SALE_COMPLETED: SaleCompletedSchema,
    EventType.PAYMENT_CONFIRMED: PaymentConfirmedSchema,
    EventType.SALE_REFUNDED: SaleRefundedSchema,
    EventType.INVOICE_CREATED: VendusDocumentSchema,
    EventType.INVOICE_FINALIZED: InvoiceFinalizedSchema,
    EventType.RECEIPT_ISSUED: VendusDocumentSchema,
    EventType.CREDIT_NOTE_ISSUED: VendusDocumentSchema,
    EventType.DOCUMENT_CANCELLED: VendusDocumentSchema,
    EventType.SALE_CUSTOMER_CHANGED: SaleCustomerChangedSchema,
}


def _with_masterdata(schemas: Mapping[EventType, type[Schema]]) -> Mapping[EventType, type[Schema]]:
    from kapta_vendus.events import masterdata_schemas as md

    return {**schemas, EventType.CUSTOMER_UPSERTED: md.CustomerUpsertedSchema,
            EventType.PRODUCT_UPSERTED: md.ProductUpsertedSchema,
            EventType.CUSTOMER_CHANGED: md.VendusRecordChangedSchema,
            EventType.PRODUCT_CHANGED: md.VendusRecordChangedSchema}


DATA_SCHEMAS = _with_masterdata(DATA_SCHEMAS)
