"""A local destination for outbound events: verifies Standard Webhooks signatures with the
``standardwebhooks`` library and records every request. It can fail a number of times first, or
hang (to show that a slow destination delays nobody else).

It lives next to the top-level conftest.py so that integration and e2e tests both import it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    verified: bool
    body: dict[str, Any]
    status: int


@dataclass
class DestinationServer:
    secret: str = ""
    fail_times: int = 0
    fail_status: int = 500
    hang_seconds: float = 0.0
    hang_times: int = 0  # hang only the first N requests (0: every request, when hang_seconds is set)
    received: list[Received] = field(default_factory=list)
    arrived: int = 0  # requests that reached the handler (counted before any hang)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                with outer._lock:
                    outer.arrived += 1
                    hang = outer.hang_seconds and (not outer.hang_times or outer.arrived <= outer.hang_times)
                if hang:
                    time.sleep(outer.hang_seconds)
                try:
                    Webhook(outer.secret).verify(body, dict(self.headers))
                    verified = True
                except (WebhookVerificationError, ValueError):
                    verified = False
                with outer._lock:
                    failing = outer.fail_times > 0
                    outer.fail_times -= 1 if failing else 0
                    status = outer.fail_status if failing else (204 if verified else 401)
                    outer.received.append(Received(self.headers.get("webhook-id", ""), verified,
                                                   json.loads(body or "{}"), status))
                try:
                    self.send_response(status)
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting (a hanging destination)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def __enter__(self) -> DestinationServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self, *, accepted_only: bool = False) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received if not accepted_only or r.status < 300]
