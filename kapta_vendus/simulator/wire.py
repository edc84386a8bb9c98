"""HTTP details of the emulated API: path parsing, authentication, request bodies, JSON replies.

* Paths: ``/ws/v1.1/x``, ``/ws/x`` (default version 1.1) and ``/ws/v1.0/x``; trailing slash optional;
  an extension on the last segment (``documents/12.pdf``) selects the format.
* Auth: HTTP Basic with the key as username (empty password) or ``?api_key=``; ``Bearer`` only when
  the ``accept_bearer_auth`` assumption is on.
* Bodies: JSON (numbers parsed as Decimal, never float). Form bodies get 415 unless
  ``accept_form_bodies`` is on, in which case PHP-style keys (``items[0][qty]``) are unflattened.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal

from flask import Response

from .errors import ApiError

VERSIONS = {"v1.0": "1.0", "v1.1": "1.1"}
DEFAULT_VERSION = "1.1"
_FORM_KEY = re.compile(r"[^\[\]]+")


@dataclass
class Reply:
    status: int
    body: object = None
    headers: dict = field(default_factory=dict)
    raw: bytes | None = None
    mimetype: str = "application/json"


def split_path(subpath: str) -> tuple[str | None, str, str]:
    """``"v1.1/documents/12.pdf/"`` -> ("1.1", "documents/12", "pdf"); version None if unknown."""
    parts = [part for part in subpath.split("/") if part]
    version = DEFAULT_VERSION
    if parts and re.fullmatch(r"v\d+(\.\d+)?", parts[0]):
        version = VERSIONS.get(parts.pop(0))
    ext = ""
    if parts and "." in parts[-1]:
        stem, _, ext = parts[-1].rpartition(".")
        parts[-1] = stem
    return version, "/".join(parts), ext.lower()


def api_key_from(request, accept_bearer: bool) -> str | None:
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username:
        return auth.username
    if auth is not None and auth.type == "bearer" and accept_bearer and auth.token:
        return auth.token
    return request.args.get("api_key") or None


def _unflatten(form) -> dict:
    result: dict = {}
    for key in form:
        tokens = _FORM_KEY.findall(key)
        node = result
        for token in tokens[:-1]:
            node = node.setdefault(token, {})
        node[tokens[-1]] = form[key]
    return _lists(result)


def _lists(node: object) -> object:
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


def parse_body(request, accept_form: bool) -> object:
    raw = request.get_data(cache=True)
    mimetype = request.mimetype or ""
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if not accept_form:
            raise ApiError(415, "A001", "Tipo de conteúdo não suportado. Envie JSON (application/json).")
        return _unflatten(request.form)
    if not raw.strip():
        return {}
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, "A001", "Tipo de conteúdo não suportado. Envie JSON (application/json).")
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError:
        raise ApiError(400, "A001", "Pedido inválido: o corpo não é JSON válido.") from None


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False, default=_json_default)


def to_response(reply: Reply, extra_headers: dict, envelope: bool) -> Response:
    headers = {**reply.headers, **extra_headers}
    if envelope and reply.raw is None:
        body = {"status": reply.status, "headers": headers, "response": reply.body}
        return Response(dumps(body), status=200, mimetype="application/json", headers=headers)
    if reply.raw is not None:
        return Response(reply.raw, status=reply.status, mimetype=reply.mimetype, headers=headers)
    text = "" if reply.body is None else dumps(reply.body)
    return Response(text, status=reply.status, mimetype=reply.mimetype, headers=headers)
