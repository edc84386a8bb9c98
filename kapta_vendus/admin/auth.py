"""Bearer-token authentication and scope checks for the admin API.

Refusals, and why they differ:

* no token, or an unknown, revoked or malformed one → 401 with ``WWW-Authenticate: Bearer``;
* a valid token without the scope the operation needs (a read token asking for a replay) → 403;
* a token bound to integration A asking for anything under integration B → **404**, exactly as
  for an integration that does not exist, so that a token cannot even learn which integration
  ids exist. Only admin tokens see every integration.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request
from flask_smorest import abort

from kapta_vendus.db.models import Integration
from kapta_vendus.integrations.service import plausible_id
from kapta_vendus.integrations.tokens import Principal, authenticate

SECURITY = [{"bearerAuth": []}]
SCHEME = {"type": "http", "scheme": "bearer", "description": "A token from `kapta-vendus tokens create`"}


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unauthorised() -> None:
    abort(401, message="a valid bearer token is required", headers={"WWW-Authenticate": 'Bearer realm="admin"'})


def requires(scope: str) -> Callable:
    """Authenticate, check ``scope``, and (for routes under an integration) its visibility."""

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            token = _bearer()
            if token is None:
                _unauthorised()
            db = current_app.config["KAPTA_DB"]
            with db.unit_of_work() as session:
                principal = authenticate(session, token)
            if principal is None:
                _unauthorised()
            if scope not in principal.scopes:
                abort(403, message=f"this token lacks the {scope!r} scope")
            integration_id = kwargs.get("integration_id")
            if integration_id is not None:
                visible(principal, integration_id)
            g.principal = principal
            return view(*args, **kwargs)

        return checked

    return wrap


def visible(principal: Principal, integration_id: str) -> None:
    """404 unless the integration exists and this principal may see it (see the module docstring)."""
    if not plausible_id(integration_id) or not principal.may_see(integration_id):
        abort(404, message="no such integration")
    with current_app.config["KAPTA_DB"].unit_of_work() as session:
        if session.get(Integration, integration_id) is None:
            abort(404, message="no such integration")


def principal() -> Principal:
    return g.principal
