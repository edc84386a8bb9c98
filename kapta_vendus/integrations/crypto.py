"""Encryption at rest for API keys and webhook secrets (cryptography's MultiFernet).

The first key encrypts; every key decrypts, so keys can be rotated: add the new key first, run
``kapta-vendus keys rotate`` to re-encrypt, then drop the old key.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kapta_vendus.config import Settings

KEY_FILE = "fernet.key"


class SecretUnreadable(RuntimeError):
    """A stored secret cannot be decrypted with any configured key."""


def key_file_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / KEY_FILE


def _embedded_key(settings: Settings) -> str:
    # Only for the embedded default (a laptop, the demo): production sets KAPTA_SECRET_KEYS.
    path = key_file_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode())
    return path.read_text().strip()


def key_ring(settings: Settings) -> MultiFernet:
    keys = settings.secret_keys or (_embedded_key(settings),)
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(settings: Settings, plaintext: str) -> str:
    return key_ring(settings).encrypt(plaintext.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    try:
        return key_ring(settings).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("stored secret cannot be decrypted with the configured keys") from None


def reencrypt(settings: Settings, token: str) -> str:
    """The same secret under the primary key (MultiFernet.rotate)."""
    try:
        return key_ring(settings).rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("stored secret cannot be decrypted with the configured keys") from None
