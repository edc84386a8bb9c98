"""`kapta-vendus doctor`: check the configuration, the database and the broker, and say what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kapta_vendus.config import ConfigError, Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # ok, but worth attention


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported by its own check
        return "<unparsable URL>"


def _reason(exc: BaseException) -> str:
    """The driver's own first line (``Connection refused``, ``password authentication failed``…):
    what the operator needs to fix it, with anything secret-looking redacted."""
    from kapta_vendus.logs import redact

    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    first = lines[0][:200] if lines else ""
    return f"{type(exc).__name__}: {redact(first)}" if first else type(exc).__name__


def check_database(settings: Settings) -> Check:
    from sqlalchemy import text

    from kapta_vendus.db import migrate
    from kapta_vendus.db.session import make_engine

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        label = _redact(settings.database_url)
        return Check("database", False, f"{label}: cannot connect ({_reason(exc)})")
    finally:
        engine.dispose()
    current, head = migrate.current_revision(settings.database_url), migrate.head_revision()
    if current != head:
        return Check("database", False,
                     f"{_redact(settings.database_url)}: schema at {current or 'nothing'}, "
                     f"expected {head}; run `kapta-vendus db upgrade`")
    return Check("database", True, f"{_redact(settings.database_url)} (schema {current})")


def check_broker(settings: Settings) -> Check:
    from kombu import Connection

    label = _redact(settings.broker_url)
    try:
        with Connection(settings.broker_url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
            if settings.uses_redis:
                conn.default_channel.client.ping()
    except Exception as exc:
        return Check("broker", False, f"{label}: cannot connect ({_reason(exc)})")
    kind = "redis (RedBeat scheduler)" if settings.uses_redis else "embedded, no server"
    return Check("broker", True, f"{label} [{kind}]")


def check_keys(settings: Settings) -> Check:
    from kapta_vendus.integrations.crypto import key_file_path, key_ring

    try:
        ring = key_ring(settings)
        ring.decrypt(ring.encrypt(b"doctor"))
    except Exception as exc:
        return Check("secret keys", False, f"cannot encrypt with the configured keys ({type(exc).__name__})")
    if settings.secret_keys:
        return Check("secret keys", True, f"{len(settings.secret_keys)} key(s) from KAPTA_SECRET_KEYS")
    return Check("secret keys", True, f"generated key file {key_file_path(settings)}; "
                                      "set KAPTA_SECRET_KEYS in production", warning=True)


def check_integrations(settings: Settings) -> list[Check]:
    """One check per active integration: its Vendus key and mapping, its polls and its oldest event."""
    from sqlalchemy import select

    from kapta_vendus.admin.overview import overview
    from kapta_vendus.db.models import Integration
    from kapta_vendus.db.session import database_for
    from kapta_vendus.integrations.checkup import checkup

    out = []
    with database_for(settings.database_url).unit_of_work() as session:
        active = list(session.scalars(select(Integration).where(Integration.status == "active")
                                      .order_by(Integration.name)))
        healths = {h.id: h for h in overview(session, settings, integration_ids=[i.id for i in active])}
        for integration in active:
            problems = checkup(settings, integration, healths[integration.id])
            out.append(Check(f"integration {integration.name}", not problems,
                             "; ".join(problems) if problems else
                             f"Vendus key answers, mapping ok, stores {integration.store_ids}"))
    return out


CHECKS: tuple[Callable[[Settings], Check], ...] = (check_database, check_broker, check_keys)


def run_checks(load: Callable[[], Settings]) -> list[Check]:
    try:
        settings = load()
    except ConfigError as exc:
        return [Check("configuration", False, str(exc))]
    results = [Check("configuration", True, "all KAPTA_* variables valid"
                     + (" (embedded defaults)" if settings.embedded else ""))]
    results.extend(check(settings) for check in CHECKS)
    if results[1].ok:  # the database answers at the expected schema: the integrations can be read
        results.extend(check_integrations(settings))
    return results
