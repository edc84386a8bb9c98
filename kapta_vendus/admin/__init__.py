"""The admin API (``/admin/v1/…``, flask-smorest), its OpenAPI document and bearer-token auth.

The OpenAPI document is served at ``/admin/v1/openapi.json`` and committed as
``docs/openapi.json`` (``kapta-vendus openapi --output docs/openapi.json``; a test checks that
the committed file is what the code generates). It also describes the receiver's endpoint, so
that one document covers everything this service exposes over HTTP.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask_smorest import Api

from kapta_vendus.admin.auth import SCHEME
from kapta_vendus.admin.receiver_doc import document_receiver

API_VERSION = "v1"


def init_admin(app: Flask) -> Api:
    app.config.update(
        API_TITLE="kapta-vendus",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/admin/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={"info": {"description": (
            "Admin API of kapta-vendus (bearer tokens with scopes read, operate, admin; a non-admin "
            "token sees only its own integration, and anything else answers 404) and the signed event "
            "receiver.")}},
    )
    api = Api(app)
    api.spec.components.security_scheme("bearerAuth", SCHEME)
    from kapta_vendus.admin.views import bp

    api.register_blueprint(bp)
    from kapta_vendus.admin.destinations import bp as destinations_bp

    api.register_blueprint(destinations_bp)
    document_receiver(api.spec, app)
    return api


def spec_json(app: Flask) -> str:
    """The OpenAPI document as committed: sorted keys, stable indentation, final newline."""
    api: Any = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    return json.dumps(api.spec.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
