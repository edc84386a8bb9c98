"""The WSGI application served by gunicorn: the receiver, the health probes, the admin API, the operators'
console (``/console``) and the Prometheus metrics (``/metrics``)."""

from __future__ import annotations

import os

import structlog
from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from kapta_vendus.config import Settings, get_settings
from kapta_vendus.db.session import database_for
from kapta_vendus.logs import setup_logging

# Benchmarks only (bench/bench_receiver.py), never set in production. With KAPTA_BENCH_NOOP=1 the app
# also serves ``POST /_bench/v1/integrations/<id>/events``, which reads the body and answers 202
# without verification, database or broker: what the same server costs for a request that does
# nothing, the baseline the receiver is measured against.
BENCH_NOOP = "KAPTA_BENCH_NOOP"


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    setup_logging(settings.log_level, settings.log_format)
    app = Flask("kapta_vendus")
    app.config.update(
        KAPTA_SETTINGS=settings,
        KAPTA_DB=database_for(settings.database_url),
        # Werkzeug refuses to read more than this, whatever Content-Length claims.
        MAX_CONTENT_LENGTH=settings.receiver_max_body,
    )
    from kapta_vendus.admin import init_admin
    from kapta_vendus.receiver import health, views

    app.register_blueprint(health.bp)
    app.register_blueprint(views.bp)
    api = init_admin(app)
    from kapta_vendus.console import init_console

    init_console(app, settings)
    app.add_url_rule("/metrics", "metrics", _metrics)

    @app.before_request
    def _fresh_log_context() -> None:
        # Log bindings live in context variables, which outlive a request in a sync worker's thread.
        structlog.contextvars.clear_contextvars()

    if os.environ.get(BENCH_NOOP) == "1":
        app.add_url_rule("/_bench/v1/integrations/<integration_id>/events", "bench_noop", _bench_noop,
                         methods=["POST"])

    @app.errorhandler(HTTPException)
    def _json_errors(exc: HTTPException):
        # The admin API answers errors in the shape its OpenAPI document declares (flask-smorest's);
        # the receiver and probes keep their own {"error": …}.
        if request.path.startswith("/admin/"):
            return api.handle_http_exception(exc)
        return jsonify({"error": exc.description or exc.name}), exc.code

    return app


def _metrics():
    """Prometheus scrape: the samples of every web and worker process of this host, and the state gauges.

    Not behind a token (Prometheus scrapes it); publish it only inside the network (deploy/nginx).
    """
    from kapta_vendus.metrics import exposition
    from kapta_vendus.metrics_state import StateCollector

    body, content_type = exposition([StateCollector(current_app.config["KAPTA_DB"],
                                                    current_app.config["KAPTA_SETTINGS"])])
    return Response(body, content_type=content_type)


def _bench_noop(integration_id: str):
    request.get_data(cache=False)
    return jsonify({"status": "accepted", "id": integration_id}), 202
