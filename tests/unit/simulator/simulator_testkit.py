"""Helpers for the simulator tests: constants and an authenticated wrapper over Flask's test client."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from kapta_vendus.simulator import SimulatorState

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
TODAY = "2026-03-10"
KEY_A, KEY_B = "key-a", "key-b"
CAFE = {"reference": "CAFE", "qty": 1}


class Api:
    """A thin wrapper over Flask's test client that authenticates like a Vendus client."""

    def __init__(self, client, state: SimulatorState, key: str = KEY_A, version: str = "v1.1"):
        self.client, self.state, self.key, self.version = client, state, key, version

    def as_key(self, key: str) -> Api:
        return Api(self.client, self.state, key, self.version)

    @property
    def headers(self) -> dict:
        token = base64.b64encode(f"{self.key}:".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def url(self, path: str) -> str:
        prefix = f"/ws/{self.version}" if self.version else "/ws"
        return f"{prefix}/{path}"

    def get(self, path: str, **params):
        return self.client.get(self.url(path), headers=self.headers, query_string=params)

    def post(self, path: str, body: object = None, **params):
        return self.client.post(self.url(path), headers=self.headers, json=body, query_string=params)

    def patch(self, path: str, body: object = None, **params):
        return self.client.patch(self.url(path), headers=self.headers, json=body, query_string=params)

    # -- conveniences ---------------------------------------------------------------------------
    @property
    def account(self):
        return self.state.accounts[self.key]

    @property
    def methods(self) -> dict[str, int]:
        return {m["title"]: m["id"] for m in self.account.payment_methods.values()}

    @property
    def cash(self) -> int:
        return self.methods["Dinheiro"]

    @property
    def card(self) -> int:
        return self.methods["Cartão de Débito"]

    def register(self, mode: str = "normal") -> int:
        return next(r["id"] for r in self.account.registers.values() if r["mode"] == mode)

    def credit_items(self, body: dict) -> dict:
        """Name each NC item's product as a client does: the original line's reference (vendus-api
        §3.4, §7.4). Items that already name one, or whose row does not exist, are left alone."""
        if body.get("type") != "NC" or not isinstance(body.get("items"), list):
            return body
        items = []
        for item in body["items"]:
            ref = item.get("reference_document") if isinstance(item, dict) else None
            if isinstance(ref, dict) and "id" not in item and "reference" not in item:
                mode = "tests" if "T" in str(ref.get("document_number", "")).split(" ")[-1][:1] else "normal"
                original = self.account.find_number(str(ref.get("document_number")), mode)
                row = ref.get("document_row")
                if original and isinstance(row, int) and 1 <= row <= len(original["items"]):
                    item = {**item, "reference": original["items"][row - 1]["reference"]}
            items.append(item)
        return {**body, "items": items}

    def create(self, expect: int = 201, **body) -> dict:
        response = self.post("documents/", self.credit_items(body))
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def refused(self, **body) -> str:
        """POST documents/ expecting a refusal; returns the error code."""
        response = self.post("documents/", self.credit_items(body))
        assert response.status_code >= 400, response.get_json()
        return error_code(response)

    def doc(self, doc_id: int, mode: str | None = None) -> dict:
        response = self.get(f"documents/{doc_id}", **({"mode": mode} if mode else {}))
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def invoice(self, *items, **body) -> dict:
        """An FT for the given items (default: 2 cafés and a pastel de nata, 2.90 in total)."""
        lines = list(items) or [{"reference": "CAFE", "qty": 2}, {"reference": "PASTEL", "qty": 1}]
        return self.create(type=body.pop("type", "FT"), items=lines, **body)


def error_code(response) -> str:
    return response.get_json()["errors"][0]["code"]
