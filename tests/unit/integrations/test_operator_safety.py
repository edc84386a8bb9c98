"""Configuration that once did the wrong thing silently is now read as written, or refused by name."""

from __future__ import annotations

import pytest

from kapta_vendus.events.errors import Rejection
from kapta_vendus.integrations.channels import UNREADABLE, channel_url, seal, unseal
from kapta_vendus.integrations.diff import masked
from kapta_vendus.integrations.spec import parse_specs
from kapta_vendus.integrations.yamlfile import parse_yaml
from kapta_vendus.pipeline.notify import alert_channels

ENV = {"KEY_A": "the-key-of-a", "CHAT": "slack://T1/B2/C3"}


def _file(notifications: str) -> str:
    return f"""
integrations:
  - name: lisboa
    vendus: {{api_key_env: KEY_A}}
    stores: [24994]
    notifications:
{notifications}
"""


def test_on_is_a_key_not_yaml_1_1_true(settings):
    # The example of the spec's docstring: YAML 1.1 reads `on:` as the boolean key True.
    text = _file("      channels: [{url_env: CHAT, on: [rejected, dead]}]")

    (spec,) = parse_specs(parse_yaml(text), settings, ENV)

    assert spec.config["notifications"]["channels"] == [{"url": "slack://T1/B2/C3", "on": ["rejected", "dead"]}]


def test_only_true_and_false_are_booleans():
    assert parse_yaml("[on, off, yes, no, y, n, true, false, True, FALSE]") == [
        "on", "off", "yes", "no", "y", "n", True, False, True, False]
    assert parse_yaml("{a: 1, b: 1.5, c: null, d: 2024-01-02}")["d"].isoformat() == "2024-01-02"


def _refusals(settings, notifications: str) -> list[str]:
    with pytest.raises(Rejection) as refused:
        parse_specs(parse_yaml(_file(notifications)), settings, ENV)
    return refused.value.reasons


def test_a_notifications_block_with_unknown_keys_is_refused(settings):
    reasons = _refusals(settings, "      urls: ['json://ops.example/hook']")
    assert reasons == ["integrations[0] (lisboa).notifications.urls: unknown key (expected language, channels)"]


def test_channel_keys_and_values_are_checked(settings):
    reasons = _refusals(settings, "      channels: [{url: 'json://x', when: [dead], on: [failed], events: [sale]}]")
    assert "integrations[0] (lisboa).notifications.channels[0].when: unknown key (expected url, url_env or " \
           "url_encrypted, events, on)" in reasons
    assert "integrations[0] (lisboa).notifications.channels[0].on: unknown value 'failed' (expected dead, done, " \
           "rejected)" in reasons
    assert any(r.startswith("integrations[0] (lisboa).notifications.channels[0].events: unknown value 'sale'")
               for r in reasons)


def test_channel_urls_are_encrypted_at_rest_and_read_back(settings):
    declared = {"mapping": {"mode": "normal"}, "notifications": {"language": "en", "channels": [
        {"url": "mailto://ops:s3cret@example.com", "on": ["dead"]}, {"url": "json://h", "events": ["alerts"]}]}}

    stored = seal(settings, declared)

    assert "s3cret" not in str(stored) and "json://h" not in str(stored)
    assert all(set(ch) >= {"url_encrypted"} and "url" not in ch for ch in stored["notifications"]["channels"])
    assert unseal(settings, stored) == declared
    assert declared["notifications"]["channels"][0]["url"] == "mailto://ops:s3cret@example.com"  # not mutated
    assert masked(stored)["notifications"]["channels"][0] == {"url_encrypted": "<encrypted>", "on": ["dead"]}
    assert [channel_url(ch, settings) for ch in stored["notifications"]["channels"]] == [
        "mailto://ops:s3cret@example.com", "json://h"]


def test_an_unreadable_channel_url_fails_the_delivery_not_the_process(settings):
    from cryptography.fernet import Fernet

    foreign = Fernet(Fernet.generate_key()).encrypt(b"json://x").decode()
    assert channel_url({"url_encrypted": foreign}, settings) == UNREADABLE


def test_alerts_go_to_the_decrypted_urls(settings, monkeypatch):
    from kapta_vendus.config import set_settings

    set_settings(settings)
    try:
        channels = [{"url": "json://alerts", "events": ["alerts"]},
                    {"url": "json://sales", "events": ["sale.completed"]}]
        stored = seal(settings, {"notifications": {"channels": channels}})
        assert alert_channels(stored, "drift") == ["json://alerts"]
    finally:
        set_settings(None)


def test_a_channel_url_may_be_given_encrypted(settings):
    from kapta_vendus.integrations.crypto import encrypt

    token = encrypt(settings, "mailto://ops:pw@example.com")
    (spec,) = parse_specs(parse_yaml(_file(f"      channels: [{{url_encrypted: '{token}', on: [dead]}}]")),
                          settings, ENV)
    assert spec.config["notifications"]["channels"] == [{"url": "mailto://ops:pw@example.com", "on": ["dead"]}]
