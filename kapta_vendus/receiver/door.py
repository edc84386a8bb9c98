"""What the receiver checks before storing anything: bad input is a 4xx, never a 5xx or a 503.

The payload's business validation stays in the pipeline's validate step (a well-formed event
with a bad payload is accepted, recorded and rejected with readable reasons). But whatever is
stored or feeds a key must be refused here, because past the door it can only fail in ways a
sender cannot fix by retrying: a body nested 100,000 deep or a 5,000-digit number crashed the
JSON parser (500); a sale id longer than the key column, or with a NUL byte (PostgreSQL refuses
it in any text), failed the insert (503, retried forever by a well-behaved sender); a NUL in a
line title was accepted and then killed the event where its text was stored.

The limits of the fields that feed keys are read from the payload schemas themselves
(``events.schemas``), so the door and the validate step cannot disagree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from kapta_vendus.events.catalogue import carries_document

MAX_DEPTH = 16  # the deepest valid event is 4 levels (envelope → data → lines → line)
MAX_NUMBER_DIGITS = 40  # an amount or an id never needs more
MAX_STRING = 10_000  # any one string; the body limit bounds the total
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class BadBody(ValueError):
    """The body cannot be an event: the message says why, for a 400."""


def _number(text: str) -> Any:
    if len(text) > MAX_NUMBER_DIGITS:
        raise BadBody(f"a number literal has {len(text)} characters (at most {MAX_NUMBER_DIGITS})")
    return text


def _int(text: str) -> int:
    return int(_number(text))


def _float(text: str) -> float:
    return float(_number(text))


def _constant(name: str) -> Any:
    raise BadBody(f"{name} is not valid JSON")


def parse(text: str) -> Any:
    """JSON with bounded number literals; raises ``BadBody`` (depth is checked by ``content_errors``)."""
    try:
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise BadBody(f"body is not valid JSON: {exc}") from None
    except RecursionError:  # the parser recurses once per level: far too deep to be an event
        raise BadBody(f"body nests deeper than {MAX_DEPTH} levels") from None


def content_errors(value: Any) -> list[str]:
    """The body's shape: bounded depth; every string without control characters (NUL above all)
    and of a sane length. Iterative, so that no depth can make it recurse."""
    errors: list[str] = []
    stack = [("envelope", value, 1)]
    while stack and len(errors) < 10:
        where, item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return [f"{where}: nests deeper than {MAX_DEPTH} levels"]
        if isinstance(item, str):
            if _CONTROL.search(item):
                errors.append(f"{where}: must not contain control characters (such as NUL)")
            elif len(item) > MAX_STRING:
                errors.append(f"{where}: must be at most {MAX_STRING} characters")
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if _CONTROL.search(key) or len(key) > 100:
                    errors.append(f"{where}: a key is not a plain name")
                stack.append((f"{where}.{key}" if where != "envelope" else key, child, depth + 1))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", child, depth + 1) for i, child in enumerate(item))
    return sorted(errors)


@cache
def _key_limits() -> dict[str, int]:
    from kapta_vendus.events.schemas import PaymentConfirmedSchema, SaleRefundedSchema, VendusDocumentSchema

    limits = {name: field.max_length for schema in (PaymentConfirmedSchema(), SaleRefundedSchema())
              for name, field in schema.fields.items() if name in ("sale_id", "payment_id", "refund_id")}
    document = VendusDocumentSchema().fields
    limits["number"] = document["number"].max_length
    limits["external_reference"] = document["external_reference"].max_length
    limits["status"] = 10  # a status code is one letter; a status object's "id" likewise
    limits["id"] = MAX_NUMBER_DIGITS
    return limits


def key_errors(envelope: Mapping[str, Any]) -> list[str]:
    """The fields that become inbox or business keys, with the limits of their schemas."""
    data = envelope.get("data")
    if not isinstance(data, Mapping):
        return []
    errors = []
    limits = _key_limits()
    names = ("sale_id", "payment_id", "refund_id")
    if carries_document(str(envelope.get("type", ""))):
        names += ("id", "status", "number", "external_reference")
    for name in names:
        value = data.get(name)
        if isinstance(value, Mapping) and name == "status":
            value = value.get("id")
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            errors.append(f"data.{name}: must be a string or a number")
        elif len(value) > limits[name]:
            errors.append(f"data.{name}: must be at most {limits[name]} characters (got {len(value)})")
    return errors
