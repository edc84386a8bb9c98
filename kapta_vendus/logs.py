"""Logging: JSON lines through structlog, bound to what is being worked on, with secrets redacted.

Every log line of every library goes through the same processors (structlog's ``ProcessorFormatter``
on the root logger): the level and logger name, a UTC timestamp, whatever is bound in the current
context (``integration``, ``event_id``, ``task_id``, ``store``: see ``bound``), then redaction, then
either one JSON object per line (``KAPTA_LOG_FORMAT=json``, for a log collector) or a readable
line for development (``human``). Binding uses context variables, so it follows the task or request
being worked on, and the metrics read the same ``integration`` label from it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from typing import Any

import structlog

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


# Every pattern above starts from one of these literal markers (same case rules): a text with none
# of them cannot match any pattern, and most log lines hold none, so one search spares six.
_MARKERS = re.compile(r"whsec_|api_key|(?i:authorization)|://|gAAAAA|kvt_")


def redact(text: str) -> str:
    if not _MARKERS.search(text):
        return text
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


BOUND_KEYS = ("integration", "event_id", "task_id", "store")


@contextlib.contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind ``integration``, ``event_id``, ``task_id`` or ``store`` to every log line (and metric) inside."""
    values = {k: v for k, v in values.items() if v is not None}
    tokens = structlog.contextvars.bind_contextvars(**values)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def bind(**values: Any) -> None:
    """Bind for the rest of the current context (a Celery task: unbound when it ends, see celery hooks)."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v is not None})


def current(key: str) -> Any:
    return structlog.contextvars.get_contextvars().get(key)


def _redact_event(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = redact(value)
    return event


def _processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]


def formatter(fmt: str = "json") -> logging.Formatter:
    renderer = (structlog.processors.JSONRenderer(sort_keys=False) if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, _redact_event, renderer])


def setup_logging(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    structlog.configure(
        processors=[*_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def install_celery_hooks() -> None:
    """Workers log like the web process, and each task's lines carry its ``task_id``."""
    from celery import signals

    @signals.setup_logging.connect(weak=False)
    def _setup(**_kwargs: Any) -> None:  # connected: Celery leaves logging to us
        from kapta_vendus.config import get_settings

        settings = get_settings()
        setup_logging(settings.log_level, settings.log_format)

    @signals.task_prerun.connect(weak=False)
    def _bind_task(task_id: str | None = None, **_kwargs: Any) -> None:
        structlog.contextvars.clear_contextvars()
        bind(task_id=task_id)

    @signals.task_postrun.connect(weak=False)
    def _unbind_task(**_kwargs: Any) -> None:
        structlog.contextvars.clear_contextvars()
