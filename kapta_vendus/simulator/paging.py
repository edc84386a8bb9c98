"""``page``/``per_page`` handling shared by every list endpoint.

Default 20 per page, at most ``per_page_max`` (1000 per the docs; one third-party client claims 100).
Above the maximum the simulator clamps, or answers P001 by assumption. An empty list — or a page past
the last one — is a 404 ``No data``, as on the real API.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import invalid, no_data


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def headers(self, on_single_page: bool) -> dict[str, str]:
        if self.pages == 1 and not on_single_page:
            return {}
        return {"X-Paginator-Items": str(self.total), "X-Paginator-Pages": str(self.pages)}


def _positive_int(params, name: str, default: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise invalid(name) from None
    if value < 1:
        raise invalid(name)
    return value


def page_params(params, assumptions) -> tuple[int, int]:
    page = _positive_int(params, "page", 1)
    per_page = _positive_int(params, "per_page", assumptions.per_page_default)
    if per_page > assumptions.per_page_max:
        if assumptions.per_page_over_max == "error":
            raise invalid("per_page", f"O máximo é {assumptions.per_page_max}.")
        per_page = assumptions.per_page_max
    return page, per_page


def paginate(items: list, params, assumptions) -> Page:
    page, per_page = page_params(params, assumptions)
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    if not chunk:
        raise no_data()
    return Page(chunk, len(items), page, per_page)
