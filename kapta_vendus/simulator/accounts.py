"""One Vendus account: its catalogue (stores, registers, payment methods, products, clients) and its
documents, split into a ``normal`` and a ``tests`` space that never see each other.

Records are plain JSON-able dicts so persistence can write them as they are. Indexes (client by
NIF, product by reference, documents by number, numbering per series, tx_ids) are rebuilt from the
records, never persisted.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .docindex import DocumentSpace
from .taxes import REGIONS

MODES = ("normal", "tests")

DEFAULT_UNITS = [
    {"id": 1, "title": "Unidade", "default": "on", "decimal": "no"},
    {"id": 2, "title": "Kg", "default": "off", "decimal": "yes"},
    {"id": 3, "title": "Litro", "default": "off", "decimal": "yes"},
    {"id": 4, "title": "Hora", "default": "off", "decimal": "yes"},
    {"id": 5, "title": "Serviço", "default": "off", "decimal": "no"},
]


class Account:
    def __init__(self, key: str, info: dict):
        if info.get("region", "mainland") not in REGIONS:
            raise ValueError(f"unknown region {info.get('region')!r}")
        self.key = key
        self.info = info
        self.stores: dict[int, dict] = {}
        self.registers: dict[int, dict] = {}
        self.payment_methods: dict[int, dict] = {}
        self.products: dict[int, dict] = {}
        self.clients: dict[int, dict] = {}
        self.units = {unit["id"]: dict(unit) for unit in DEFAULT_UNITS}
        self.product_by_ref: dict[str, int] = {}
        self.client_by_nif: dict[str, int] = {}
        self.docs: dict[int, dict] = {}
        self.spaces = {mode: DocumentSpace() for mode in MODES}
        # (mode, type, series) -> {"n": last number, "date": latest date, "hash": last signature}
        self.series: dict[tuple[str, str, str], dict] = {}
        # (mode, tx_id) -> (document id, time): a tests-mode and a normal-mode tx_id never meet
        self.tx_ids: dict[tuple[str, str], tuple[int, float]] = {}
        self.external_refs: dict[str, int] = {}
        self._tz = ZoneInfo(info.get("timezone") or REGIONS[self.region]["tz"])

    @property
    def id(self) -> int:
        return self.info["id"]

    @property
    def region(self) -> str:
        return self.info.get("region", "mainland")

    def local(self, now: datetime) -> datetime:
        return now.astimezone(self._tz)

    def today(self, now: datetime) -> str:
        return self.local(now).strftime("%Y-%m-%d")

    # -- catalogue -------------------------------------------------------------------------------
    def add_store(self, store: dict) -> dict:
        self.stores[store["id"]] = store
        return store

    def add_register(self, register: dict) -> dict:
        self.registers[register["id"]] = register
        return register

    def add_payment_method(self, method: dict) -> dict:
        self.payment_methods[method["id"]] = method
        return method

    def add_product(self, product: dict) -> dict:
        self.products[product["id"]] = product
        if product.get("reference"):
            self.product_by_ref[product["reference"]] = product["id"]
        return product

    def add_client(self, client: dict) -> dict:
        self.clients[client["id"]] = client
        if client.get("fiscal_id"):
            self.client_by_nif[client["fiscal_id"]] = client["id"]
        return client

    # -- documents -------------------------------------------------------------------------------
    def add_document(self, doc: dict) -> None:
        """Index an issued document (fresh or loaded from disk; either way in id order)."""
        self.docs[doc["id"]] = doc
        self.spaces[doc["mode"]].add(doc)
        key = (doc["mode"], doc["type"], doc["series"])
        current = self.series.get(key)
        if current is None or doc["seq"] > current["n"]:
            self.series[key] = {
                "n": doc["seq"],
                "date": max(doc["date"], (current or {}).get("date", "")),
                "hash": doc["hash_full"],
            }
        if doc.get("tx_id"):
            self.tx_ids[(doc["mode"], doc["tx_id"])] = (doc["id"], doc.get("tx_ts", 0.0))
        if doc.get("external_reference"):
            self.external_refs.setdefault(doc["external_reference"], doc["id"])

    def find_number(self, number: str, mode: str) -> dict | None:
        doc_id = self.spaces[mode].by_number.get(number)
        return self.docs[doc_id] if doc_id is not None else None

    def document_in_mode(self, doc_id: int, mode: str) -> dict | None:
        doc = self.docs.get(doc_id)
        return doc if doc is not None and doc["mode"] == mode else None

    def first_register(self) -> dict | None:
        for register in self.registers.values():
            if register.get("status", "on") == "on":
                return register
        return None
