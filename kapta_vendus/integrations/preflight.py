"""Before an integration is created or applied: does its Vendus key answer, and what mapping fits it?

A wrong API key used to be accepted (exit 0, an empty mapping) and failed only later, on the first
sale. So ``integrations create`` and ``integrations apply`` ask Vendus first: the key must list the
account's stores, and every declared store must be one of them. ``--offline`` skips the check (a
deployment prepared before Vendus is reachable).

A declared integration without a ``mapping`` gets the mapping the account proposes, as ``create``
does (``discover.py``), on every apply: the file then says "what Vendus proposes", and applying it
twice changes nothing while the account stays the same. With ``--offline`` nothing is proposed,
and a mapping left out of the file is removed like any other section.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kapta_vendus.config import Settings
from kapta_vendus.integrations.discover import UnknownStore, discover_mapping
from kapta_vendus.integrations.spec import IntegrationSpec
from kapta_vendus.vendus import VendusAuthError, VendusClient, VendusError


class VendusCheckFailed(ValueError):
    """The key does not answer, or a store is not in its account. The message is one line, no secret."""


OFFLINE_HINT = "; pass --offline to skip the check"


def explain(exc: VendusError, base_url: str, hint: str = OFFLINE_HINT) -> str:
    if isinstance(exc, VendusAuthError):
        return f"Vendus at {base_url} refused the API key (401): check the key{hint}"
    return f"Vendus at {base_url} did not answer as expected ({exc}){hint}"


def check_account(settings: Settings, base_url: str, api_key: str, stores: list[int], mode: str, *,
                  discover: bool) -> dict[str, Any] | None:
    """Check the key and the stores; return the proposed mapping when ``discover``. Raises VendusCheckFailed."""
    timeout = (settings.vendus_connect_timeout, settings.vendus_timeout)
    try:
        with VendusClient(base_url, api_key, timeout=timeout) as client:
            if discover:
                return discover_mapping(client, stores, mode)
            known = {int(s["id"]) for s in client.list_stores()}
    except UnknownStore as exc:
        raise VendusCheckFailed(str(exc)) from None
    except VendusError as exc:
        raise VendusCheckFailed(explain(exc, base_url)) from None
    missing = [s for s in stores if s not in known]
    if missing:
        raise VendusCheckFailed(f"store(s) {', '.join(map(str, missing))} not in this Vendus account "
                                f"(it has {', '.join(map(str, sorted(known))) or 'none'})")
    return None


def prepare_specs(settings: Settings, specs: list[IntegrationSpec], *, offline: bool) -> list[IntegrationSpec]:
    """Each spec checked against Vendus (unless offline) and given a mapping when it declares none.

    Problems are collected for every integration of the file and raised together, each prefixed
    with the integration's name.
    """
    problems: list[str] = []
    ready = []
    for spec in specs:
        config = dict(spec.config or {})
        wants_mapping = "mapping" not in config
        if not offline:
            try:
                proposal = check_account(settings, spec.base_url, spec.api_key, list(spec.stores), spec.mode,
                                         discover=wants_mapping)
            except VendusCheckFailed as exc:
                problems.append(f"{spec.name}: {exc}")
                continue
            if proposal is not None:
                proposal.pop("mode", None)  # the integration's mode applies
                config["mapping"] = _as_json(proposal)
        ready.append(dataclasses.replace(spec, config=config))
    if problems:
        raise VendusCheckFailed("; ".join(problems))
    return ready


def _as_json(mapping: dict[str, Any]) -> dict[str, Any]:
    import json

    # Stored as JSON: integer store keys become strings now, so that re-applying compares equal.
    return json.loads(json.dumps(mapping, default=str))
