"""Settings: every variable parsed from an explicit environment, defaults, and clear errors."""

from __future__ import annotations

import dataclasses
import logging
import os

import pytest

from kapta_vendus.config import VARIABLES, ConfigError, Settings, get_settings, set_settings

KEY_A = "n9Oq0u0n8k3Yb7l7a4sH9yTqV1cRkJmZ2pW5xE6dA0s="
KEY_B = "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

# A non-default value for every variable, and the setting it must produce.
EVERY_VARIABLE = {
    "KAPTA_DATA_DIR": ("/srv/kapta", "/srv/kapta"),
    "KAPTA_DATABASE_URL": ("postgresql+psycopg://kv:pw@db:5432/kv", "postgresql+psycopg://kv:pw@db:5432/kv"),
    "KAPTA_BROKER_URL": ("redis://redis:6379/1", "redis://redis:6379/1"),
    "KAPTA_SECRET_KEYS": (f"{KEY_A}, {KEY_B}", (KEY_A, KEY_B)),
    "KAPTA_LOG_LEVEL": ("debug", "DEBUG"),
    "KAPTA_RECEIVER_MAX_BODY": ("1048576", 1048576),
    "KAPTA_WEBHOOK_TOLERANCE": ("120", 120),
    "KAPTA_VENDUS_BASE_URL": ("http://127.0.0.1:9000/ws/v1.1/", "http://127.0.0.1:9000/ws/v1.1"),
    "KAPTA_VENDUS_CONNECT_TIMEOUT": ("2.5", 2.5),
    "KAPTA_VENDUS_TIMEOUT": ("12", 12.0),
    "KAPTA_TASK_TIME_LIMIT": ("120", 120),
    "KAPTA_VISIBILITY_TIMEOUT": ("7200", 7200),
    "KAPTA_TASK_MAX_RETRIES": ("3", 3),
    "KAPTA_RECONCILE_INTERVAL": ("600", 600),
    "KAPTA_SWEEP_INTERVAL": ("30", 30),
    "KAPTA_SWEEP_GRACE": ("90", 90),
    "KAPTA_LANGUAGE": ("en", "en"),
    "KAPTA_LOG_FORMAT": ("human", "human"),
    "KAPTA_EVENT_SLA": ("900", 900),
    "KAPTA_CONSOLE_SECURE_COOKIES": ("false", False),
    "KAPTA_BEAT_KEY_PREFIX": ("kapta-staging", "kapta-staging"),
    "KAPTA_RETRY_HORIZON": ("600", 600),
    "KAPTA_RESUME_INTERVAL": ("5", 5),
    "KAPTA_RECEIVER_CACHE_TTL": ("2.5", 2.5),
    "KAPTA_TASK_SENT_EVENTS": ("yes", True),
    "KAPTA_DELIVERY_TIMEOUT": ("2", 2.0),
    "KAPTA_DELIVERY_HORIZON_HOURS": ("24", 24.0),
    "KAPTA_DELIVERY_BACKOFF": ("5", 5.0),
    "KAPTA_DELIVERY_COOLDOWN": ("10", 10.0),
    "KAPTA_DELIVERY_SWEEP_INTERVAL": ("5", 5),
    "KAPTA_SMTP_URL": ("smtp://mail:pw@mx:587", "smtp://mail:pw@mx:587"),
    "KAPTA_SMTP_FROM": ("faturas@example.pt", "faturas@example.pt"),
    "KAPTA_EXEMPTION_CACHE_SECONDS": ("600", 600.0),
}


def test_the_test_covers_every_variable():
    assert set(EVERY_VARIABLE) == {v.env for v in VARIABLES}


def test_every_setting_has_a_variable_and_every_variable_a_setting():
    assert {v.setting for v in VARIABLES} == {f.name for f in dataclasses.fields(Settings)}


def test_from_env_parses_every_variable():
    settings = Settings.from_env({env: raw for env, (raw, _) in EVERY_VARIABLE.items()})
    by_env = {v.env: v.setting for v in VARIABLES}
    for env, (_, expected) in EVERY_VARIABLE.items():
        assert getattr(settings, by_env[env]) == expected, env
    assert settings.uses_redis
    assert not settings.embedded


def test_documented_defaults_are_the_dataclass_defaults(tmp_path):
    # Settings() and from_env({}) must agree, or the docs generated from VARIABLES would lie.
    assert Settings.from_env({"KAPTA_DATA_DIR": str(tmp_path)}) == Settings(data_dir=str(tmp_path))


def test_defaults_are_embedded_files_in_the_data_dir(tmp_path):
    settings = Settings.from_env({"KAPTA_DATA_DIR": str(tmp_path / "data")})
    data_dir = str(tmp_path / "data")
    assert settings.data_dir == data_dir
    assert settings.database_url == f"sqlite:///{data_dir}/kapta-vendus.sqlite3"
    assert settings.broker_url == f"sqla+sqlite:///{data_dir}/kapta-broker.sqlite3"
    assert settings.embedded
    assert not settings.uses_redis
    assert settings.secret_keys == ()
    assert (settings.log_level, settings.language, settings.task_max_retries) == ("INFO", "pt", 8)
    assert not (tmp_path / "data").exists(), "reading settings must not create anything"


def test_relative_data_dir_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({"KAPTA_DATA_DIR": "state"}).data_dir == os.path.join(str(tmp_path), "state")


