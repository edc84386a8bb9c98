"""Read list pages ahead, in a thread, while the caller writes the previous one.

An import is two slow things in a row: waiting for Vendus to serve a page, then writing it.
Reading the next page while the current one is written makes the import about as fast as the
slower of the two instead of their sum. At most ``depth`` pages wait in the queue, so memory stays
bounded whatever the account's size.

``transform`` runs in the reader thread too: CPU work on a page (building the rows to write) then
overlaps with the caller's wait for the database.

Rate limits: the client's gate waits for short resets by itself; a long one (``RateLimited``)
makes the reader sleep until the announced reset and ask for the same page again. Only the reader
thread uses the client while it runs (a client is not thread-safe).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from kapta_vendus.vendus import Page, RateLimited, VendusClient

log = logging.getLogger(__name__)

_END = object()


class PageReader:
    def __init__(self, client: VendusClient, filters: dict[str, Any], *, start_page: int = 1, per_page: int = 1000,
                 depth: int = 2, max_rate_sleep: float = 300.0, sleep: Callable[[float], None] = time.sleep,
                 transform: Callable[[Page], Any] | None = None) -> None:
        self._client, self._filters = client, dict(filters)
        self._transform = transform
        self._next_page, self._per_page = start_page, per_page
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._max_rate_sleep, self._sleep = max_rate_sleep, sleep
        self.rate_limited = 0  # times the reader slept for a rate-limit reset
        self._thread = threading.Thread(target=self._run, name="vendus-page-reader", daemon=True)

    def __iter__(self) -> Iterator[Any]:
        self._thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        while True:  # unblock a reader waiting to put a page
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    for page in self._client.iter_document_pages(page=self._next_page, per_page=self._per_page,
                                                                 **self._filters):
                        if not self._put(self._transform(page) if self._transform else page):
                            return
                        self._next_page = page.page + 1
                    break
                except RateLimited as exc:
                    self.rate_limited += 1
                    wait = min(float(exc.reset_after or 1.0), self._max_rate_sleep)
                    log.info("rate limit reached; reading page %d again in %.1fs", self._next_page, wait)
                    self._sleep(wait)
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it in its own thread
            self._put(exc)
