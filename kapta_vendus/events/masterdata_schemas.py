"""Payload schemas of master data: ``customer.upserted`` and ``product.upserted`` (reference/events.md,
"customer.upserted and product.upserted"), and the ``customer.changed`` / ``product.changed`` records
that polling keeps of clients and products edited in the Vendus back office.
"""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from kapta_vendus.events.fields import CountryCode, ExemptionCode, Money, StrictInteger, Text
from kapta_vendus.events.schemas import EXEMPT_TAX, TAX_CODES, _Base, _one_of, _optional_text

KINDS = ("goods", "service")
PRODUCT_STATUSES = ("active", "inactive")


class CustomerUpsertedSchema(_Base):
    customer_id = Text(required=True, max_length=100)
    name = Text(required=True, max_length=200)
    fiscal_id = _optional_text(max_length=30)
    country = CountryCode(load_default="PT", allow_none=True)
    address = _optional_text(max_length=250)
    postalcode = _optional_text(max_length=20)
    city = _optional_text(max_length=100)
    email = fields.Email(load_default=None, allow_none=True, error_messages={"invalid": "must be an email address"})
    phone = _optional_text(max_length=30)


class ProductUpsertedSchema(_Base):
    reference = Text(required=True, max_length=100)
    title = Text(required=True, max_length=200)
    gross_price = Money(required=True)
    tax = fields.String(required=True, validate=_one_of(TAX_CODES))
    exemption = ExemptionCode(load_default=None, allow_none=True)
    kind = fields.String(load_default="goods", validate=_one_of(KINDS))
    barcode = _optional_text(max_length=100)
    # A Vendus unit id, or a unit's title ("Kg"); absent: the account's default unit.
    unit = fields.Raw(load_default=None, allow_none=True)
    status = fields.String(load_default="active", validate=_one_of(PRODUCT_STATUSES))

    @validates_schema(skip_on_field_errors=False)
    def _exemption_goes_with_ise(self, data, **kwargs) -> None:
        if data.get("tax") == EXEMPT_TAX and not data.get("exemption"):
            raise ValidationError("required when tax is ISE (an exemption code such as M07)", "exemption")
        if data.get("exemption") and data.get("tax") != EXEMPT_TAX:
            raise ValidationError(f"only allowed when tax is ISE (tax is {data.get('tax')})", "exemption")
        unit = data.get("unit")
        if unit is not None and not (isinstance(unit, str) and unit.strip()) and not (
                isinstance(unit, int) and not isinstance(unit, bool) and unit > 0):
            raise ValidationError("must be a Vendus unit id or a unit title", "unit")


class VendusRecordChangedSchema(_Base):
    """A client or product as Vendus lists it; only its id is required, the rest is kept as sent."""

    id = StrictInteger(required=True)
    name = _optional_text()
    title = _optional_text()
    reference = _optional_text(max_length=100)
    fiscal_id = _optional_text(max_length=30)
    status = _optional_text(max_length=20)


__all__ = ["CustomerUpsertedSchema", "ProductUpsertedSchema", "VendusRecordChangedSchema", "validate"]
