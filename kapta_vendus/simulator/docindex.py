"""Documents of one account and mode, kept in id order, with cheap date windows for list queries.

Lists must stay fast over 100k+ documents without sorting per request. Documents are appended in
id order (ids only grow), so the list itself is the ordering. Dates are *nearly* sorted by id (a
series cannot go back in time), so two running arrays bound the slice that can match a date range:

* ``prefix_max[i]`` = latest date among docs[0..i]: every doc before the first ``prefix_max >= since``
  is older than ``since``;
* ``suffix_min[i]`` = earliest date among docs[i..]: every doc from the first ``suffix_min > until``
  on is newer than ``until``.

Both arrays are non-decreasing, so bisect finds the window; only the window is scanned. A
back-dated append lowers ``suffix_min`` for the tail it undercuts (usually nothing).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable


class _DateWindow:
    __slots__ = ("prefix_max", "suffix_min")

    def __init__(self) -> None:
        self.prefix_max: list[str] = []
        self.suffix_min: list[str] = []

    def add(self, key: str) -> None:
        prev = self.prefix_max[-1] if self.prefix_max else key
        self.prefix_max.append(max(prev, key))
        suffix = self.suffix_min
        suffix.append(key)
        j = len(suffix) - 2
        while j >= 0 and suffix[j] > key:
            suffix[j] = key
            j -= 1

    def bounds(self, since: str | None, until: str | None) -> tuple[int, int]:
        lo = bisect_left(self.prefix_max, since) if since else 0
        hi = bisect_right(self.suffix_min, until) if until else len(self.suffix_min)
        return lo, max(lo, hi)


def _system_date(doc: dict) -> str:
    return doc["system_time"][:10]


DATE_KEYS: dict[str, Callable[[dict], str]] = {"date": lambda doc: doc["date"], "system_time": _system_date}


class DocumentSpace:
    """One numbering/visibility space: ``normal`` or ``tests`` documents of an account."""

    def __init__(self) -> None:
        self.docs: list[dict] = []
        self.by_number: dict[str, int] = {}
        self._windows = {name: _DateWindow() for name in DATE_KEYS}

    def __len__(self) -> int:
        return len(self.docs)

    def add(self, doc: dict) -> None:
        if self.docs and doc["id"] <= self.docs[-1]["id"]:
            raise ValueError("documents must be added in increasing id order")
        self.docs.append(doc)
        self.by_number[doc["number"]] = doc["id"]
        for name, key in DATE_KEYS.items():
            self._windows[name].add(key(doc))

    def select(
        self,
        match: Callable[[dict], bool] | None,
        *,
        date_field: str = "date",
        since: str | None = None,
        until: str | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[dict], int]:
        """Return (docs[offset:offset+limit] among the matches, total number of matches), id order."""
        docs = self.docs
        if match is None and since is None and until is None:
            return docs[offset : offset + limit], len(docs)
        lo, hi = self._windows[date_field].bounds(since, until)
        key = DATE_KEYS[date_field]
        page: list[dict] = []
        total = 0
        end = offset + limit
        for i in range(lo, hi):
            doc = docs[i]
            if since is not None or until is not None:
                value = key(doc)
                if (since is not None and value < since) or (until is not None and value > until):
                    continue
            if match is not None and not match(doc):
                continue
            if offset <= total < end:
                page.append(doc)
            total += 1
        return page, total
