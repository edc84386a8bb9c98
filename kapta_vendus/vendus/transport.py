"""HTTP transport of the Vendus client: one session, auth, timeouts, error mapping, GET retries.

The only place that knows about ``requests``. Everything it raises is a ``VendusError``.

Deciding "was it sent?" is what makes retries safe, so requests are made with ``stream=True``:
the first phase (connect, send, read the status line and headers) and the second (read the
body) fail separately. A failure in the second phase always means the server answered, so the
request may have been applied (``OutcomeUnknown``). In the first phase only failures to
establish the connection are known to be pre-send (``VendusUnavailable``); anything unclear is
treated as after-send, because a wrong "not sent" can issue the same invoice twice.
"""

from __future__ import annotations

import base64
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.auth import AuthBase
from urllib3.exceptions import ClosedPoolError, ConnectTimeoutError, HTTPError, MaxRetryError

from kapta_vendus import __version__, metrics
from kapta_vendus.vendus import money
from kapta_vendus.vendus.errors import (
    OutcomeUnknown,
    RateLimited,
    VendusError,
    VendusUnavailable,
    error_for_status,
)
from kapta_vendus.vendus.ratelimit import RateLimitGate, parse_reset

__all__ = ["USER_AGENT", "Reply", "Transport"]

log = logging.getLogger(__name__)

USER_AGENT = f"kapta-vendus/{__version__}"
REDACTED = "***"

# Errors raised before any byte of the request could reach the server (requests' own
# ConnectTimeout, SSLError and ProxyError are handled by type before this is consulted).
_PRE_SEND_CAUSES = (ConnectTimeoutError, ClosedPoolError)  # NewConnectionError is a ConnectTimeoutError
_PRE_SEND_ERRORS = (requests.ConnectTimeout, requests.exceptions.SSLError, requests.exceptions.ProxyError)
# Request-building mistakes (bad URL, bad header): a bug or misconfiguration, never retryable.
_INVALID_REQUEST = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
)


class _KeyAuth(AuthBase):
    """HTTP Basic with the API key as username and an empty password; the repr hides the key."""

    def __init__(self, api_key: str) -> None:
        token = base64.b64encode(f"{api_key}:".encode()).decode("ascii")
        self.header = f"Basic {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self.header
        return request

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {REDACTED}>"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    data: Any


