"""``/_sim/`` control endpoints: stats, faults, clock, assumptions, rate limit, accounts, bulk seeding.

They are not part of the emulated API and answer only to loopback clients (anything else gets a
plain 404, as if they did not exist).
"""

from __future__ import annotations

import ipaddress
from datetime import datetime

from flask import Blueprint, abort, current_app, jsonify, request

from .errors import ApiError
from .ratelimit import RateLimitConfig

blueprint = Blueprint("simulator_control", __name__, url_prefix="/_sim")


def _state():
    return current_app.extensions["vendus_simulator"]


def _json() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _bad(message: str, status: int = 400):
    return jsonify({"error": message}), status


@blueprint.before_request
def _loopback_only():
    try:
        if not ipaddress.ip_address(request.remote_addr or "").is_loopback:
            abort(404)
    except ValueError:
        abort(404)


@blueprint.get("/stats")
def stats():
    state = _state()
    snapshot = state.stats.snapshot()
    snapshot["documents"] = {str(acc.id): len(acc.docs) for acc in list(state.accounts.values())}
    return jsonify(snapshot)


@blueprint.post("/reset")
def reset():
    _state().reset()
    return jsonify({"ok": True})


@blueprint.route("/faults", methods=["GET", "POST"])
def faults():
    state = _state()
    if request.method == "POST":
        try:
            state.faults.configure(_json())
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            return _bad(str(exc))
    return jsonify(state.faults.to_dict())


@blueprint.route("/clock", methods=["GET", "POST"])
def clock():
    """Set "today": ``{"now": "2026-03-01T10:00:00+00:00", "frozen": true}``,
    ``{"advance_seconds": 86400}`` or ``{"reset": true}`` (back to real time)."""
    state = _state()
    if request.method == "POST":
        data = _json()
        try:
            if data.get("reset"):
                state.clock.reset()
            if data.get("now"):
                state.clock.set(
                    datetime.fromisoformat(str(data["now"]).replace("Z", "+00:00")),
                    frozen=bool(data.get("frozen", False)),
                )
            elif data.get("frozen"):
                state.clock.freeze()
            if data.get("advance_seconds"):
                state.clock.advance(float(data["advance_seconds"]))
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
    return jsonify(state.clock.describe())


@blueprint.route("/assumptions", methods=["GET", "POST"])
def assumptions():
    state = _state()
    if request.method == "POST":
        try:
            with state.lock:
                state.assumptions.update(_json())
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
    return jsonify(state.assumptions.to_dict())


@blueprint.route("/rate-limit", methods=["GET", "POST"])
def rate_limit():
    """``{"credits": 100, "window_seconds": 20}`` turns limiting on; ``{"enabled": false}`` turns it off."""
    state = _state()
    if request.method == "POST":
        try:
            state.rate_limiter.configure(RateLimitConfig.from_dict(_json()))
        except (ValueError, TypeError, KeyError) as exc:
            return _bad(str(exc))
    return jsonify({"rate_limit": state.rate_limiter.describe()})


@blueprint.post("/accounts")
def add_account():
    """Add an account from a fixture entry (``{"api_key": "k", ...}``; missing sections use the defaults)."""
    try:
        account = _state().add_account(_json())
    except (ValueError, TypeError, KeyError) as exc:
        return _bad(str(exc))
    return jsonify({"id": account.id, "api_key": account.key}), 201


@blueprint.post("/bulk")
def bulk():
    """``{"api_key": "k", "n": 100000, "start_date": "2026-01-01", ...}`` -> first/last ids (see bulk.py)."""
    data = _json()
    key = data.pop("api_key", None)
    count = data.pop("n", None)
    try:
        ids = _state().bulk_create_documents(key, int(count), **data)
    except ApiError as exc:
        return jsonify(exc.body()), exc.status
    except (ValueError, TypeError, KeyError) as exc:
        return _bad(str(exc))
    return jsonify({"created": len(ids), "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None})
