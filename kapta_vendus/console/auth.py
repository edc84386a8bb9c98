"""Console login with an admin-API token, the session that remembers it, and scope checks."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError

from kapta_vendus.console import csrf
from kapta_vendus.db.models import ApiToken, Integration, utcnow
from kapta_vendus.integrations.tokens import Principal, authenticate, effective_scopes

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")


def db():
    return current_app.config["KAPTA_DB"]


def _principal_of(token_id: int) -> Principal | None:
    """The token behind a session, if it is still live (revoking a token logs its sessions out)."""
    with db().unit_of_work() as s:
        row = s.get(ApiToken, token_id)
        if row is None or row.revoked_at is not None:
            return None
        if row.integration_id is not None:
            integration = s.get(Integration, row.integration_id)
            if integration is None or integration.status == "deleted":
                return None
        return Principal(row.id, row.name, effective_scopes(list(row.scopes or [])), row.integration_id)


@bp.before_request
def _load_principal() -> Any:
    if request.method == "POST":
        csrf.protect()  # every console form, the login form included
    g.principal = None
    token_id = session.get("token_id")
    if token_id is not None:
        g.principal = _principal_of(int(token_id))
        if g.principal is None:
            session.clear()
    if g.principal is None and request.endpoint not in ("console.login", "console.static"):
        return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
    return None


@bp.errorhandler(CSRFError)
def _csrf_refused(exc: CSRFError):
    return render_template("error.html", title="Form expired", message=(
        "This form is no longer valid (its security token is missing or expired). Go back, reload the page "
        "and try again.")), 400


def requires(scope: str) -> Callable:
    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if scope not in g.principal.scopes:
                abort(403, description=f"your token lacks the {scope!r} scope")
            return view(*args, **kwargs)

        return checked

    return wrap


def visible_ids() -> list[str] | None:
    """None for an admin token (every integration), else the one integration the token is bound to."""
    p: Principal = g.principal
    return None if p.is_admin else [p.integration_id]


def may_see(integration_id: str) -> bool:
    return g.principal.may_see(integration_id)


@bp.app_template_global()
def can(scope: str) -> bool:
    return g.get("principal") is not None and scope in g.principal.scopes


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        token = (request.form.get("token") or "").strip()
        with db().unit_of_work() as s:
            principal = authenticate(s, token)
        if principal is None:
            flash("That token is not valid (unknown, revoked, or its integration was deleted).", "error")
            return render_template("login.html"), 401
        session.clear()
        session.permanent = True
        session["token_id"], session["since"] = principal.token_id, utcnow().isoformat()
        target = request.args.get("next") or ""
        # Only a path of this console: never an open redirect to another site.
        safe = target.startswith("/console/") and "//" not in target and "\\" not in target
        return redirect(target if safe else url_for("console.overview"))
    return render_template("login.html")


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("console.login"))


@bp.errorhandler(403)
def _forbidden(exc):
    return render_template("error.html", title="Not allowed", message=exc.description), 403


@bp.errorhandler(404)
def _not_found(exc):
    return render_template("error.html", title="Not found", message="There is nothing here (or it is not yours "
                           "to see)."), 404
