"""Settings, read once from the environment into a frozen object.

Every variable lives in the single ``VARIABLES`` table below: its name, the setting it fills, how it
is parsed, its default and what it is for. ``deploy/env.example`` and the README's configuration
table are generated from the same table (``kapta-vendus config --format env`` / ``--format markdown``),
so the documentation cannot drift from the code. An empty value means the default, as in that file.
Tests build ``Settings(...)`` explicitly instead of touching ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A configuration value is invalid. The message always names the variable."""


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("must be a positive integer") from None
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("must be a positive number") from None
    if not value > 0:
        raise ValueError("must be a positive number")
    return value


def _non_negative_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("must be a number, 0 or more") from None
    if not value >= 0:
        raise ValueError("must be a number, 0 or more")
    return value


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return level


def _database_url(raw: str) -> str:
    scheme, sep, rest = raw.partition("://")
    if sep and scheme in {"postgresql", "postgres"}:
        # SQLAlchemy would pick psycopg2 for a bare postgresql:// URL, which is not installed:
        # accept the common spelling and use the driver we ship.
        return f"postgresql+psycopg://{rest}"
    if not sep or scheme not in {"sqlite", "sqlite+pysqlite", "postgresql+psycopg"}:
        raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
    return raw


def _broker_url(raw: str) -> str:
    scheme = urlsplit(raw).scheme
    if scheme not in {"redis", "rediss", "sqla+sqlite", "sqla+postgresql", "memory"}:
        raise ValueError("must be a redis:// URL, or sqla+sqlite:/// for the embedded broker")
    return raw


def _shown(var: Variable, raw: str) -> str:
    """The value as an error message may show it: never a secret, never a password in a URL."""
    if var.secret:
        return "<hidden>"
    return repr(re.sub(r"^([^@]*?//)?[^@/]*@", lambda m: f"{m.group(1) or ''}***@", raw))


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("must be an http(s):// URL")
    return raw.rstrip("/")


def _key_list(raw: str) -> tuple[str, ...]:
    # Imported here so that reading settings does not pay for cryptography unless keys are set.
    from cryptography.fernet import Fernet

    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            # Never echo the key itself: it is a secret.
            raise ValueError(f"key #{position} is not a url-safe base64 32-byte Fernet key") from None
    return keys


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in {"true", "false", "1", "0", "yes", "no", "on", "off"}:
        raise ValueError("must be true or false")
    return value in {"true", "1", "yes", "on"}


def _log_format(raw: str) -> str:
    if raw not in {"json", "human"}:
        raise ValueError("must be 'json' or 'human'")
    return raw


def _language(raw: str) -> str:
    if raw not in {"pt", "en"}:
        raise ValueError("must be 'pt' or 'en'")
    return raw


