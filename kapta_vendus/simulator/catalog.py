"""Clients, products and payment methods: creation rules and list filters.

A client's PT ``fiscal_id`` must pass the mod-11 check and may not be the generic consumer NIF
999999990 (omit the client instead); a second client with the same NIF is refused. Products need
``title`` and ``unit_id``.
"""

from __future__ import annotations

from .accounts import Account
from .errors import invalid
from .money import money, parse_decimal
from .taxes import GENERIC_CONSUMER_NIF, TAX_IDS, nif_is_valid, normalize_nif

CLIENT_DATA_FIELDS = frozenset(
    {
        "fiscal_id",
        "name",
        "address",
        "postalcode",
        "city",
        "phone",
        "mobile",
        "email",
        "website",
        "notes",
        "country",
        "external_reference",
        "send_email",
        "billing_email",
        "irs_retention",
    }
)
CLIENT_FIELDS = CLIENT_DATA_FIELDS | {"default_pay_due", "price_group_id", "status"}
DOCUMENT_CLIENT_FIELDS = CLIENT_DATA_FIELDS | {"id"}
PRODUCT_FIELDS = frozenset(
    {
        "reference",
        "barcode",
        "supplier_code",
        "title",
        "description",
        "include_description",
        "supply_price",
        "gross_price",
        "unit_id",
        "type_id",
        "stock_control",
        "stock_type",
        "tax_id",
        "tax_exemption",
        "tax_exemption_law",
        "category_id",
        "brand_id",
        "status",
        "prices",
        "class_name",
        "lot_control",
    }
)
PAYMENT_METHOD_FIELDS = frozenset({"title", "type", "change", "status", "order", "stores"})
COUNTRY_NAMES = {
    "PT": "Portugal",
    "ES": "Espanha",
    "FR": "França",
    "DE": "Alemanha",
    "GB": "Reino Unido",
    "IT": "Itália",
    "NL": "Países Baixos",
    "BR": "Brasil",
    "US": "Estados Unidos",
}


