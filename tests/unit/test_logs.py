"""The last line of defence: secrets that slip into a log line are redacted."""

from __future__ import annotations

import io
import logging

import pytest
from cryptography.fernet import Fernet

from kapta_vendus.logs import RedactingFilter, redact

FERNET_TOKEN = Fernet(Fernet.generate_key()).encrypt(b"vendus api key").decode()


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("verifying with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw now", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
         "whsec_***"),
        ("GET https://www.vendus.pt/ws/v1.1/documents/?api_key=abc123DEF&since=2026-11-01", "abc123DEF",
         "since=2026-11-01"),
        ("params={'api_key': 'abc123DEF', 'page': 2}", "abc123DEF", "'page': 2"),
        ('body {"api_key":"abc123DEF","store_id":24994}', "abc123DEF", '"store_id":24994'),
        ("headers={'Authorization': 'Basic dXNlcjpwYXNzd29yZA=='}", "dXNlcjpwYXNzd29yZA==", "Basic ***"),
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl", "eyJhbGciOi", "Bearer ***"),
        ("authorization=bearer tok_live_12345", "tok_live_12345", "bearer ***"),
        ("connecting to postgresql+psycopg://kapta:s3cr3t-pw@db:5432/kapta", "s3cr3t-pw",
         "kapta:***@db:5432/kapta"),
        ("broker redis://:s3cr3t-pw@redis:6379/0 lost", "s3cr3t-pw", "redis://:***@redis:6379/0"),
        (f"stored secret_enc={FERNET_TOKEN}", FERNET_TOKEN[6:], "<encrypted>"),
        ("admin token kvt_a1B2c3D4e5F6", "a1B2c3D4e5F6", "kvt_***"),
    ],
)
def test_redact(text, secret, kept):
    cleaned = redact(text)
    assert secret not in cleaned
    assert kept in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "sale.completed evt_01J9ZK store 24994 total 12.34",
        "GET http://127.0.0.1:8000/health 200",
        "see http://host:8000/a@b for the page",
        "basic configuration loaded",
        "user@example.com asked for a receipt",
    ],
)
def test_ordinary_text_is_untouched(text):
    assert redact(text) == text


def test_redact_is_idempotent():
    once = redact("redis://:pw@h/0 api_key=x whsec_abc")
    assert redact(once) == once


def _logger_with_filter() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.redaction")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_filter_redacts_formatted_arguments():
    logger, stream = _logger_with_filter()
    logger.info("calling %s with %r", "https://x/documents?api_key=abc123DEF", {"n": 1})
    assert "abc123DEF" not in stream.getvalue()
    assert "api_key=***" in stream.getvalue()


def test_filter_redacts_tracebacks():
    logger, stream = _logger_with_filter()
    try:
        raise ConnectionError("Max retries exceeded with url: /ws/v1.1/documents/?api_key=abc123DEF")
    except ConnectionError:
        logger.exception("poll failed")
    output = stream.getvalue()
    assert "Traceback" in output
    assert "abc123DEF" not in output
