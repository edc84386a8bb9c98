"""Seeding accounts from a YAML/JSON fixture (and the shipped default fixture).

Fixture shape (every id is optional and auto-assigned; see default_fixture.yaml)::

    accounts:
      - api_key: demo-key
        company: ..., fiscal_id: "501964843", region: mainland   # the account's rates (taxes/)
        stores:
          - title: Loja, postalcode: "1100-053"     # 9000-9399 Madeira, 9500-9999 Azores
            registers: [{title: Caixa 1, mode: normal, series: "01", type: api}]
        payment_methods: [{title: Dinheiro, type: NU, change: 1}, ...]
        products: [{reference: CAFE, title: Café, gross_price: "0.80", tax_id: RED, unit_id: 1}]
        clients: [{fiscal_id: "123456789", name: Cliente}]

Sections left out of an account are taken from the default fixture's first account, so
``{"api_key": "k"}`` alone is a complete, ready-to-use account.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import yaml

from .accounts import Account
from .catalog import check_fiscal_id, client_record, payment_method_record, product_record
from .taxes import REGIONS

DEFAULT_FIXTURE = Path(__file__).with_name("default_fixture.yaml")
REGISTER_MODES = ("normal", "tests")
_REGION_POSTAL_CODES = {"mainland": "1100-053", "madeira": "9000-018", "azores": "9500-150"}


def read_fixture(source: str | Path | dict) -> dict:
    if isinstance(source, dict):
        return source
    text = Path(source).read_text(encoding="utf-8")
    data = json.loads(text) if str(source).endswith(".json") else yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
        raise ValueError("a fixture needs a top-level 'accounts' list")
    return data


@cache
def _default_template() -> dict:
    return read_fixture(DEFAULT_FIXTURE)["accounts"][0]


def default_account_spec(api_key: str) -> dict:
    spec = copy.deepcopy(_default_template())
    spec["api_key"] = api_key
    return spec


def build_account(ctx, spec: dict, today: str) -> Account:
    """Create an Account from a fixture entry; ``ctx`` hands out ids (SimulatorState.claim_id)."""
    template = _default_template()
    key = spec.get("api_key")
    if not isinstance(key, str) or not key:
        raise ValueError("every fixture account needs an api_key")
    region = spec.get("region", "mainland")
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}; use one of {sorted(REGIONS)}")
    info = {
        "id": ctx.claim_id("account", spec.get("id")),
        "company": spec.get("company", template.get("company")),
        "fiscal_id": str(spec.get("fiscal_id", template.get("fiscal_id"))),
        "region": region,
        "timezone": spec.get("timezone"),
        "user_id": ctx.claim_id("user", spec.get("user_id")),
        **{f: spec.get(f, "") for f in ("address", "postal_code", "city", "email", "phone", "url")},
        "country": REGIONS[region]["country"][:2],
    }
    account = Account(key, info)
    for store_spec in spec.get("stores") or template["stores"]:
        # Vendus stores have no region (vendus-api §3.4): a store's region is known from its postal
        # code. A fixture's legacy ``region`` only picks a postal code of that region when none is given.
        postalcode = store_spec.get("postalcode") or _REGION_POSTAL_CODES.get(store_spec.get("region", ""), "")
        if store_spec.get("region", "mainland") not in REGIONS:
            raise ValueError(f"unknown store region {store_spec['region']!r}")
        store = {
            "id": ctx.claim_id("store", store_spec.get("id")),
            "type": store_spec.get("type", "store"),
            "title": store_spec.get("title", "Loja"),
            "tax_id": "NOR",
            "tax_exemption": "",
            "tax_exemption_law": "",
            **{f: store_spec.get(f, "") for f in ("address", "city", "email", "phone", "cae")},
            "postalcode": str(postalcode),
            "country": "PT",
            "status": store_spec.get("status", "on"),
            "share_stock_store_id": None,
        }
        account.add_store(store)
        for index, reg in enumerate(store_spec.get("registers") or [{}]):
            if reg.get("mode", "normal") not in REGISTER_MODES:
                raise ValueError(f"register mode must be one of {REGISTER_MODES}")
            register_id = ctx.claim_id("register", reg.get("id"))
            account.add_register(
                {
                    "id": register_id,
                    "store_id": store["id"],
                    "title": reg.get("title", f"Caixa {index + 1}"),
                    "document_type_id": reg.get("document_type_id", "FT"),
                    "expires": reg.get("expires", ""),
                    "status": reg.get("status", "on"),
                    "situation": "open",
                    "mode": reg.get("mode", "normal"),
                    "type": reg.get("type", "api"),
                    "default_pay_due": reg.get("default_pay_due", "now"),
                    "series": str(reg.get("series", f"{len(account.registers) + 1:02d}")),
                }
            )
    for method in spec.get("payment_methods") or template["payment_methods"]:
        account.add_payment_method(
            payment_method_record(
                ctx.claim_id("payment_method", method.get("id")),
                {k: v for k, v in method.items() if k != "id"},
            )
        )
    for product in spec.get("products", template["products"]):
        account.add_product(product_record(ctx.claim_id("product", product.get("id")), product))
    for client in spec.get("clients", template.get("clients", [])):
        data = dict(client)
        if data.get("fiscal_id"):
            data["fiscal_id"] = check_fiscal_id(
                data["fiscal_id"], str(data.get("country") or "PT").upper(), "fiscal_id"
            )
        account.add_client(client_record(ctx.claim_id("client", data.pop("id", None)), data, today))
    return account
