"""Propose a mapping from what the Vendus account itself says, so a new store works at once.

Payment-method ids and register ids belong to each Vendus account, so they are looked up, never
guessed. The POS's usual method names are matched to Vendus method types; the register is the
first active one of each store whose mode matches the integration's. The proposal is an ordinary
mapping dict: operators review it (``integrations show``) and override any of it.
"""

from __future__ import annotations

from typing import Any

from kapta_vendus.pipeline.civa import region_of_postal_code
from kapta_vendus.vendus import VendusClient

# POS method name → Vendus payment-method types that fit it, best first.
METHOD_TYPES: dict[str, tuple[str, ...]] = {
    "cash": ("NU",),
    "card": ("CD", "CC", "TPASIBS", "MYPOS"),
    "debit_card": ("CD",),
    "credit_card": ("CC",),
    "mbway": ("MBWAY",),
    "multibanco": ("MB",),
    "transfer": ("TR",),
    "cheque": ("CH",),
    "credit": ("DNP",),
}
# Vendus has no per-store region: the tax region is proposed from the store's postal code
# (9000-9399 Madeira, 9500-9999 Azores; vendus-api §3.4) and can be overridden in the mapping.


class UnknownStore(ValueError):
    """A store id that the Vendus account does not have."""


def discover_mapping(client: VendusClient, stores: list[int], mode: str) -> dict[str, Any]:
    known = {int(s["id"]): s for s in client.list_stores()}
    missing = [s for s in stores if s not in known]
    if missing:
        offered = ", ".join(f"{i} ({s.get('title', '')})" for i, s in known.items()) or "none"
        raise UnknownStore(f"store(s) {', '.join(map(str, missing))} not in this Vendus account; it has: {offered}")
    methods = [m for m in client.list_payment_methods() if str(m.get("status", "on")) != "off"]
    payment_methods: dict[str, int] = {}
    for name, types in METHOD_TYPES.items():
        for wanted in types:
            match = next((m for m in methods if m.get("type") == wanted), None)
            if match is not None:
                payment_methods[name] = int(match["id"])
                break
    store_map: dict[int, dict[str, Any]] = {}
    for store_id in stores:
        registers = [r for r in client.list_registers(store_id=store_id)
                     if str(r.get("status", "on")) != "off" and int(r.get("store_id", store_id)) == store_id]
        chosen = next((r for r in registers if r.get("mode") == mode), None)
        entry: dict[str, Any] = {"region": _region(known[store_id])}
        if chosen is not None:
            entry["register_id"] = int(chosen["id"])
        store_map[store_id] = entry
    return {"mode": mode, "payment_methods": payment_methods, "stores": store_map}


def _region(store: dict[str, Any]) -> str:
    return region_of_postal_code(store.get("postalcode")) or "mainland"
