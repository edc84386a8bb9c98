"""The operators' web console at ``/console``: server-rendered pages over the admin API's queries.

No front-end build and no CDN: Jinja templates, one stylesheet, charts drawn as inline SVG on the
server, and no script at all. Login takes an admin-API token (``read`` to look, ``operate`` to
replay); a token bound to one integration sees only that one, as in the admin API.

Security: the session is a signed cookie (HttpOnly, SameSite=Strict, Secure unless
KAPTA_CONSOLE_SECURE_COOKIES=false) holding only the token's id, checked again on every request, so
revoking a token ends its console sessions. Every form carries a CSRF token (Flask-WTF), and every
page is sent with a strict Content-Security-Policy (no inline script or style), X-Frame-Options DENY,
no caching and no referrer to other sites.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

from kapta_vendus.config import Settings

PREFIX = "/console"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: over HTTPS Flask-WTF checks that a form comes from this site (Referer).
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
csrf = CSRFProtect()


def session_key(settings: Settings) -> bytes:
    """The cookie-signing key, derived from the primary encryption key (no new secret to manage)."""
    from kapta_vendus.integrations.crypto import _embedded_key

    primary = settings.secret_keys[0] if settings.secret_keys else _embedded_key(settings)
    return hmac.new(primary.encode(), b"kapta-vendus console session", hashlib.sha256).digest()


def init_console(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=session_key(settings),
        SESSION_COOKIE_NAME="kapta_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.console_secure_cookies,
        SESSION_COOKIE_PATH=PREFIX,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        # CSRF is checked on the console's forms only: the receiver and the admin API authenticate
        # every request by signature or bearer token and carry no cookie to forge.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_SSL_STRICT=settings.console_secure_cookies,
    )
    csrf.init_app(app)
    from kapta_vendus.console import views_destinations, views_events, views_integrations  # noqa: F401 - they add routes to bp
    from kapta_vendus.console.auth import bp

    app.register_blueprint(bp, url_prefix=PREFIX)

    @app.after_request
    def _security_headers(response):
        if request.path.startswith(PREFIX):
            response.headers.update(HEADERS)
        return response
