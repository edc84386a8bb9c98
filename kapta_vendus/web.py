"""The WSGI application served by gunicorn: the receiver, the health probes and the admin API."""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from kapta_vendus.config import Settings, get_settings
from kapta_vendus.db.session import database_for
from kapta_vendus.logs import setup_logging


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    setup_logging(settings.log_level)
    app = Flask("kapta_vendus")
    app.config.update(
        KAPTA_SETTINGS=settings,
        KAPTA_DB=database_for(settings.database_url),
        # Werkzeug refuses to read more than this, whatever Content-Length claims.
        MAX_CONTENT_LENGTH=settings.receiver_max_body,
    )
    from kapta_vendus.receiver import health, views

    app.register_blueprint(health.bp)
    app.register_blueprint(views.bp)

    @app.errorhandler(HTTPException)
    def _json_errors(exc: HTTPException):
        return jsonify({"error": exc.description or exc.name}), exc.code

    return app
