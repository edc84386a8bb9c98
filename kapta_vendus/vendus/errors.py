"""Typed errors of the Vendus client.

Callers (the Celery task base class above all) decide what to do from the class and its
``retryable`` flag, so nothing outside this package has to know about ``requests``, HTTP status
codes or the shape of Vendus error bodies.

Messages are built from the HTTP method, the relative path and the server's own error text. They
never contain the API key: the key travels only in the Authorization header, and server text is
redacted by the transport before it reaches these classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = [
    "OutcomeUnknown",
    "RateLimited",
    "VendusAuthError",
    "VendusError",
    "VendusNotFound",
    "VendusPayloadError",
    "VendusRejected",
    "VendusUnavailable",
    "error_for_status",
    "parse_error_body",
]


class VendusError(Exception):
    """Base class of everything the client raises on purpose."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        code: str | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.errors: list[dict[str, Any]] = [dict(e) for e in errors]
        self.method = method
        self.path = path

    def __str__(self) -> str:
        head = " ".join(str(p) for p in (self.status, self.code) if p)
        text = f"{head}: {self.message}" if head else self.message
        if self.method and self.path:
            text = f"{text} [{self.method} {self.path}]"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    # Celery and multiprocessing pickle exceptions; the default reduce would call cls(*args) and
    # lose the keyword-only attributes, so rebuild from the message and restore the rest.
    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message,), self.__dict__.copy())


class VendusAuthError(VendusError):
    """401: the API key is wrong, revoked or missing. Retrying cannot help; a human must fix it."""


class VendusRejected(VendusError):
    """Vendus refused the request (403 P001 "poorly filled parameters" or another 4xx).

    ``code`` and ``message`` come from the first entry of the body's ``errors`` list; all entries
    are kept in ``errors``. The request was not applied, and sending it again unchanged will be
    refused again.
    """


class VendusNotFound(VendusRejected):
    """404 on a single resource (a missing id, or a test-mode document read without mode=tests)."""


class VendusPayloadError(VendusError, ValueError):
    """The payload cannot be serialised safely (float money, money with more than 2 decimals).

    Raised before anything is sent: rounding fiscal amounts silently is not the client's call.
    """


class RateLimited(VendusError):
    """429, or the remembered budget is exhausted for longer than the client is willing to wait.

    ``reset_after`` is the number of seconds until the budget resets (``Rate-Limit-Reset``), or
    ``None`` when the server did not say. Nothing was applied.
    """

    retryable: ClassVar[bool] = True

    def __init__(self, message: str = "", *, reset_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reset_after = reset_after


class VendusUnavailable(VendusError):
    """5xx, 408, or a transport failure before the request left this machine.

    For a GET the client already retried. For a write, the request was either never sent or
    explicitly not processed (503/408), so sending it again cannot create a second document.
    """

    retryable: ClassVar[bool] = True


class OutcomeUnknown(VendusError):
    """The request was sent but no usable answer came back (read timeout, dropped connection,
    a 5xx from a gateway on a write, an unreadable 2xx body).

    The server may have committed it. Before creating again, look the document up (tx_id /
    external_reference); the retry must reuse the same tx_id.
    """

    retryable: ClassVar[bool] = True


def parse_error_body(body: Any) -> list[dict[str, Any]]:
    """Return the ``errors`` list of a Vendus error body, accepting the flat ``{code, message}``
    form seen in the wild and tolerating anything else (HTML from a proxy, empty bodies)."""
    if isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, list):
            return [dict(e) if isinstance(e, Mapping) else {"message": str(e)} for e in errors]
        if isinstance(errors, Mapping):
            return [dict(errors)]
        if "code" in body or "message" in body:
            return [{k: body[k] for k in ("code", "message") if k in body}]
    return []


# Status codes that say the server did not process the request, so even a write may be resent.
_NOT_PROCESSED = frozenset({408, 503})


def error_for_status(
    status: int,
    body: Any,
    *,
    method: str,
    path: str,
    reset_after: float | None = None,
    fallback_message: str = "",
) -> VendusError:
    """Map a non-2xx response to the matching error instance (returned, not raised)."""
    errors = parse_error_body(body)
    first = errors[0] if errors else {}
    code = str(first["code"]) if first.get("code") is not None else None
    message = str(first.get("message") or fallback_message or f"HTTP {status}")
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "errors": errors,
        "method": method,
        "path": path,
    }

    if status == 401:
        return VendusAuthError(message, **kwargs)
    if status == 429:
        return RateLimited(message, reset_after=reset_after, **kwargs)
    if status == 404:
        return VendusNotFound(message, **kwargs)
    if status in _NOT_PROCESSED:
        return VendusUnavailable(message, **kwargs)
    if status >= 500:
        # A 500/502/504 can come after the backend committed (a gateway timing out on a slow
        # insert). For reads that is harmless; for writes it is exactly the unknown outcome.
        if method.upper() == "GET":
            return VendusUnavailable(message, **kwargs)
        return OutcomeUnknown(message, **kwargs)
    # Any other 4xx, and 1xx/3xx we never asked for (redirects are not followed on writes).
    return VendusRejected(message, **kwargs)
