"""Logging set-up with a last line of defence against secrets in log lines."""

from __future__ import annotations

import logging
import re

# What a secret looks like when it slips into a message: webhook secrets, Fernet tokens,
# api_key query parameters, Basic/Bearer credentials and passwords inside URLs.
_PATTERNS = (
    (re.compile(r"whsec_[A-Za-z0-9+/=_-]+"), "whsec_***"),
    # api_key=… in a query string, and 'api_key': '…' / "api_key": "…" in a logged dict or JSON.
    (re.compile(r"(api_key['\"]?\s*[=:]\s*['\"]?)[^&\s'\",}]+"), r"\1***"),
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:basic|bearer)\s+)[A-Za-z0-9+/=._-]+"), r"\1***"),
    # user:password@ and :password@ (Redis URLs carry no user); a '/' cannot be in the password of a
    # URL, which keeps "http://host:8000/a@b" intact.
    (re.compile(r"(://[^:/@\s]*:)[^@\s/]+(@)"), r"\1***\2"),
    (re.compile(r"gAAAAA[A-Za-z0-9_=-]{20,}"), "<encrypted>"),
    (re.compile(r"kvt_[A-Za-z0-9_-]+"), "kvt_***"),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_TRACEBACKS = logging.Formatter()


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        # Exception texts carry URLs too (a connection error names the URL with its query string).
        # Formatters reuse a cached exc_text, so filling it here redacts the traceback they print.
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
