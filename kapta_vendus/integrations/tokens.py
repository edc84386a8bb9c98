"""Bearer tokens of the admin API: shown once, stored as their SHA-256, scoped, revocable.

Scopes nest: ``read`` (GET), ``operate`` (read + replay), ``admin`` (everything, every integration).
A read or operate token is bound to one integration and sees nothing else; an admin token is
bound to none. A token is ``kvt_`` + 32 random bytes (url-safe base64): long enough that storing
an unsalted SHA-256 is safe, and the prefix lets log redaction and secret scanners recognise it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import ApiToken, Integration, utcnow

SCOPES = ("read", "operate", "admin")
PREFIX = "kvt_"
_IMPLIED = {"read": {"read"}, "operate": {"read", "operate"}, "admin": {"read", "operate", "admin"}}
LAST_USED_PRECISION = timedelta(minutes=1)  # avoid a write per request


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, name, effective scopes and the integration it is bound to."""

    token_id: int
    name: str
    scopes: frozenset[str]
    integration_id: str | None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def may_see(self, integration_id: str) -> bool:
        return self.is_admin or self.integration_id == integration_id


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def effective_scopes(scopes: list[str]) -> frozenset[str]:
    out: set[str] = set()
    for scope in scopes:
        out |= _IMPLIED.get(scope, set())
    return frozenset(out)


def create_token(session: Session, *, name: str, scopes: list[str], integration_id: str | None) -> tuple[ApiToken, str]:
    scopes = list(dict.fromkeys(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise TokenError(f"scope must be one of {', '.join(SCOPES)}")
    if not name.strip():
        raise TokenError("name: required")
    if "admin" in scopes and integration_id:
        raise TokenError("an admin token sees every integration; it cannot be bound to one (drop --integration)")
    if "admin" not in scopes and not integration_id:
        raise TokenError("a read or operate token is bound to one integration: give --integration")
    if integration_id:
        integration = session.get(Integration, integration_id) or session.scalar(
            select(Integration).where(Integration.name == integration_id))
        if integration is None or integration.status == "deleted":
            raise TokenError(f"no integration {integration_id!r}")
        integration_id = integration.id
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name.strip(), token_hash=hash_token(token), scopes=scopes, integration_id=integration_id)
    session.add(row)
    session.flush()
    return row, token


def authenticate(session: Session, token: str) -> Principal | None:
    """The principal of a live token, or None. Lookup is by hash, so timing reveals nothing useful."""
    if not token.startswith(PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.integration_id is not None:
        status = session.scalar(select(Integration.status).where(Integration.id == row.integration_id))
        if status in (None, "deleted"):
            return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        row.last_used_at = now
    return Principal(row.id, row.name, effective_scopes(list(row.scopes or [])), row.integration_id)


def revoke_token(session: Session, token_id: int) -> bool:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise TokenError(f"no token {token_id}")
    if row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