def test_empty_values_mean_the_default(tmp_path):
    environ = {v.env: "" for v in VARIABLES} | {"KAPTA_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(environ) == Settings(data_dir=str(tmp_path))


def test_bare_postgresql_url_uses_the_shipped_driver():
    settings = Settings.from_env({"KAPTA_DATABASE_URL": "postgresql://kv@db/kv"})
    assert settings.database_url == "postgresql+psycopg://kv@db/kv"


@pytest.mark.parametrize(
    ("env", "raw"),
    [
        ("KAPTA_DATABASE_URL", "mysql://root@db/kv"),
        ("KAPTA_DATABASE_URL", "not a url"),
        ("KAPTA_BROKER_URL", "amqp://guest@rabbit//"),
        ("KAPTA_BROKER_URL", "localhost:6379"),
        ("KAPTA_VENDUS_BASE_URL", "ftp://www.vendus.pt/ws"),
        ("KAPTA_VENDUS_BASE_URL", "https://"),
        ("KAPTA_RECEIVER_MAX_BODY", "256k"),
        ("KAPTA_RECEIVER_MAX_BODY", "-1"),
        ("KAPTA_WEBHOOK_TOLERANCE", "0"),
        ("KAPTA_TASK_MAX_RETRIES", "2.5"),
        ("KAPTA_SWEEP_INTERVAL", "-60"),
        ("KAPTA_VENDUS_TIMEOUT", "-3"),
        ("KAPTA_VENDUS_CONNECT_TIMEOUT", "soon"),
        ("KAPTA_VENDUS_TIMEOUT", "nan"),
        ("KAPTA_LOG_LEVEL", "VERBOSE"),
        ("KAPTA_LANGUAGE", "fr"),
        ("KAPTA_SECRET_KEYS", "not-a-fernet-key"),
    ],
)
def test_invalid_value_names_the_variable(env, raw):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({env: raw})
    assert str(info.value).startswith(f"{env}=")
    assert "invalid" in str(info.value)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(
    "raw",
    [
        "this-is-my-secret-but-not-a-key",
        f"{KEY_A},this-is-my-secret-but-not-a-key",
        # Right alphabet, wrong length: still a secret the operator typed, never to be printed.
        "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0",
    ],
)
def test_a_bad_secret_key_is_never_echoed(raw):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"KAPTA_SECRET_KEYS": raw})
    message = str(info.value)
    assert "KAPTA_SECRET_KEYS" in message
    for part in raw.split(","):
        assert part not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_the_position_of_a_bad_key_is_reported():
    with pytest.raises(ConfigError, match="key #2"):
        Settings.from_env({"KAPTA_SECRET_KEYS": f"{KEY_A},nope"})


@pytest.mark.parametrize("env", ["KAPTA_DATABASE_URL", "KAPTA_BROKER_URL"])
def test_a_password_in_a_bad_url_is_not_echoed(env):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({env: "mysql://admin:hunter2-password@db/kv"})
    assert env in str(info.value)
    assert "hunter2-password" not in str(info.value)
    assert "db/kv" in str(info.value), "the rest of the value helps the operator find the typo"


@pytest.mark.parametrize(("visibility", "limit"), [("300", "300"), ("100", "300")])
def test_visibility_timeout_must_exceed_the_task_time_limit(visibility, limit):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"KAPTA_VISIBILITY_TIMEOUT": visibility, "KAPTA_TASK_TIME_LIMIT": limit})
    assert "KAPTA_VISIBILITY_TIMEOUT" in str(info.value)
    assert "KAPTA_TASK_TIME_LIMIT" in str(info.value)


def test_explicit_settings_are_checked_too():
    with pytest.raises(ConfigError, match="KAPTA_VISIBILITY_TIMEOUT"):
        Settings(task_time_limit=600, visibility_timeout=600)


def test_settings_are_frozen(settings):
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.log_level = "DEBUG"  # type: ignore[misc]
    changed = settings.replace(log_level="DEBUG")
    assert changed.log_level == "DEBUG"
    assert settings.log_level == "INFO"


def test_secret_keys_are_not_in_the_repr():
    assert KEY_A not in repr(Settings(secret_keys=(KEY_A,)))


def test_get_settings_reads_once_and_can_be_replaced(monkeypatch, tmp_path):
    monkeypatch.setenv("KAPTA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KAPTA_LOG_LEVEL", "WARNING")
    set_settings(None)
    first = get_settings()
    monkeypatch.setenv("KAPTA_LOG_LEVEL", "ERROR")
    assert get_settings() is first
    assert first.log_level == "WARNING"
    explicit = Settings(data_dir=str(tmp_path), log_level="DEBUG")
    set_settings(explicit)
    assert get_settings() is explicit


def test_unknown_variables_are_reported(caplog, tmp_path):
    with caplog.at_level("WARNING", logger="kapta_vendus.config"):
        Settings.from_env({"KAPTA_DATA_DIR": str(tmp_path), "KAPTA_DATABSE_URL": "sqlite://"})
    assert "KAPTA_DATABSE_URL" in caplog.text


def test_the_api_key_variable_of_integrations_create_is_not_reported_as_ignored(caplog):
    # KAPTA_NEW_VENDUS_API_KEY is the documented way to pass the key to `integrations create`.
    with caplog.at_level(logging.WARNING, logger="kapta_vendus.config"):
        Settings.from_env({"KAPTA_NEW_VENDUS_API_KEY": "k"})
        assert "ignored" not in caplog.text
        Settings.from_env({"KAPTA_TYPO_LEVEL": "x"})
    assert "unknown configuration variables ignored: ['KAPTA_TYPO_LEVEL']" in caplog.text
