"""Client for the Vendus REST API (v1.1): typed errors, lazy pagination, rate-limit handling."""

from kapta_vendus.vendus.client import VendusClient
from kapta_vendus.vendus.errors import (
    OutcomeUnknown,
    RateLimited,
    VendusAuthError,
    VendusError,
    VendusNotFound,
    VendusPayloadError,
    VendusRejected,
    VendusUnavailable,
)
from kapta_vendus.vendus.money import VendusJSONEncoder
from kapta_vendus.vendus.pagination import Page
from kapta_vendus.vendus.ratelimit import RateLimitGate

__all__ = [
    "OutcomeUnknown",
    "Page",
    "RateLimitGate",
    "RateLimited",
    "VendusAuthError",
    "VendusClient",
    "VendusError",
    "VendusJSONEncoder",
    "VendusNotFound",
    "VendusPayloadError",
    "VendusRejected",
    "VendusUnavailable",
]
