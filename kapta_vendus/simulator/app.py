"""Flask application: the emulated API under ``/ws/`` plus the ``/_sim/`` control endpoints.

Order of work for an API request: route -> API key (401) -> rate limit (429) -> injected faults
(latency, drop, error) -> body parsing (400/415) -> handler -> commit-then-drop / slow page ->
stats. Connection drops are done by ``ConnectionDropMiddleware`` once the handler has returned,
so a "commit-then-drop" really commits before the client loses the response.
"""

from __future__ import annotations

import socket
import struct
import time

from flask import Flask, current_app, request

from . import control
from .api import Call, match_route
from .errors import ApiError
from .state import SimulatorState
from .wire import Reply, api_key_from, parse_body, split_path, to_response

STATE_KEY = "vendus_simulator"
DROP_KEY = "kapta_vendus.simulator.drop_after_s"
METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]
_PROXY_PAGES = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class SimulatedConnectionDrop(ConnectionResetError):
    """Raised to the caller when a drop is injected and there is no real socket (Flask test client)."""


class ConnectionDropMiddleware:
    """Kill the client connection, without any response, for requests flagged by a fault.

    Under werkzeug's server the environ carries the socket (``werkzeug.socket``; gunicorn:
    ``gunicorn.socket``). Lingering is switched off so closing resets the connection, the socket is
    shut down (the client sees EOF/RST, never a status line), and ConnectionResetError is raised:
    werkzeug treats that as a dropped connection and writes nothing.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        result = self.app(environ, start_response)
        delay = environ.get(DROP_KEY)
        if delay is None:
            return result
        if hasattr(result, "close"):
            result.close()
        if delay:
            time.sleep(delay)
        sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
        if sock is None:
            raise SimulatedConnectionDrop("simulated connection drop")
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise ConnectionResetError("simulated connection drop")


def create_app(state: SimulatorState | None = None, **state_kwargs) -> Flask:
    """Build the simulator app around ``state`` (or a new ``SimulatorState(**state_kwargs)``)."""
    state = state if state is not None else SimulatorState(**state_kwargs)
    app = Flask("kapta_vendus.simulator")
    app.extensions[STATE_KEY] = state
    app.register_blueprint(control.blueprint)
    app.add_url_rule("/ws", "ws_root", _ws_view, defaults={"subpath": ""}, methods=METHODS, strict_slashes=False)
    app.add_url_rule("/ws/<path:subpath>", "ws", _ws_view, methods=METHODS)
    app.wsgi_app = ConnectionDropMiddleware(app.wsgi_app)
    return app


def _ws_view(subpath: str):
    state: SimulatorState = current_app.extensions[STATE_KEY]
    return handle_api_request(state, subpath)


def _injected_error(status: int) -> Reply:
    if status in _PROXY_PAGES:  # what a proxy in front of the API would send: HTML, not JSON
        page = f"<html><body><h1>{status} {_PROXY_PAGES[status]}</h1></body></html>"
        return Reply(status, raw=page.encode(), mimetype="text/html")
    message = "Limite de pedidos excedido." if status == 429 else "Erro interno do servidor."
    return Reply(status, {"errors": [{"code": "A001", "message": message}]})


def _error_reply(err: ApiError, validation_status: int) -> Reply:
    """Validation errors are 403 P001 live; ``validation_status`` can turn them into 422."""
    status = validation_status if (err.code == "P001" and err.status == 403) else err.status
    return Reply(status, err.body())


def handle_api_request(state: SimulatorState, subpath: str):
    a = state.assumptions
    method = request.method
    override = (request.args.get("action") or "").upper()
    if method == "POST" and override in ("PATCH", "PUT", "DELETE"):
        method = override  # documented "?action=PATCH" for clients that can only GET/POST
    version, path, ext = split_path(subpath)
    route, doc_id, path_exists = match_route(method, version, path)
    template = route.template if route else ("(method not allowed)" if path_exists else "(unknown)")
    account = state.authenticate(api_key_from(request, a.accept_bearer_auth))
    label = str(account.id) if account else "anonymous"
    rate_headers: dict = {}
    try:
        if account is None:
            raise ApiError(401, a.unauthorized_code, a.unauthorized_message)
        allowed, rate_headers = state.rate_limiter.consume(account.key)
        if not allowed:
            raise ApiError(
                429,
                "A001",
                f"Limite de pedidos excedido. Tente de novo dentro de {rate_headers['Rate-Limit-Reset']} segundos.",
            )
        if route is None:
            raise ApiError(405 if path_exists else 404, "A001", "No data" if not path_exists else "Método inválido.")
        decision = state.faults.decide(method, path, template, route.is_list and method == "GET")
        if decision.latency_s:
            time.sleep(decision.latency_s)
        if decision.drop_before:
            # Read the unread body first: werkzeug keeps reading a connection that sent no response,
            # and would parse a leftover body as the next request line (a spurious logged 400).
            request.get_data(cache=False)
            state.stats.fault("drop")
            request.environ[DROP_KEY] = decision.drop_delay_s
            state.stats.record(label, method, template, "dropped")
            return ""
        if decision.error_status:
            state.stats.fault(f"error_{decision.error_status}")
            reply = _injected_error(decision.error_status)
        else:
            try:
                body = parse_body(request, a.accept_form_bodies) if method in ("POST", "PATCH", "PUT") else None
                reply = route.handler(Call(state, account, request.args, body, doc_id, ext))
            except ApiError as err:
                reply = _error_reply(err, a.validation_status)
            if decision.drop_after:  # processed (and committed, if it succeeded); the answer is lost
                state.stats.fault("commit_then_drop")
                request.environ[DROP_KEY] = decision.drop_delay_s
                state.stats.record(label, method, template, "dropped_after_commit")
                return ""
            if decision.slow_page_s and reply.status == 200:
                time.sleep(decision.slow_page_s)
    except ApiError as err:
        reply = _error_reply(err, a.validation_status)
    envelope = (request.args.get("envelope") or "").lower() == "true"
    state.stats.record(label, method, template, reply.status)
    return to_response(reply, rate_headers, envelope)
