"""One Vendus client per integration per thread (a client's requests.Session is not thread-safe).

Every client spends its integration's shared request budget (``ratelimit``) before each request.
"""

from __future__ import annotations

import hashlib
import threading

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Integration
from kapta_vendus.integrations.config import limits_of
from kapta_vendus.integrations.ratelimit import throttle_for
from kapta_vendus.integrations.service import api_key
from kapta_vendus.vendus import VendusClient

_local = threading.local()


def client_for(settings: Settings, integration: Integration) -> VendusClient:
    key = api_key(settings, integration)
    limits = limits_of(integration.config)
    # The cache key changes when the API key, URL or budget changes, so an applied change takes
    # effect at once. Only a digest of the key is kept, never the key itself.
    cache_key = (integration.id, "row", integration.vendus_base_url, hashlib.sha256(key.encode()).hexdigest(),
                 limits)
    return _cached(cache_key, lambda: VendusClient(
        integration.vendus_base_url, key,
        timeout=(settings.vendus_connect_timeout, settings.vendus_timeout),
        throttle=throttle_for(settings, integration.id, limits)))


def client_for_view(settings: Settings, view) -> VendusClient:
    """``client_for`` from a cached ``IntegrationView``: the key is decrypted only on a change.

    Clients are per thread (a requests.Session is not thread-safe) and per row version: an
    integration whose ``updated_at`` moved gets a new client, and its old one is closed.
    """
    from kapta_vendus.integrations.crypto import decrypt

    return _cached((view.id, "view", view.updated_at), lambda: VendusClient(
        view.vendus_base_url, decrypt(settings, view.api_key_enc),
        timeout=(settings.vendus_connect_timeout, settings.vendus_timeout),
        throttle=throttle_for(settings, view.id, view.limits)))


def _cached(cache_key: tuple, make) -> VendusClient:
    """This thread's client under ``cache_key`` = (integration id, kind, version...).

    A new version of the same integration and kind closes the old client, so a rotated key or a
    changed URL never lingers in a Session.
    """
    clients: dict = getattr(_local, "clients", None) or {}
    _local.clients = clients
    client = clients.get(cache_key)
    if client is None:
        for stale in [k for k in clients if k[:2] == cache_key[:2]]:
            clients.pop(stale).close()
        client = clients[cache_key] = make()
    return client
