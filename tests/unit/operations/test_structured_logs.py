"""Log lines are JSON objects bound to what is being worked on, with secrets redacted, or readable lines."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from kapta_vendus.logs import RedactingFilter, bound, current, formatter


@pytest.fixture
def capture():
    def make(fmt: str) -> tuple[logging.Logger, io.StringIO]:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter(fmt))
        handler.addFilter(RedactingFilter())
        logger = logging.getLogger(f"tests.structured.{fmt}")
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO)
        return logger, stream

    yield make
    structlog.contextvars.clear_contextvars()


def test_json_lines_carry_the_bound_context_and_no_secret(capture):
    logger, stream = capture("json")
    with bound(integration="int-1", event_id=42, store=24994, task_id=None):
        logger.info("calling %s", "https://x/documents?api_key=abc123DEF")
        assert current("integration") == "int-1"
    logger.info("after")

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["integration"] == "int-1" and first["event_id"] == 42 and first["store"] == 24994
    assert "task_id" not in first  # None is not bound
    assert first["level"] == "info" and first["logger"] == "tests.structured.json" and first["timestamp"]
    assert first["event"] == "calling https://x/documents?api_key=***"
    assert "integration" not in second  # unbound on leaving the block


def test_secrets_in_bound_values_and_tracebacks_are_redacted(capture):
    logger, stream = capture("json")
    with bound(integration="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"):
        try:
            raise ConnectionError("redis://:s3cr3t-pw@redis:6379/0 lost")
        except ConnectionError:
            logger.exception("broker down")
    line = json.loads(stream.getvalue())
    assert "s3cr3t-pw" not in stream.getvalue() and "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in stream.getvalue()
    assert "Traceback" in line["exception"]


def test_the_human_format_is_one_readable_line(capture):
    logger, stream = capture("human")
    with bound(integration="int-1", event_id=7):
        logger.warning("poll of %s skipped", 24994)
    text = stream.getvalue()
    assert not text.startswith("{")
    assert "poll of 24994 skipped" in text and "integration=int-1" in text and "event_id=7" in text
