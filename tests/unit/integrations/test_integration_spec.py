"""The declared-integrations file: what it accepts, and how it names every problem."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kapta_vendus.events.errors import Rejection
from kapta_vendus.integrations.crypto import encrypt
from kapta_vendus.integrations.spec import parse_duration, parse_specs

WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ENV = {"KEY_A": "the-key-of-a", "WHSEC_A": WHSEC, "CHAT": "slack://T1/B2/C3"}


def item(**overrides):
    base = {"name": "lisboa", "vendus": {"api_key_env": "KEY_A"}, "stores": [24994],
            "mapping": {"payment_methods": {"cash": 1}}}
    return {**base, **overrides}


def problems(document, settings, env=ENV) -> list[str]:
    with pytest.raises(Rejection) as refused:
        parse_specs(document, settings, env)
    return refused.value.reasons


def test_a_minimal_integration_gets_defaults(settings):
    (spec,) = parse_specs({"integrations": [item()]}, settings, ENV)

    assert (spec.name, spec.status, spec.mode, spec.stores) == ("lisboa", "active", "normal", (24994,))
    assert spec.base_url == settings.vendus_base_url and spec.api_key == "the-key-of-a"
    assert spec.api_key_source == "env:KEY_A"
    assert spec.webhook.generate and spec.webhook.overlap == timedelta(hours=24)
    assert spec.config == {"mapping": {"payment_methods": {"cash": 1}}}
    assert "the-key-of-a" not in repr(spec)


def test_a_single_integration_without_the_list_is_accepted(settings):
    assert [s.name for s in parse_specs(item(), settings, ENV)] == ["lisboa"]


def test_config_is_normalised_as_json_so_reapplying_compares_equal(settings):
    (spec,) = parse_specs(item(mapping={"stores": {24994: {"register_id": 3}}}), settings, ENV)
    assert spec.config["mapping"]["stores"] == {"24994": {"register_id": 3}}


def test_declared_secrets_and_encrypted_keys_are_resolved(settings):
    vendus = {"api_key_encrypted": encrypt(settings, "the-key-of-a"), "mode": "tests"}
    webhook = {"secrets": [{"env": "WHSEC_A"}, {"encrypted": encrypt(settings, WHSEC)}], "rotation_overlap": "90m"}

    (spec,) = parse_specs(item(vendus=vendus, webhook=webhook), settings, ENV)

    assert spec.api_key == "the-key-of-a" and spec.api_key_source == "encrypted" and spec.mode == "tests"
    assert spec.webhook.secrets == (WHSEC, WHSEC) and spec.webhook.sources == ("env:WHSEC_A", "encrypted")
    assert spec.webhook.overlap == timedelta(minutes=90)


def test_channel_urls_can_come_from_the_environment(settings):
    notifications = {"channels": [{"url_env": "CHAT", "on": ["dead"]}]}
    (spec,) = parse_specs(item(notifications=notifications), settings, ENV)
    assert spec.config["notifications"]["channels"] == [{"url": "slack://T1/B2/C3", "on": ["dead"]}]


def test_every_problem_is_reported_with_its_field(settings):
    document = {"integrations": [
        item(vendus={"api_key": "plain", "mode": "later"}, stores=[], colour="blue"),
        item(name="lisboa"),
        item(name="porto", vendus={"api_key_env": "NOPE"}, webhook={"secrets": [{"value": WHSEC}]},
             limits={"vendus_burst": 2.5}, events={"registers": ["x"]}),
    ]}

    found = problems(document, settings)

    assert "integrations[0] (lisboa).vendus.api_key: plaintext API keys are refused in configuration files; use " \
           "api_key_env (an environment variable) or api_key_encrypted (from `kapta-vendus keys encrypt`)" in found
    assert "integrations[0] (lisboa).vendus.mode: Must be one of: normal, tests." in found
    assert "integrations[0] (lisboa).stores: must list at least one Vendus store id" in found
    assert "integrations[0] (lisboa).colour: unknown field" in found
    assert "integrations[1] (lisboa).name: declared twice in this file" in found
    assert "integrations[2] (porto).vendus.api_key_env: environment variable NOPE is not set or empty" in found
    assert "integrations[2] (porto).webhook.secrets[0].value: plaintext secrets are refused; use env or encrypted" \
        in found
    assert "integrations[2] (porto).limits.vendus_burst: must be a whole number (got 2.5)" in found
    assert "integrations[2] (porto).events.registers: 'x' is not a positive integer id" in found
    assert not any("plain" in p.split(":", 1)[1] and "plaintext" not in p for p in found)


def test_mapping_mode_may_not_contradict_the_integration(settings):
    found = problems(item(mapping={"mode": "tests"}), settings)
    assert found == ["integrations[0] (lisboa).mapping.mode: 'tests' contradicts the integration's mode 'normal'"]


def test_a_key_of_another_deployment_is_refused(settings):
    from cryptography.fernet import Fernet

    foreign = Fernet(Fernet.generate_key()).encrypt(b"k").decode()
    found = problems(item(vendus={"api_key_encrypted": foreign}), settings)
    assert found == ["integrations[0] (lisboa).vendus.api_key_encrypted: cannot be decrypted with the configured "
                     "KAPTA_SECRET_KEYS"]


@pytest.mark.parametrize("document", [None, [], "text", {"integrations": []}, {"integrations": [], "x": 1}])
def test_the_shape_of_the_file_is_checked(settings, document):
    assert problems(document, settings)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800),
                                               ("0", 0), (45, 45)])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["soon", "1w", "-1h", "", True, "1.5h"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
