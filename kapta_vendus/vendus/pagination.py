"""Lazy page-by-page iteration over Vendus collections.

Vendus pages with ``page`` (from 1) and ``per_page``, announces ``X-Paginator-Items`` (total) and
``X-Paginator-Pages``, and answers an empty page with 404 ``A001 "No data"``. A page is only
fetched when the consumer asks for it, so a poller can stop early without paying for the rest.

When to stop:
- no rows (empty list, or the empty 404) → done;
- ``X-Paginator-Pages`` present → trust it, even when pages come back shorter than asked (the
  real ``per_page`` ceiling is unknown, and stopping at the first short page would silently drop
  rows when the server caps below our ``per_page``);
- no paginator headers → stop at the first short page, as known clients do;
- a page that starts with the same row as the previous one means the endpoint ignores ``page``:
  everything was already returned, so stop instead of looping forever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Page", "paginate", "parse_count"]

log = logging.getLogger(__name__)

PAGES_HEADER = "X-Paginator-Pages"
ITEMS_HEADER = "X-Paginator-Items"


@dataclass(frozen=True)
class Page:
    """One page of a collection. ``pages``/``total`` are None when the server did not say."""

    items: list[dict[str, Any]]
    page: int
    pages: int | None
    total: int | None


def parse_count(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        return None
    return number if number >= 0 else None


# fetch(page_number) -> (rows, headers); rows is [] for the empty 404.
FetchPage = Callable[[int], tuple[list[dict[str, Any]], Mapping[str, str]]]


def paginate(fetch: FetchPage, *, per_page: int, start_page: int = 1) -> Iterator[Page]:
    """Yield pages lazily from ``start_page`` until one of the stop conditions above holds."""
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    number = start_page
    previous_first: Any = None
    while True:
        rows, headers = fetch(number)
        if not rows:
            return
        first = _identity(rows[0])
        if number > start_page and first == previous_first:
            log.warning("vendus endpoint ignored page=%d (same first row as before); stopping", number)
            return
        pages = parse_count(headers.get(PAGES_HEADER))
        total = parse_count(headers.get(ITEMS_HEADER))
        yield Page(items=rows, page=number, pages=pages, total=total)
        if pages is not None:
            if number >= pages:
                return
        elif len(rows) < per_page:
            return
        previous_first = first
        number += 1


def _identity(row: Any) -> Any:
    if isinstance(row, Mapping) and row.get("id") is not None:
        return ("id", row["id"])
    return ("row", repr(row))
