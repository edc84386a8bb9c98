"""marshmallow fields for the wire contract: money, quantities, aware datetimes, strict ids.

Money decision: money must be a JSON *string* ("2.90"), as the contract says. JSON numbers are
refused, integers included: a float has already lost cents by the time we see it, and accepting
ints but not floats would be a rule senders trip over only on prices like 1.10. The error message
shows the expected form, so a sender fixes it once. Negative amounts and more than 2 decimals are
refused rather than rounded: how to round a fiscal amount is the sender's decision, not ours.

Documents that come from Vendus (document events) are a different boundary: we do not control
that format, so :class:`VendusAmount` accepts strings, ints and Decimals, and a sign.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import ValidationError, fields

from kapta_vendus.events.catalogue import document_status_code
from kapta_vendus.events.exemptions import exemption_problem

_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")
_MAX_INTEGER_DIGITS = 9  # up to 999,999,999: far above any POS sale, and catches unit mistakes


def parse_decimal_string(
    value: Any, *, places: int, positive: bool = False, maximum: Decimal | None = None, example: str = "2.90"
) -> Decimal:
    """Parse a contract decimal string, raising ValidationError with a readable reason."""
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            raise ValidationError(f'must be a decimal string such as "{example}", not a JSON number')
        raise ValidationError(f'must be a decimal string such as "{example}"')
    if not _DECIMAL.fullmatch(value):
        raise ValidationError(f'must be a decimal string such as "{example}" (got {value!r})')
    number = Decimal(value)
    if number < 0:
        raise ValidationError("must not be negative")
    if positive and number == 0:
        raise ValidationError("must be greater than 0")
    if -number.as_tuple().exponent > places:  # type: ignore[operator]
        raise ValidationError(f"must have at most {places} decimal places (got {value})")
    if len(value.split(".")[0].lstrip("0")) > _MAX_INTEGER_DIGITS:
        raise ValidationError(f"is too large (got {value})")
    if maximum is not None and number > maximum:
        raise ValidationError(f"must be at most {maximum} (got {value})")
    return number


class _Decimal(fields.Field):
    places = 2
    positive = False
    maximum: Decimal | None = None
    example = "2.90"

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        return parse_decimal_string(
            value, places=self.places, positive=self.positive, maximum=self.maximum, example=self.example
        )

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{value:f}"


class Money(_Decimal):
    """A non-negative amount in euros with at most 2 decimals, e.g. "2.90"."""


class PositiveMoney(Money):
    positive = True


class Quantity(_Decimal):
    """A quantity greater than 0, with at most 3 decimals as Vendus stores them ("3.530")."""

    places = 3
    positive = True
    example = "2"


class Percentage(_Decimal):
    """A discount percentage from 0 to 100, e.g. "10" or "3.5"."""

    maximum = Decimal(100)
    example = "10"


class VendusAmount(fields.Field):
    """An amount as Vendus returns it: a string, an int or (already decoded) a Decimal."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise ValidationError('must be an amount such as "12.30"')
        try:
            # str() of a float is its shortest repr, i.e. the digits Vendus actually wrote.
            number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError(f'must be an amount such as "12.30" (got {value!r})') from None
        if not number.is_finite():
            raise ValidationError(f"must be a finite amount (got {value!r})")
        return number


class AwareDateTime(fields.Field):
    """An ISO 8601 string with a UTC offset; a naive time is ambiguous around DST and refused."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> datetime:
        if not isinstance(value, str):
            raise ValidationError('must be an ISO 8601 string such as "2026-11-25T10:00:00+00:00"')
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(
                f'must be an ISO 8601 datetime such as "2026-11-25T10:00:00+00:00" (got {value!r})'
            ) from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValidationError(
                f'must include a UTC offset, e.g. "2026-11-25T10:00:00+00:00" (got {value!r})'
            )
        return parsed

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.isoformat()


class StrictInteger(fields.Field):
    """A JSON integer, not a string, float or boolean (``True`` is an int in Python)."""

    def __init__(self, *, minimum: int | None = 1, **kwargs: Any):
        super().__init__(**kwargs)
        self.minimum = minimum

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"must be an integer (got {value!r})")
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"must be at least {self.minimum} (got {value})")
        return value


class Text(fields.String):
    """A trimmed string. Blank optional text becomes None; blank required text is an error.

    ``strip=False`` keeps an identifier exactly as sent: the envelope id is also the dedup key and
    the ``webhook-id``, so it must not change between the receiver and the pipeline.
    """

    def __init__(self, *, max_length: int = 200, strip: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.strip = strip

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str | None:
        if not isinstance(value, str):
            raise ValidationError(f"must be a string (got {type(value).__name__})")
        text = value.strip() if self.strip else value
        if not value.strip():
            if self.required:
                raise ValidationError("must not be blank")
            return None
        if len(text) > self.max_length:
            raise ValidationError(f"must be at most {self.max_length} characters (got {len(text)})")
        return text


class CountryCode(fields.String):
    """An ISO 3166-1 alpha-2 country code, upper-cased ("pt" → "PT")."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2}", value.strip()):
            raise ValidationError(f'must be an ISO 3166 two-letter country code such as "PT" (got {value!r})')
        return value.strip().upper()


class ExemptionCode(fields.String):
    """A current VAT exemption code (M01..M99), upper-cased; revoked codes are refused."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str | None:
        if not isinstance(value, str):
            raise ValidationError(f'must be an exemption code such as "M07" (got {value!r})')
        code = value.strip().upper()
        if not code:
            return None
        problem = exemption_problem(code)
        if problem:
            raise ValidationError(problem)
        return code


class DocumentStatus(fields.Field):
    """A Vendus status letter, given as ``"N"`` (list row) or ``{"id": "N", …}`` (detail)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        code = document_status_code(value)
        if code is None:
            raise ValidationError('must be a status letter such as "N", or an object with "id"')
        return code
