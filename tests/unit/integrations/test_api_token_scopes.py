"""Admin API token scopes: read ⊂ operate ⊂ admin; only admin tokens see every integration."""

from __future__ import annotations

import hashlib

from kapta_vendus.integrations.tokens import Principal, effective_scopes, hash_token


def test_scopes_nest():
    assert effective_scopes(["read"]) == {"read"}
    assert effective_scopes(["operate"]) == {"read", "operate"}
    assert effective_scopes(["admin"]) == {"read", "operate", "admin"}
    assert effective_scopes(["nonsense"]) == set()


def test_a_bound_token_sees_only_its_integration():
    bound = Principal(1, "ops", effective_scopes(["operate"]), "int-a")
    admin = Principal(2, "root", effective_scopes(["admin"]), None)

    assert bound.may_see("int-a") and not bound.may_see("int-b")
    assert admin.may_see("int-a") and admin.may_see("int-b")


def test_tokens_are_stored_as_sha256():
    assert hash_token("kvt_x") == hashlib.sha256(b"kvt_x").hexdigest()
