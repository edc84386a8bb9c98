"""The Vendus API client: one instance per integration (one key, one session, one rate budget).

Endpoint methods are thin: they pick the path, shape the query and check the response shape.
Transport concerns (auth, timeouts, error mapping, GET retries, rate limits) live in
``transport.py``; paging in ``pagination.py``; Decimal handling in ``money.py``.

Writes (POST/PATCH) are sent exactly once. When they fail, the caller decides using the error
class: ``OutcomeUnknown`` means "look the document up (tx_id / external_reference) before creating
again". Payloads are built elsewhere and passed through unchanged apart from money formatting.

Not thread-safe (neither is ``requests.Session``): use one client per worker thread/process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import requests

from kapta_vendus.vendus.errors import OutcomeUnknown, VendusNotFound, VendusUnavailable
from kapta_vendus.vendus.pagination import Page, paginate
from kapta_vendus.vendus.transport import Reply, Transport

__all__ = ["VendusClient"]

Timeout = float | tuple[float, float]


class VendusClient:
    """Client for one Vendus account, rooted at a base URL such as ``https://www.vendus.pt/ws/v1.1/``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: Timeout = (3.05, 30.0),
        get_retries: int = 3,
        per_page: int = 100,
        max_rate_wait: float = 30.0,
        throttle: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        if per_page < 1:
            raise ValueError("per_page must be at least 1")
        self.base_url = _normalise_base_url(base_url)
        self.per_page = per_page
        self._transport = Transport(
            self.base_url,
            api_key,
            timeout=_normalise_timeout(timeout),
            get_retries=get_retries,
            max_rate_wait=max_rate_wait,
            throttle=throttle,
            sleep=sleep,
            clock=clock,
            session=session,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the session (only if this client created it)."""
        self._transport.close()

    def __enter__(self) -> VendusClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def session(self) -> requests.Session:
        return self._transport.session

    # -- generic building blocks ---------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        """GET one resource and return its parsed body (Decimal-converted)."""
        return self._transport.request("GET", path, params=_query(params)).data

    def iter_pages(self, path: str, **filters: Any) -> Iterator[Page]:
        """Yield pages of a collection lazily. ``page`` picks the first page, ``per_page`` overrides
        the client default; other filters go to the query string (lists become comma lists)."""
        start = int(filters.pop("page", 1) or 1)
        per_page = int(filters.pop("per_page", None) or self.per_page)
        base = _query(filters)

        def fetch(number: int) -> tuple[list[dict[str, Any]], Mapping[str, str]]:
            try:
                reply = self._transport.request(
                    "GET", path, params={**base, "page": str(number), "per_page": str(per_page)}
                )
            except VendusNotFound as err:
                if _is_no_data(err):
                    return [], {}
                raise
            return _rows(reply, path), reply.headers

        return paginate(fetch, per_page=per_page, start_page=start)

    def iter_rows(self, path: str, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield the rows of a collection lazily, page after page."""
        for page in self.iter_pages(path, **filters):
            yield from page.items

    def list_all(self, path: str, **filters: Any) -> list[dict[str, Any]]:
        """All rows of a small collection (still paged: Vendus' default page is only 20)."""
        return list(self.iter_rows(path, **filters))

    # -- documents -------------------------------------------------------------------------------

    def create_document(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``documents/`` (201). Never retried: on ``OutcomeUnknown`` look it up by tx_id."""
        return self._write("POST", "documents/", payload)

    def get_document(self, doc_id: int | str, *, mode: str | None = None, **params: Any) -> dict[str, Any]:
        """Full document. Test-mode documents are only visible with ``mode="tests"``."""
        return self._get_object(f"documents/{_segment(doc_id)}", mode=mode, **params)

    def iter_document_pages(self, **filters: Any) -> Iterator[Page]:
        return self.iter_pages("documents/", **filters)

    def list_documents(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """List rows (no items, payments or taxes; ``status`` is a string here)."""
        return self.iter_rows("documents/", **filters)

    def patch_document(
        self, doc_id: int | str, status: str, *, mode: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """PATCH ``documents/{id}`` with ``{status, mode?, ...}`` → ``{id, status}``."""
        body: dict[str, Any] = {"status": status, **fields}
        if mode is not None:
            body["mode"] = mode
        return self._write("PATCH", f"documents/{_segment(doc_id)}", body)

    def cancel_document(self, doc_id: int | str, *, mode: str | None = None) -> dict[str, Any]:
        """Cancel (status A). Vendus refuses it for FT/FR/NC (VendusRejected): issue an NC instead."""
        return self.patch_document(doc_id, "A", mode=mode)

    def find_documents_by_external_reference(
        self, ref: str, *, mode: str | None = None
    ) -> list[dict[str, Any]]:
        """Documents carrying exactly ``ref``.

        The filter may match loosely on the server, so rows whose reference is present and
        different are dropped; rows without a value are kept (dropping a real match could lead
        to issuing the document twice).
        """
        wanted = ref.strip()
        rows = self.iter_rows("documents/", external_reference=ref, mode=mode)
        return [r for r in rows if _reference_may_match(r.get("external_reference"), wanted)]

    # -- clients -----------------------------------------------------------------------------------

    def create_client(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``clients/``. An existing fiscal_id is refused (VendusRejected)."""
        return self._write("POST", "clients/", payload)

    def get_client(self, client_id: int | str) -> dict[str, Any]:
        return self._get_object(f"clients/{_segment(client_id)}")

    def list_clients(self, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.iter_rows("clients/", **filters)

    def update_client(self, client_id: int | str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH ``clients/{id}`` with the fields to change."""
        return self._write("PATCH", f"clients/{_segment(client_id)}", payload)

    # -- products ----------------------------------------------------------------------------------

    def create_product(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``products/`` (needs ``title`` and ``unit_id``)."""
        return self._write("POST", "products/", payload)

    def update_product(self, product_id: int | str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH ``products/{id}`` with the fields to change."""
        return self._write("PATCH", f"products/{_segment(product_id)}", payload)

    def get_product(self, product_id: int | str) -> dict[str, Any]:
        return self._get_object(f"products/{_segment(product_id)}")

    def list_products(self, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.iter_rows("products/", **filters)

    # -- small reference collections -----------------------------------------------------------

    def list_payment_methods(self, **filters: Any) -> list[dict[str, Any]]:
        """Payment methods; their ids belong to the account, so map them from here."""
        return self.list_all("documents/paymentmethods/", **filters)

    def get_payment_method(self, method_id: int | str) -> dict[str, Any]:
        return self._get_object(f"documents/paymentmethods/{_segment(method_id)}")

    def list_registers(self, **filters: Any) -> list[dict[str, Any]]:
        return self.list_all("registers/", **filters)

    def get_register(self, register_id: int | str) -> dict[str, Any]:
        return self._get_object(f"registers/{_segment(register_id)}")

    def list_stores(self, **filters: Any) -> list[dict[str, Any]]:
        return self.list_all("stores/", **filters)

    def get_store(self, store_id: int | str) -> dict[str, Any]:
        return self._get_object(f"stores/{_segment(store_id)}")

    def list_taxes(self, **filters: Any) -> list[dict[str, Any]]:
        return self.list_all("taxes/", **filters)

    def list_tax_exemptions(self) -> list[dict[str, Any]]:
        return self.list_all("taxes/exemptions/")

    def list_document_types(self, **filters: Any) -> list[dict[str, Any]]:
        """Types enabled on the account; codes vary (FG, ND, VD…), so never assume a closed set."""
        return self.list_all("documents/types/", **filters)

    def get_account(self) -> dict[str, Any]:
        return self._get_object("account/")

    # -- internals ---------------------------------------------------------------------------------

    def _get_object(self, path: str, **params: Any) -> dict[str, Any]:
        reply = self._transport.request("GET", path, params=_query(params))
        if not isinstance(reply.data, dict):
            raise VendusUnavailable("expected a JSON object", status=reply.status, method="GET", path=path)
        return reply.data

    def _write(self, method: str, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        reply = self._transport.request(method, path, json=payload)
        if not isinstance(reply.data, dict):
            # It succeeded (2xx) but we cannot tell what was created: the caller must look it up.
            raise OutcomeUnknown("expected a JSON object", status=reply.status, method=method, path=path)
        return reply.data


def _rows(reply: Reply, path: str) -> list[dict[str, Any]]:
    if reply.data is None:
        return []
    if not isinstance(reply.data, list):
        raise VendusUnavailable("expected a JSON array", status=reply.status, method="GET", path=path)
    return reply.data


def _reference_may_match(value: Any, wanted: str) -> bool:
    return value is None or str(value).strip() in ("", wanted)


def _is_no_data(err: VendusNotFound) -> bool:
    # Only Vendus' own "no data" body means "empty". A 404 without it (an HTML page from a proxy,
    # a wrong base URL) must not look like an empty collection, or a poller would go blind.
    return err.code == "A001"


def _segment(value: int | str) -> str:
    """An id as a path segment; refuses anything that could change the path ('../', '?')."""
    if isinstance(value, bool):
        raise ValueError("an id cannot be a bool")
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"not a numeric id: {value!r}")
    return text


def _query(params: Mapping[str, Any]) -> dict[str, str]:
    """Query-string values as Vendus expects them; None means "not given"."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = _query_value(value)
    return out


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return ",".join(_query_value(v) for v in items)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def _normalise_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("base_url must be an absolute http(s) URL")
    # Credentials or an api_key query in the URL would end up in logs and exception messages.
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("base_url must not contain credentials, a query string or a fragment")
    return base_url.strip().rstrip("/") + "/"


def _normalise_timeout(timeout: Timeout) -> tuple[float, float]:
    if isinstance(timeout, tuple):
        connect, read = timeout
    else:
        connect = read = timeout
    if connect is None or read is None or connect <= 0 or read <= 0:
        raise ValueError("timeouts must be positive numbers (never 'wait forever')")
    return float(connect), float(read)
