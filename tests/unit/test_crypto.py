"""Encryption at rest: round trip, key rotation, and errors that never reveal a secret."""

from __future__ import annotations

import stat
import threading

import pytest
from cryptography.fernet import Fernet

from kapta_vendus.config import Settings
from kapta_vendus.integrations import crypto
from kapta_vendus.integrations.crypto import SecretUnreadable, decrypt, encrypt, reencrypt

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
PLAINTEXT = "vendus-api-key-0123456789abcdef"


@pytest.fixture
def old_only(tmp_path) -> Settings:
    return Settings(data_dir=str(tmp_path), secret_keys=(OLD_KEY,))


def test_round_trip(settings):
    token = encrypt(settings, PLAINTEXT)
    assert PLAINTEXT not in token
    assert decrypt(settings, token) == PLAINTEXT


def test_each_encryption_is_different(settings):
    # Fernet uses a random IV: equal secrets must not be recognisable as equal in the database.
    assert encrypt(settings, PLAINTEXT) != encrypt(settings, PLAINTEXT)


def test_unicode_round_trip(settings):
    assert decrypt(settings, encrypt(settings, "chave-ção-€")) == "chave-ção-€"


def test_rotation(old_only):
    old_token = encrypt(old_only, PLAINTEXT)
    rotating = old_only.replace(secret_keys=(NEW_KEY, OLD_KEY))  # new key first: it encrypts

    assert decrypt(rotating, old_token) == PLAINTEXT
    new_token = reencrypt(rotating, old_token)
    assert new_token != old_token
    assert decrypt(rotating, new_token) == PLAINTEXT
    # The re-encrypted token is under the primary key alone...
    assert Fernet(NEW_KEY.encode()).decrypt(new_token.encode()).decode() == PLAINTEXT
    # ...so once the old key is dropped, it still decrypts, and the old token does not.
    rotated = old_only.replace(secret_keys=(NEW_KEY,))
    assert decrypt(rotated, new_token) == PLAINTEXT
    with pytest.raises(SecretUnreadable):
        decrypt(rotated, old_token)


def test_new_secrets_during_rotation_use_the_primary_key(old_only):
    rotating = old_only.replace(secret_keys=(NEW_KEY, OLD_KEY))
    token = encrypt(rotating, PLAINTEXT)
    assert decrypt(old_only.replace(secret_keys=(NEW_KEY,)), token) == PLAINTEXT


@pytest.mark.parametrize("operation", [decrypt, reencrypt])
def test_unreadable_secret_reveals_nothing(old_only, operation):
    token = encrypt(old_only, PLAINTEXT)
    wrong = old_only.replace(secret_keys=(NEW_KEY,))
    with pytest.raises(SecretUnreadable) as info:
        operation(wrong, token)
    message = str(info.value)
    for secret in (PLAINTEXT, token, OLD_KEY, NEW_KEY):
        assert secret not in message
    # Nothing chained either: a traceback would otherwise print the InvalidToken context.
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_garbage_token_is_unreadable(settings):
    with pytest.raises(SecretUnreadable):
        decrypt(settings, "not-a-token")


def test_embedded_key_file_is_private_and_stable(tmp_path):
    settings = Settings(data_dir=str(tmp_path / "var"))  # no KAPTA_SECRET_KEYS: the embedded default
    token = encrypt(settings, PLAINTEXT)
    path = crypto.key_file_path(settings)
    assert path.parent == tmp_path / "var"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Fernet(path.read_text().strip().encode())  # a valid key
    assert decrypt(Settings(data_dir=str(tmp_path / "var")), token) == PLAINTEXT
    assert [p.name for p in path.parent.iterdir()] == [crypto.KEY_FILE], "no temporary file left"


def test_embedded_key_is_not_used_when_keys_are_set(settings):
    encrypt(settings, PLAINTEXT)
    assert not crypto.key_file_path(settings).exists()


def test_concurrent_first_use_agrees_on_one_key(tmp_path):
    # Two processes starting together (web and worker) must not end up with different keys.
    settings = Settings(data_dir=str(tmp_path))
    barrier = threading.Barrier(8)
    keys: list[str] = []
    errors: list[BaseException] = []

    def first_use() -> None:
        try:
            barrier.wait()
            keys.append(crypto._embedded_key(settings))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(keys)) == 1
    assert crypto.key_file_path(settings).read_text().strip() == keys[0]
