"""Notification channel URLs are credentials (``slack://token/…``, ``mailto://user:password@…``), so
they are stored encrypted, like API keys: ``url`` in a file or a request becomes ``url_encrypted``
(a Fernet token under KAPTA_SECRET_KEYS) in the integration's stored configuration, and is decrypted
only when a notification is sent or a declared file is compared with what is stored.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from kapta_vendus.config import Settings, get_settings
from kapta_vendus.integrations.crypto import SecretUnreadable, decrypt, encrypt, reencrypt

log = logging.getLogger(__name__)
UNREADABLE = "unreadable://"  # apprise refuses it, so the channel counts as a failed delivery


def _map_channels(config: dict[str, Any] | None, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    config = copy.deepcopy(dict(config or {}))
    notifications = config.get("notifications")
    if isinstance(notifications, dict) and isinstance(notifications.get("channels"), list):
        notifications["channels"] = [change(dict(ch)) if isinstance(ch, dict) else ch
                                     for ch in notifications["channels"]]
    return config


def seal(settings: Settings, config: dict[str, Any] | None) -> dict[str, Any]:
    """The configuration as stored: every channel's ``url`` encrypted into ``url_encrypted``."""

    def sealed(channel: dict[str, Any]) -> dict[str, Any]:
        if "url" in channel:
            channel["url_encrypted"] = encrypt(settings, str(channel.pop("url")))
        return channel

    return _map_channels(config, sealed)


def unseal(settings: Settings, config: dict[str, Any] | None) -> dict[str, Any]:
    """The configuration as declared: ``url`` in clear (only in memory, never printed)."""

    def opened(channel: dict[str, Any]) -> dict[str, Any]:
        if "url_encrypted" in channel:
            channel["url"] = channel_url(channel, settings)
            channel.pop("url_encrypted")
        return channel

    return _map_channels(config, opened)


def rotated(settings: Settings, config: dict[str, Any] | None) -> dict[str, Any]:
    """Every channel URL re-encrypted under the primary key (``keys rotate``); raises SecretUnreadable."""

    def again(channel: dict[str, Any]) -> dict[str, Any]:
        if "url_encrypted" in channel:
            channel["url_encrypted"] = reencrypt(settings, channel["url_encrypted"])
        return channel

    return _map_channels(config, again)


def channel_url(channel: dict[str, Any], settings: Settings | None = None) -> str:
    """The URL to send to. A stored configuration from before encryption may still hold ``url``."""
    if "url_encrypted" not in channel:
        return str(channel.get("url") or "")
    try:
        return decrypt(settings or get_settings(), channel["url_encrypted"])
    except SecretUnreadable:
        log.error("a notification channel URL cannot be decrypted with the configured KAPTA_SECRET_KEYS")
        return UNREADABLE
