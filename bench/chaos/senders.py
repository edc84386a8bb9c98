"""Concurrent senders that behave like a real POS bridge: every event is retried until accepted.

A sender retries on a connection error, a timeout, any 5xx and 429 (honouring ``Retry-After``),
with capped exponential backoff, re-signing each attempt (the signature carries a timestamp).
2xx ends the event: 202 accepted, or 200 "duplicate" when an earlier attempt was stored but its
answer was lost. Any other 4xx is a refusal, which this mix should never see.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from kapta_vendus.receiver.sender import send_event

RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass
class Endpoint:
    url: str
    integration_id: str
    secret: str


@dataclass
class SendLog:
    """What the senders saw: first acceptance time per event id, attempts and answers."""

    accepted: dict[str, float] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    answers: Counter = field(default_factory=Counter)
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, answer: str) -> None:
        with self.lock:
            self.answers[answer] += 1


def send_until_accepted(endpoint: Endpoint, envelope: dict[str, Any], log: SendLog, session: requests.Session,
                        *, deadline: float, stop: threading.Event | None = None) -> None:
    delay = 0.2
    while True:
        try:
            reply = send_event(endpoint.url, endpoint.integration_id, endpoint.secret, envelope,
                               session=session, timeout=10)
            status = reply.status_code
            log.note(str(status))
            if 200 <= status < 300:
                with log.lock:
                    log.accepted.setdefault(envelope["id"], time.time())
                return
            if status not in RETRY_STATUSES:
                with log.lock:
                    log.refused[envelope["id"]] = f"{status} {reply.text[:200]}"
                return
            wait = float(reply.headers.get("Retry-After") or 0)
        except requests.RequestException as exc:
            log.note(type(exc).__name__)
            wait = 0.0
        if time.monotonic() > deadline or (stop is not None and stop.is_set()):
            with log.lock:
                log.refused[envelope["id"]] = "gave up: the receiver never accepted it"
            return
        with log.lock:
            log.retries += 1
        time.sleep(max(wait, delay))
        delay = min(delay * 2, 5.0)


def run_senders(endpoint_of: Callable[[dict[str, Any]], Endpoint], batches: Sequence[Sequence[dict[str, Any]]],
                log: SendLog, *, deadline: float, rate: float | None = None,
                stop: threading.Event | None = None) -> None:
    """One thread per batch, each sending its envelopes in order; ``rate`` caps each thread's events/s."""

    def work(batch: Sequence[dict[str, Any]]) -> None:
        with requests.Session() as session:
            next_at = time.monotonic()
            for envelope in batch:
                if stop is not None and stop.is_set():
                    return
                if rate:
                    next_at += 1.0 / rate
                    time.sleep(max(0.0, next_at - time.monotonic()))
                send_until_accepted(endpoint_of(envelope), envelope, log, session, deadline=deadline, stop=stop)

    threads = [threading.Thread(target=work, args=(batch,), daemon=True) for batch in batches if batch]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def deal(items: Sequence[Any], hands: int) -> list[list[Any]]:
    """Round-robin ``items`` into ``hands`` lists, keeping each list in the original order."""
    return [list(items[i::hands]) for i in range(hands)]