class Transport:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: tuple[float, float],
        get_retries: int,
        max_rate_wait: float,
        throttle: Callable[[], None] | None,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        session: requests.Session | None,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValueError("api_key must be a non-empty string")
        self.base_url = base_url
        self._auth = _KeyAuth(api_key)
        # Both spellings of the key that could ever leak: as given, and as sent (base64).
        self._secrets = (api_key, self._auth.header.split(" ", 1)[1])
        self.timeout = timeout
        self.get_retries = max(0, int(get_retries))
        self.gate = RateLimitGate(max_wait=max_rate_wait, clock=clock, sleep=sleep)
        self._throttle = throttle
        self._sleep = sleep
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._rng = random.Random()  # jitter only; not a security use

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def redact(self, text: str) -> str:
        """Remove the key from text that did not come from us (server messages, library errors)."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    # -- public entry point -------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Reply:
        """Send once (writes) or with bounded retries (GET), and return the parsed reply."""
        method = method.upper()
        body = money.dumps(json) if json is not None else None  # fail on bad money before sending
        retries = self.get_retries if method == "GET" else 0
        attempt = 0
        while True:
            # Both may block; the gate may also refuse (RateLimited), which is never retried here
            # because waiting longer is exactly what the caller has to decide.
            self.gate.before_request()
            if self._throttle is not None:
                self._throttle()
            try:
                return self._send_once(method, path, params, body)
            except (VendusUnavailable, OutcomeUnknown, RateLimited) as err:
                if attempt >= retries:
                    raise
                attempt += 1
                delay = self._retry_delay(err, attempt)
                log.info(
                    "vendus %s %s failed (%s); retry %d/%d in %.2fs",
                    method,
                    path,
                    type(err).__name__,
                    attempt,
                    retries,
                    delay,
                )
                if delay > 0:
                    self._sleep(delay)

    # -- internals ----------------------------------------------------------------------------

    def _retry_delay(self, err: VendusError, attempt: int) -> float:
        if isinstance(err, RateLimited) and err.reset_after:
            return 0.0  # the gate now knows the reset and waits for it (or refuses) itself
        # "Equal jitter": never zero, so a burst of workers does not retry in lockstep.
        ceiling = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def _send_once(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: bytes | None
    ) -> Reply:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                self._url(path),
                params=params,
                data=body,
                headers=headers,
                auth=self._auth,
                timeout=self.timeout,
                stream=True,
                # A redirected POST silently becomes a GET; better to fail loudly.
                allow_redirects=method == "GET",
            )
        except requests.RequestException as exc:
            self._log_failure(method, path, started, exc)
            metrics.vendus_request(method, type(exc).__name__, time.perf_counter() - started)
            # Not chained: library exception text is only kept redacted (see redact()), so a
            # traceback logged with exc_info cannot carry anything the message does not.
            raise self._transport_error(exc, method, path) from None

        try:
            with response:
                content = response.content
        except (requests.RequestException, HTTPError, OSError) as exc:
            # The status line arrived, so the server processed (or is processing) the request.
            self._log_failure(method, path, started, exc)
            raise OutcomeUnknown(
                self.redact(f"response body lost: {type(exc).__name__}: {exc}"),
                method=method,
                path=path,
                status=response.status_code,
            ) from None

        status = response.status_code
        log.debug("vendus %s %s -> %d in %.3fs", method, path, status, time.perf_counter() - started)
        metrics.vendus_request(method, status, time.perf_counter() - started)
        self.gate.observe(response.headers)
        data = self._parse(content)

        if 200 <= status < 300:
            if data is _UNPARSEABLE:
                cls = VendusUnavailable if method == "GET" else OutcomeUnknown
                raise cls("unreadable JSON in a successful response", status=status, method=method, path=path)
            return Reply(status, response.headers, data)

        reset_after = parse_reset(response.headers.get("Rate-Limit-Reset")) if status == 429 else None
        error = error_for_status(
            status,
            self._redact_tree(data) if data is not _UNPARSEABLE else None,
            method=method,
            path=path,
            reset_after=reset_after,
            fallback_message=self.redact(response.reason or ""),
        )
        if status == 429:
            self.gate.exhausted(reset_after)
        raise error

    def _transport_error(self, exc: requests.RequestException, method: str, path: str) -> VendusError:
        detail = self.redact(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, _INVALID_REQUEST):
            return VendusError(f"invalid request: {detail}", method=method, path=path)
        if isinstance(exc, _PRE_SEND_ERRORS):
            return VendusUnavailable(f"not sent: {detail}", method=method, path=path)
        if isinstance(exc, requests.ConnectionError) and _is_pre_send(exc):
            return VendusUnavailable(f"not sent: {detail}", method=method, path=path)
        # ReadTimeout, ChunkedEncodingError, ProtocolError/RemoteDisconnected, anything unknown.
        return OutcomeUnknown(f"sent, no answer: {detail}", method=method, path=path)

    def _log_failure(self, method: str, path: str, started: float, exc: BaseException) -> None:
        log.debug(
            "vendus %s %s -> %s in %.3fs",
            method,
            path,
            type(exc).__name__,
            time.perf_counter() - started,
        )

    @staticmethod
    def _parse(content: bytes) -> Any:
        if not content or not content.strip():
            return None
        try:
            return money.loads(content)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            return _UNPARSEABLE

    def _redact_tree(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: self._redact_tree(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redact_tree(v) for v in value]
        return value


_UNPARSEABLE = object()


def _is_pre_send(exc: requests.ConnectionError) -> bool:
    """True when the ConnectionError wraps a failure to connect (refused, DNS, connect timeout)."""
    cause: Any = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return isinstance(cause, _PRE_SEND_CAUSES)
