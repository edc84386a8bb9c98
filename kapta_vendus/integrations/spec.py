"""The YAML that declares integrations, kept in version control and applied idempotently.

    integrations:
      - name: lisboa
        status: active                      # or disabled
        vendus:
          api_key_env: VENDUS_KEY_LISBOA    # or api_key_encrypted: gAAAA… (kapta-vendus keys encrypt)
          base_url: https://www.vendus.pt/ws/v1.1
          mode: normal                      # or tests
        stores: [24994]
        events: {types: [sale.completed], stores: [24994], registers: [3001]}
        mapping: {payment_methods: {cash: 24934}, stores: {24994: {register_id: 3001}}}
        rules: [...]
        notifications: {channels: [{url_env: OPS_CHAT_URL, on: [rejected, dead]}]}  # or url / url_encrypted
        limits: {vendus_requests_per_second: 5, vendus_burst: 10, max_events_in_flight: 8}
        email: {by: service, language: pt, from: faturas@example.pt}   # documents to customers
        destinations: [{name: pos, url: https://pos.example/hooks, events: [document.issued]}]
        webhook:
          secrets: generate                 # or [{env: NAME}, {encrypted: gAAAA…}]
          rotation_overlap: 24h

The full format, with an example that ``apply`` accepts, is in docs/integrations.md. Only ``true`` and
``false`` are booleans (integrations/yamlfile.py), so ``on:`` above stays a key.

A file may also hold a single integration (the item itself, without ``integrations:``). Secrets
never appear in the file in clear: API keys and webhook secrets come from environment variables
or are Fernet tokens under the deployment's keys; a plaintext value is refused. Every problem is
reported at once, each naming its field (``integrations[0] (lisboa).vendus.mode: …``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from kapta_vendus.config import Settings
from kapta_vendus.events.errors import Rejection
from kapta_vendus.events.validation import flatten_errors
from kapta_vendus.integrations.config import SECTIONS, validate_config
from kapta_vendus.integrations.crypto import SecretUnreadable, decrypt
from kapta_vendus.integrations.yamlfile import read_yaml

DEFAULT_OVERLAP = timedelta(hours=24)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
PLAINTEXT_KEY = ("plaintext API keys are refused in configuration files; use api_key_env (an environment "
                 "variable) or api_key_encrypted (from `kapta-vendus keys encrypt`)")


def parse_duration(text: Any) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``7d`` or a number of seconds."""
    match = _DURATION.match(str(text))
    if match is None or isinstance(text, bool):
        raise ValueError(f"must be a duration such as 30m, 24h or 7d (got {text!r})")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _Vendus(_Strict):
    api_key_env = fields.String(validate=validate.Length(min=1))
    api_key_encrypted = fields.String(validate=validate.Length(min=1))
    api_key = fields.Raw()  # only so that its presence is reported with the right reason
    base_url = fields.Url(schemes={"http", "https"}, require_tld=False)
    mode = fields.String(load_default="normal", validate=validate.OneOf(("normal", "tests")))


class _SecretRef(_Strict):
    env = fields.String(validate=validate.Length(min=1))
    encrypted = fields.String(validate=validate.Length(min=1))
    value = fields.Raw()


class _Secrets(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if value == "generate":
            return value
        if not isinstance(value, list) or not value:
            raise ValidationError('must be "generate" or a non-empty list of {env: NAME} / {encrypted: TOKEN}')
        errors, refs = {}, []
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                errors[index] = ["must be {env: NAME} or {encrypted: TOKEN}; secrets are never written in clear"]
                continue
            try:
                refs.append(_SecretRef().load(item))
            except ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ValidationError(errors)
        return refs


class _Webhook(_Strict):
    secrets = _Secrets(load_default="generate")
    rotation_overlap = fields.Raw(load_default="24h")


class _Integration(_Strict):
    name = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,199}$", error="must be 1-200 letters, digits, spaces, '.', '_' or '-'"))
    status = fields.String(load_default="active", validate=validate.OneOf(("active", "disabled")))
    vendus = fields.Nested(_Vendus, required=True)
    stores = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1)), required=True,
                         validate=validate.Length(min=1, error="must list at least one Vendus store id"))
    webhook = fields.Nested(_Webhook, load_default=lambda: _Webhook().load({}))
    # The configuration sections are checked by validate_config, which knows their rules.
    mapping = fields.Dict()
    rules = fields.List(fields.Dict())
    notifications = fields.Dict()
    events = fields.Dict()
    limits = fields.Dict()
    email = fields.Dict()
    destinations = fields.List(fields.Raw())  # checked by destinations.declared