@dataclass(frozen=True)
class Variable:
    env: str
    setting: str
    parse: Callable[[str], Any]
    default: str
    doc: str
    secret: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable("KAPTA_DATA_DIR", "data_dir", str, "var",
             "Folder for the embedded defaults (SQLite database and broker, generated key file)."),
    Variable("KAPTA_DATABASE_URL", "database_url", _database_url, "",
             "SQLAlchemy URL of the state database. Empty: a SQLite file in KAPTA_DATA_DIR. "
             "Production: postgresql+psycopg://user:pass@host/db."),
    Variable("KAPTA_BROKER_URL", "broker_url", _broker_url, "",
             "Celery broker. Empty: the embedded kombu SQLAlchemy transport on a SQLite file in "
             "KAPTA_DATA_DIR (no server needed). Production: redis://host:6379/0."),
    Variable("KAPTA_SECRET_KEYS", "secret_keys", _key_list, "",
             "Comma-separated Fernet keys that encrypt stored API keys and webhook secrets. The first "
             "encrypts, all decrypt (rotation). Empty: a key file generated in KAPTA_DATA_DIR.",
             secret=True),
    Variable("KAPTA_LOG_LEVEL", "log_level", _log_level, "INFO", "Log level of every process."),
    Variable("KAPTA_LOG_FORMAT", "log_format", _log_format, "json",
             "Log lines as JSON (one object per line, for a log collector) or human (for development)."),
    Variable("KAPTA_RECEIVER_MAX_BODY", "receiver_max_body", _positive_int, "262144",
             "Largest accepted event body in bytes; larger bodies get 413."),
    Variable("KAPTA_WEBHOOK_TOLERANCE", "webhook_tolerance", _positive_int, "300",
             "Allowed clock skew of webhook-timestamp, in seconds (Standard Webhooks: 5 minutes)."),
    Variable("KAPTA_VENDUS_BASE_URL", "vendus_base_url", _http_url, "https://www.vendus.pt/ws/v1.1",
             "Default Vendus API base URL for new integrations."),
    Variable("KAPTA_VENDUS_CONNECT_TIMEOUT", "vendus_connect_timeout", _positive_float, "5",
             "Seconds to wait for a TCP connection to Vendus."),
    Variable("KAPTA_VENDUS_TIMEOUT", "vendus_timeout", _positive_float, "30",
             "Seconds to wait for a Vendus response once the request is sent."),
    Variable("KAPTA_TASK_TIME_LIMIT", "task_time_limit", _positive_int, "300",
             "Hard time limit of one task, in seconds. The soft limit is 80 % of it."),
    Variable("KAPTA_VISIBILITY_TIMEOUT", "visibility_timeout", _positive_int, "3600",
             "Seconds before Redis redelivers an unacknowledged task. Must exceed the task time limit."),
    Variable("KAPTA_TASK_MAX_RETRIES", "task_max_retries", _positive_int, "8",
             "Retries in place of a transient error (database, Redis) before the event is parked to wait; "
             "it goes dead only past KAPTA_RETRY_HORIZON."),
    Variable("KAPTA_RECONCILE_INTERVAL", "reconcile_interval", _positive_int, "300",
             "Seconds between two polls of each store by beat."),
    Variable("KAPTA_SWEEP_INTERVAL", "sweep_interval", _positive_int, "60",
             "Seconds between two runs of the inbox sweeper."),
    Variable("KAPTA_SWEEP_GRACE", "sweep_grace", _positive_int, "360",
             "Seconds an unfinished event may sit untouched before the sweeper re-enqueues it; "
             "keep it above the task time limit."),
    Variable("KAPTA_LANGUAGE", "language", _language, "pt", "Language of notifications: pt or en."),
    Variable("KAPTA_RETRY_HORIZON", "retry_horizon", _positive_int, "259200",
             "Seconds an event keeps waiting out a Vendus outage (or its invoice) before it goes dead "
             "(72 hours, as mature webhook senders retry)."),
    Variable("KAPTA_RESUME_INTERVAL", "resume_interval", _positive_int, "15",
             "Seconds between two looks at the events waiting for Vendus (or for their invoice)."),
    Variable("KAPTA_RECEIVER_CACHE_TTL", "receiver_cache_ttl", _non_negative_float, "5",
             "Seconds the receiver keeps an integration's secrets, stores and cap in memory: a secret "
             "rotation or a disable takes effect within this delay (0: no cache)."),
    Variable("KAPTA_TASK_SENT_EVENTS", "task_sent_events", _boolean, "false",
             "Publish Celery task-sent and worker events (true only where Flower monitors the queues)."),
    Variable("KAPTA_EVENT_SLA", "event_sla", _positive_int, "3600",
             "Seconds an event may stay unfinished before doctor and the console report its integration."),
    Variable("KAPTA_CONSOLE_SECURE_COOKIES", "console_secure_cookies", _boolean, "true",
             "Send the web console's session cookie over HTTPS only. Set false only for plain-HTTP development."),
    Variable("KAPTA_BEAT_KEY_PREFIX", "beat_key_prefix", str, "redbeat",
             "Prefix of beat's schedule keys in Redis (RedBeat), so that a demo or a second deployment "
             "sharing the Redis server keeps its own schedule."),
    Variable("KAPTA_DELIVERY_TIMEOUT", "delivery_timeout", _positive_float, "5",
             "Seconds to wait for a destination to connect, and again to answer; a slow destination "
             "then counts as a failed try and never holds a worker for long."),
    Variable("KAPTA_DELIVERY_HORIZON_HOURS", "delivery_horizon_hours", _positive_float, "72",
             "Hours a delivery to a destination is retried before it is kept as dead (replayable)."),
    Variable("KAPTA_DELIVERY_BACKOFF", "delivery_backoff", _positive_float, "30",
             "Base seconds of the jittered exponential backoff between tries of a delivery."),
    Variable("KAPTA_DELIVERY_COOLDOWN", "delivery_cooldown", _positive_float, "30",
             "Seconds a destination's circuit stays open after 5 consecutive failures (doubling)."),
    Variable("KAPTA_DELIVERY_SWEEP_INTERVAL", "delivery_sweep_interval", _positive_int, "15",
             "Seconds between two runs of the sweeper that sends due deliveries and customer emails."),
    Variable("KAPTA_SMTP_URL", "smtp_url", str, "",
             "SMTP server for documents sent to customers by the service: smtp://user:pass@host:587 "
             "(STARTTLS), smtps://… (TLS) or smtp://host:25. Empty: the service sends no email.",
             secret=True),
    Variable("KAPTA_SMTP_FROM", "smtp_from", str, "",
             "Sender address of documents emailed to customers (an integration may set its own)."),
    Variable("KAPTA_EXEMPTION_CACHE_SECONDS", "exemption_cache_seconds", _non_negative_float, "3600",
             "Seconds a worker keeps a Vendus account's list of VAT exemption reasons (GET taxes/exemptions) "
             "before asking again (0: ask for every exempt document)."),
)


