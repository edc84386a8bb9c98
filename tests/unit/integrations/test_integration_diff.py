"""Readable, secret-free differences between stored and declared configuration."""

from __future__ import annotations

from kapta_vendus.integrations.diff import Change, diff, flatten, mask_url, masked


def test_flatten_names_every_leaf():
    assert flatten({"a": {"b": 1, "c": [1, {"d": 2}]}, "e": {}}) == {"a.b": 1, "a.c[0]": 1, "a.c[1].d": 2, "e": {}}


def test_diff_reports_added_changed_and_removed_leaves():
    old = {"payment_methods": {"cash": 1, "card": 2}, "fs_limit": "1000"}
    new = {"payment_methods": {"cash": 1, "card": 3, "mbway": 4}}

    changes = diff(old, new, "mapping")

    assert changes == [Change("mapping.payment_methods.card", "changed", 2, 3),
                       Change("mapping.payment_methods.mbway", "added", new=4),
                       Change("mapping.fs_limit", "removed", old="1000")]
    assert [c.describe() for c in changes] == ["~ mapping.payment_methods.card: 2 → 3",
                                               "+ mapping.payment_methods.mbway: 4",
                                               '- mapping.fs_limit: "1000"']


def test_a_missing_section_is_nothing_rather_than_a_value():
    assert diff(None, {}, "rules") == []
    assert diff(None, [{"name": "r"}], "rules") == [Change("rules[0].name", "added", new="r")]


def test_urls_that_may_carry_credentials_are_masked_but_changes_still_show():
    old = {"channels": [{"url": "slack://T1/B1/SECRET1", "on": ["dead"]}]}
    new = {"channels": [{"url": "slack://T1/B1/SECRET2", "on": ["dead"]}]}

    (change,) = diff(old, new, "notifications")

    assert change.path == "notifications.channels[0].url"
    assert "SECRET" not in change.describe() and change.old != change.new
    assert change.old.startswith("<slack://…#")
    assert masked({"notifications": old})["notifications"]["channels"][0]["url"] == mask_url("slack://T1/B1/SECRET1")