def check_fiscal_id(value: object, country: str, field: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise invalid(field)
    if country != "PT":  # foreign ids are not checked with the PT algorithm
        return str(value).strip()
    nif = normalize_nif(str(value))
    if nif == GENERIC_CONSUMER_NIF:
        raise invalid(field, "Não envie o NIF 999999990: omita o cliente num consumidor final.")
    if not nif_is_valid(nif):
        raise invalid(field, "NIF inválido.")
    return nif


def client_record(client_id: int, data: dict, today: str) -> dict:
    country = str(data.get("country") or "PT").upper()
    return {
        "id": client_id,
        "fiscal_id": data.get("fiscal_id", ""),
        "external_reference": str(data.get("external_reference") or ""),
        "default_pay_due": data.get("default_pay_due", "now"),
        "name": str(data.get("name") or ""),
        "address": data.get("address", ""),
        "city": data.get("city", ""),
        "postalcode": data.get("postalcode", ""),
        "phone": data.get("phone", ""),
        "mobile": data.get("mobile", ""),
        "email": data.get("email", ""),
        "website": data.get("website", ""),
        "country": country,
        "price_group": {"id": 1, "title": "PVP", "is_default": "yes"},
        "send_email": data.get("send_email", "no"),
        "irs_retention": data.get("irs_retention", "no"),
        "status": data.get("status", "active"),
        "notes": data.get("notes", ""),
        "date": today,
        "balance": {"total": "0.00", "on_time": "0.00", "overdue": "0.00"},
    }


def validate_client(account: Account, body: object, allowed: frozenset, field: str = "client") -> dict:
    """Check a client payload (POST clients/ or a document's ``client``); returns normalised data."""
    if not isinstance(body, dict):
        raise invalid(field)
    for name in body:
        if name not in allowed:
            raise invalid(f"{field}.{name}" if field != "body" else name)
    data = dict(body)
    country = str(data.get("country") or "PT").upper()
    if "fiscal_id" in data and data["fiscal_id"] not in (None, ""):
        prefix = "" if field == "body" else f"{field}."
        data["fiscal_id"] = check_fiscal_id(data["fiscal_id"], country, f"{prefix}fiscal_id")
    else:
        data.pop("fiscal_id", None)
    if data.get("status", "active") not in ("active", "inactive"):
        raise invalid("status")
    return data


def resolve_document_client(account: Account, raw: object) -> tuple[dict | None, dict | None]:
    """A document's ``client``: by id, by fiscal_id, or new data. Returns (existing, data to create)."""
    if raw is None or raw == {}:
        return None, None
    data = validate_client(account, raw, DOCUMENT_CLIENT_FIELDS)
    if data.get("id") not in (None, ""):
        client = account.clients.get(data["id"]) if isinstance(data["id"], int) else None
        if client is None:
            raise invalid("client.id", "Cliente não encontrado.")
        return client, None
    if data.get("fiscal_id"):
        existing_id = account.client_by_nif.get(data["fiscal_id"])
        if existing_id is not None:
            return account.clients[existing_id], None
    return None, data


def snapshot(client: dict | None) -> dict | None:
    """The client as a document keeps it (a copy: later client edits do not rewrite issued documents)."""
    if client is None:
        return None
    country = client.get("country") or "PT"
    return {
        "id": client["id"],
        "name": client.get("name", ""),
        "fiscal_id": client.get("fiscal_id", ""),
        "address": client.get("address", ""),
        "postalcode": client.get("postalcode", ""),
        "city": client.get("city", ""),
        "country": country,
        "country_name": COUNTRY_NAMES.get(country, country),
        "email": client.get("email", ""),
        "external_reference": client.get("external_reference", ""),
    }


def client_filter(params) -> callable:
    fiscal_id, name = params.get("fiscal_id"), (params.get("name") or "").lower()
    email, ext, status = params.get("email"), params.get("external_reference"), params.get("status")
    q, date = (params.get("q") or "").lower(), params.get("date")

    def match(client: dict) -> bool:
        if fiscal_id and normalize_nif(fiscal_id) != client["fiscal_id"] and fiscal_id != client["fiscal_id"]:
            return False
        if name and name not in client["name"].lower():
            return False
        if (email and email.lower() != client["email"].lower()) or (ext and ext != client["external_reference"]):
            return False
        if (status and status != client["status"]) or (date and not client["date"].startswith(date)):
            return False
        haystack = f"{client['name']} {client['fiscal_id']} {client['email']} {client['external_reference']}"
        return not q or q in haystack.lower()

    return match


def validate_product(account: Account, body: object) -> dict:
    if not isinstance(body, dict):
        raise invalid("body")
    for name in body:
        if name not in PRODUCT_FIELDS:
            raise invalid(name)
    if not isinstance(body.get("title"), str) or not body["title"].strip():
        raise invalid("title")
    if body.get("unit_id") not in account.units:
        raise invalid("unit_id")
    reference = str(body.get("reference") or "")
    if reference and reference in account.product_by_ref:
        raise invalid("reference", "Já existe um produto com esta referência.")
    tax_id = str(body.get("tax_id") or "NOR").upper()
    if tax_id not in TAX_IDS:
        raise invalid("tax_id")
    price = parse_decimal(body.get("gross_price", "0"), "gross_price")
    return {**body, "reference": reference, "tax_id": tax_id, "gross_price": money(price)}


def validate_product_patch(account: Account, product: dict, body: object) -> dict:
    """PATCH products/{id}: the create fields, each optional; a reference may not collide with another's."""
    if not isinstance(body, dict):
        raise invalid("body")
    for name in body:
        if name not in PRODUCT_FIELDS:
            raise invalid(name)
    if "title" in body and (not isinstance(body["title"], str) or not body["title"].strip()):
        raise invalid("title")
    if "unit_id" in body and body["unit_id"] not in account.units:
        raise invalid("unit_id")
    reference = str(body.get("reference", product["reference"]) or "")
    other = account.product_by_ref.get(reference)
    if reference and other is not None and other != product["id"]:
        raise invalid("reference", "Já existe um produto com esta referência.")
    data = dict(body)
    if "tax_id" in data:
        data["tax_id"] = str(data["tax_id"] or "").upper()
        if data["tax_id"] not in TAX_IDS:
            raise invalid("tax_id")
    if "gross_price" in data:
        data["gross_price"] = money(parse_decimal(data["gross_price"], "gross_price"))
    if data.get("type_id", "P") not in ("P", "S", "O", "I", "E"):
        raise invalid("type_id")
    if data.get("status", "on") not in ("on", "off"):
        raise invalid("status")
    return data


def product_record(product_id: int, data: dict) -> dict:
    return {
        "id": product_id,
        "reference": data.get("reference", ""),
        "barcode": data.get("barcode", ""),
        "title": data["title"],
        "description": data.get("description", ""),
        "gross_price": money(parse_decimal(data.get("gross_price", "0"), "gross_price")),
        "supply_price": data.get("supply_price", "0.00"),
        "unit_id": data.get("unit_id", 1),
        "type_id": data.get("type_id", "P"),
        "tax_id": data.get("tax_id", "NOR"),
        "tax_exemption": data.get("tax_exemption") or "",
        "tax_exemption_law": data.get("tax_exemption_law") or "",
        "category_id": data.get("category_id"),
        "brand_id": data.get("brand_id"),
        "stock_control": data.get("stock_control", 0),
        "status": data.get("status", "on"),
        # A product's unit is kept: the contract's product.upserted may set it (§6 Product).
    }


def product_filter(params, default_status: str) -> callable:
    reference, title = params.get("reference"), (params.get("title") or "").lower()
    status, q = params.get("status") or default_status, (params.get("q") or "").lower()
    barcode, ids = params.get("barcode"), {s for s in (params.get("ids") or "").split(",") if s}

    def match(product: dict) -> bool:
        if (reference and reference != product["reference"]) or (title and title not in product["title"].lower()):
            return False
        if (status != "all" and status != product["status"]) or (barcode and barcode != product["barcode"]):
            return False
        if ids and str(product["id"]) not in ids:
            return False
        return not q or q in f"{product['title']} {product['reference']}".lower()

    return match


def payment_method_record(method_id: int, data: dict) -> dict:
    if not isinstance(data.get("title"), str) or not data["title"].strip():
        raise invalid("title")
    if not isinstance(data.get("type"), str) or not data["type"].strip():
        raise invalid("type")
    for name in data:
        if name not in PAYMENT_METHOD_FIELDS:
            raise invalid(name)
    return {
        "id": method_id,
        "title": data["title"],
        "change": int(data.get("change", 0)),
        "type": data["type"],
        "status": data.get("status", "on"),
        "order": data.get("order", method_id),
        "stores": data.get("stores", []),
    }