@dataclass(frozen=True)
class WebhookSpec:
    generate: bool
    secrets: tuple[str, ...]  # declared secrets, in clear (never printed)
    sources: tuple[str, ...]  # where each came from, for display: "env:NAME" or "encrypted"
    overlap: timedelta


@dataclass(frozen=True)
class IntegrationSpec:
    name: str
    status: str
    base_url: str
    mode: str
    api_key: str = ""  # in clear, only in memory; never printed
    api_key_source: str = ""
    stores: tuple[int, ...] = ()
    config: Mapping[str, Any] | None = None
    webhook: WebhookSpec | None = None
    destinations: tuple[Any, ...] | None = None  # DestinationSpec; None: no block, leave them alone

    def __repr__(self) -> str:  # a spec in a traceback must not show the key
        return f"IntegrationSpec(name={self.name!r}, mode={self.mode!r}, stores={self.stores!r})"


def load_specs(path: str | Path, settings: Settings, environ: Mapping[str, str] | None = None) -> list[IntegrationSpec]:
    document = read_yaml(path)
    return parse_specs(document, settings, os.environ if environ is None else environ)


def parse_specs(document: Any, settings: Settings, environ: Mapping[str, str]) -> list[IntegrationSpec]:
    if isinstance(document, Mapping) and "integrations" in document:
        extra = [k for k in document if k != "integrations"]
        if extra:
            raise Rejection([f"{k}: unknown top-level key (expected integrations)" for k in extra])
        items = document["integrations"]
    elif isinstance(document, Mapping) and "name" in document:
        items = [document]
    else:
        raise Rejection(["file: must hold `integrations:` (a list) or a single integration with a name"])
    if not isinstance(items, list) or not items:
        raise Rejection(["integrations: must be a non-empty list"])
    problems: list[str] = []
    specs: list[IntegrationSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        label = f"integrations[{index}]"
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            label += f" ({item['name']})"
            if item["name"] in seen:
                problems.append(f"{label}.name: declared twice in this file")
            seen.add(item["name"])
        found: list[str] = []
        spec = _one(item, settings, environ, found)
        problems.extend(f"{label}.{p}" for p in found)
        if spec is not None:
            specs.append(spec)
    if problems:
        raise Rejection(problems)
    return specs


def _one(item: Any, settings: Settings, environ: Mapping[str, str], problems: list[str]) -> IntegrationSpec | None:
    if not isinstance(item, Mapping):
        problems.append("item: must be a mapping with name, vendus and stores")
        return None
    try:
        data = _Integration().load(item)
    except ValidationError as exc:
        # Keep checking what is valid, so that one run reports every problem of the file.
        problems.extend(flatten_errors(exc.messages))
        data = exc.valid_data if isinstance(exc.valid_data, dict) else {}
    vendus = data.get("vendus") or {}
    key, source = _api_key(vendus, settings, environ, problems) if vendus else ("", "")
    config = {name: data[name] for name in SECTIONS if name in data}
    config = _resolve_channel_urls(config, settings, environ, problems)
    try:
        validate_config(config, mode=vendus.get("mode", "normal"))
    except Rejection as exc:
        problems.extend(exc.reasons)
    webhook = _webhook(data["webhook"], settings, environ, problems) if "webhook" in data else None
    destinations = None
    if "destinations" in item:
        from kapta_vendus.destinations.declared import parse_declared

        destinations, found = parse_declared(item["destinations"])
        problems.extend(found)
    if problems:
        return None
    return IntegrationSpec(
        name=data["name"], status=data["status"], mode=vendus["mode"],
        base_url=(vendus.get("base_url") or settings.vendus_base_url).rstrip("/"),
        api_key=key, api_key_source=source, stores=tuple(dict.fromkeys(data["stores"])),
        # Stored as JSON: normalise now (integer keys become strings) so that re-applying compares equal.
        config=json.loads(json.dumps(config, default=str)), webhook=webhook, destinations=destinations)


def _api_key(vendus: Mapping[str, Any], settings: Settings, environ: Mapping[str, str],
             problems: list[str]) -> tuple[str, str]:
    if "api_key" in vendus:
        problems.append(f"vendus.api_key: {PLAINTEXT_KEY}")
        return "", ""
    given = [k for k in ("api_key_env", "api_key_encrypted") if k in vendus]
    if len(given) != 1:
        problems.append("vendus: give exactly one of api_key_env or api_key_encrypted")
        return "", ""
    if given[0] == "api_key_env":
        name = vendus["api_key_env"]
        value = (environ.get(name) or "").strip()
        if not value:
            problems.append(f"vendus.api_key_env: environment variable {name} is not set or empty")
        return value, f"env:{name}"
    return _decrypted(vendus["api_key_encrypted"], "vendus.api_key_encrypted", settings, problems), "encrypted"


def _decrypted(token: str, field: str, settings: Settings, problems: list[str]) -> str:
    try:
        return decrypt(settings, token)
    except SecretUnreadable:
        problems.append(f"{field}: cannot be decrypted with the configured KAPTA_SECRET_KEYS")
        return ""


def _webhook(data: Mapping[str, Any], settings: Settings, environ: Mapping[str, str],
             problems: list[str]) -> WebhookSpec:
    try:
        overlap = parse_duration(data.get("rotation_overlap", "24h"))
    except ValueError as exc:
        problems.append(f"webhook.rotation_overlap: {exc}")
        overlap = DEFAULT_OVERLAP
    declared = data.get("secrets", "generate")  # absent also when it failed its own check above
    if declared == "generate":
        return WebhookSpec(True, (), (), overlap)
    secrets, sources = [], []
    for index, ref in enumerate(declared):
        field = f"webhook.secrets[{index}]"
        if "value" in ref:
            problems.append(f"{field}.value: plaintext secrets are refused; use env or encrypted")
        elif len(ref) != 1:
            problems.append(f"{field}: give exactly one of env or encrypted")
        elif "env" in ref:
            value = (environ.get(ref["env"]) or "").strip()
            if not value.startswith("whsec_"):
                problems.append(f"{field}.env: environment variable {ref['env']} must hold a whsec_… secret")
            secrets.append(value)
            sources.append(f"env:{ref['env']}")
        else:
            secrets.append(_decrypted(ref["encrypted"], f"{field}.encrypted", settings, problems))
            sources.append("encrypted")
    return WebhookSpec(False, tuple(secrets), tuple(sources), overlap)


def _resolve_channel_urls(config: dict[str, Any], settings: Settings, environ: Mapping[str, str],
                          problems: list[str]) -> dict[str, Any]:
    """``url_env: NAME`` or ``url_encrypted: TOKEN`` keep a chat or mail URL (which may embed a token)
    out of the file in clear. Either becomes ``url`` in memory; it is stored encrypted (channels.py)."""
    channels = (config.get("notifications") or {}).get("channels")
    if not isinstance(channels, list):
        return config
    resolved = []
    for index, channel in enumerate(channels):
        if isinstance(channel, Mapping) and "url_encrypted" in channel:
            channel = dict(channel)
            token = str(channel.pop("url_encrypted"))
            if "url" in channel or "url_env" in channel:
                problems.append(f"notifications.channels[{index}]: give one of url, url_env or url_encrypted")
            channel["url"] = _decrypted(token, f"notifications.channels[{index}].url_encrypted", settings,
                                        problems) or "unset://"
        if isinstance(channel, Mapping) and "url_env" in channel:
            channel = dict(channel)
            name = channel.pop("url_env")
            if "url" in channel:
                problems.append(f"notifications.channels[{index}]: give url or url_env, not both")
            channel["url"] = (environ.get(str(name)) or "").strip()
            if not channel["url"]:
                problems.append(f"notifications.channels[{index}].url_env: environment variable {name} is not set")
                channel["url"] = "unset://"
        resolved.append(channel)
    return {**config, "notifications": {**config["notifications"], "channels": resolved}}
