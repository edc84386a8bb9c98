"""Encryption at rest for API keys and webhook secrets (cryptography's MultiFernet).

The first key encrypts; every key decrypts, so keys can be rotated: add the new key first, run
``kapta-vendus keys rotate`` to re-encrypt, then drop the old key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
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
        _create_key_file(path)
    return path.read_text().strip()


def _create_key_file(path: Path) -> None:
    # The web process and a worker may start together: write the key to a private temporary file,
    # then link it into place. link() fails if another process won, and then its key is used, so
    # nobody ever reads a half-written file or encrypts with a key that is then overwritten.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode())
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