@dataclass(frozen=True)
class Settings:
    data_dir: str = "var"
    database_url: str = ""
    broker_url: str = ""
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    log_level: str = "INFO"
    log_format: str = "json"
    receiver_max_body: int = 262144
    webhook_tolerance: int = 300
    vendus_base_url: str = "https://www.vendus.pt/ws/v1.1"
    vendus_connect_timeout: float = 5.0
    vendus_timeout: float = 30.0
    task_time_limit: int = 300
    visibility_timeout: int = 3600
    task_max_retries: int = 8
    reconcile_interval: int = 300
    sweep_interval: int = 60
    # Longer than the task time limit, so a step that is slow but alive is not re-enqueued under it.
    sweep_grace: int = 360
    language: str = "pt"
    retry_horizon: int = 259200
    resume_interval: int = 15
    receiver_cache_ttl: float = 5.0
    task_sent_events: bool = False
    event_sla: int = 3600
    console_secure_cookies: bool = True
    beat_key_prefix: str = "redbeat"
    delivery_timeout: float = 5.0
    delivery_horizon_hours: float = 72.0
    delivery_backoff: float = 30.0
    delivery_cooldown: float = 30.0
    delivery_sweep_interval: int = 15
    smtp_url: str = field(default="", repr=False)
    smtp_from: str = ""
    exemption_cache_seconds: float = 3600.0

    def __post_init__(self) -> None:
        # Derived defaults are filled here so that Settings() and from_env() agree.
        data_dir = os.path.abspath(self.data_dir)
        object.__setattr__(self, "data_dir", data_dir)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{data_dir}/kapta-vendus.sqlite3")
        if not self.broker_url:
            object.__setattr__(self, "broker_url", f"sqla+sqlite:///{data_dir}/kapta-broker.sqlite3")
        if self.visibility_timeout <= self.task_time_limit:
            raise ConfigError(
                "KAPTA_VISIBILITY_TIMEOUT must be longer than KAPTA_TASK_TIME_LIMIT "
                f"({self.visibility_timeout} <= {self.task_time_limit}), or Redis would redeliver "
                "tasks that are still running"
            )

    @property
    def embedded(self) -> bool:
        """True when running on the no-server defaults (SQLite state and broker)."""
        return self.database_url.startswith("sqlite") and self.broker_url.startswith("sqla+")

    @property
    def uses_redis(self) -> bool:
        return self.broker_url.startswith(("redis://", "rediss://"))

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for var in VARIABLES:
            # Unset and empty both mean the default (env files list every variable, many empty).
            raw = environ.get(var.env, "").strip() or var.default
            if raw == "":
                continue  # derived in __post_init__
            try:
                values[var.setting] = var.parse(raw)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"{var.env}={_shown(var, raw)} is invalid: {exc}") from None
        unknown = sorted(k for k in environ if k.startswith("KAPTA_") and k not in _KNOWN)
        if unknown:
            logging.getLogger(__name__).warning("unknown configuration variables ignored: %s", unknown)
        return cls(**values)


# Variables read directly by their one user rather than settings: the benchmark-only no-op endpoint
# (kapta_vendus.web.BENCH_NOOP) and the API key of `integrations create` (its --vendus-api-key option,
# the documented way to keep the key out of the shell history). Known, so not reported as ignored.
_KNOWN = {v.env for v in VARIABLES} | {"KAPTA_BENCH_NOOP", "KAPTA_NEW_VENDUS_API_KEY"}
_cached: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use (never at import)."""
    global _cached
    if _cached is None:
        _cached = Settings.from_env()
    return _cached


def set_settings(settings: Settings | None) -> None:
    """Install explicit settings (tests, the demo). ``None`` forgets them."""
    global _cached
    _cached = settings
