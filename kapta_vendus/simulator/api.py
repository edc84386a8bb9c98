"""The emulated Vendus endpoints: a route table of (method, path template, handler).

Handlers receive a ``Call`` (state, account, query params, parsed body, path id, extension) and
return a ``Reply``. Routing, auth, rate limits and faults happen before them, in app.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .catalog import (
    CLIENT_FIELDS,
    client_filter,
    payment_method_record,
    product_filter,
    validate_client,
    validate_product,
    validate_product_patch,
)
from .documents import TYPE_TITLES
from .errors import invalid, no_data
from .paging import Page, paginate
from .taxes import exemptions_listing, taxes_listing
from .wire import Reply

V11 = frozenset({"1.1"})
V10_AND_V11 = frozenset({"1.0", "1.1"})


@dataclass
class Call:
    state: object
    account: object
    params: object
    body: object
    id: int | None
    ext: str


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Callable[[Call], Reply]
    versions: frozenset = V11
    is_list: bool = False


def _page_reply(call: Call, page: Page) -> Reply:
    headers = page.headers(call.state.assumptions.paginator_headers_on_single_page)
    return Reply(200, page.items, headers)


def _listing(call: Call, records: list) -> Reply:
    return _page_reply(call, paginate(records, call.params, call.state.assumptions))


def _whole(rows: list) -> Reply:
    """Small reference lists (types, units, taxes, exemptions) come whole, without paging."""
    if not rows:
        raise no_data()
    return Reply(200, rows)


def _one(records: dict, record_id: int | None, call: Call) -> Reply:
    record = records.get(record_id)
    if record is None:
        raise no_data(call.state.assumptions.missing_id_message)
    return Reply(200, dict(record))


# -- documents ------------------------------------------------------------------------------------
def list_documents(call: Call) -> Reply:
    return _page_reply(call, call.state.list_documents(call.account.key, call.params))


def create_document(call: Call) -> Reply:
    return Reply(201, call.state.create_document(call.account.key, call.body))


def get_document(call: Call) -> Reply:
    detail = call.state.get_document(
        call.account.key, call.id, call.params.get("mode") or "normal", call.params.get("output")
    )
    if call.ext == "pdf":
        from .pdf import document_pdf

        return Reply(200, raw=document_pdf(detail), mimetype="application/pdf")
    if call.ext not in ("", "json"):
        raise no_data()
    return Reply(200, detail)


def patch_document(call: Call) -> Reply:
    mode = call.params.get("mode") or "normal"
    return Reply(200, call.state.patch_document(call.account.key, call.id, call.body, mode))


def document_types(call: Call) -> Reply:
    rows = [
        {"id": code, "title": title, "visible_filter": "yes", "visible_finalize": "yes"}
        for code, title in TYPE_TITLES.items()
    ]
    for name in ("visible_filter", "visible_finalize"):
        if call.params.get(name):
            rows = [row for row in rows if row[name] == call.params[name]]
    return _whole(rows)


# -- catalogue ------------------------------------------------------------------------------------
def list_payment_methods(call: Call) -> Reply:
    with call.state.transaction():
        return _listing(call, [dict(m) for m in call.account.payment_methods.values()])


def get_payment_method(call: Call) -> Reply:
    return _one(call.account.payment_methods, call.id, call)


def create_payment_method(call: Call) -> Reply:
    state, account = call.state, call.account
    with state.transaction():
        method = payment_method_record(
            state.next_id("payment_method"), call.body if isinstance(call.body, dict) else {}
        )
        account.add_payment_method(method)
        state.touch(account, "payment_method", method)
        return Reply(201, method)


def list_clients(call: Call) -> Reply:
    match = client_filter(call.params)
    with call.state.transaction():
        return _listing(call, [dict(c) for c in call.account.clients.values() if match(c)])


def get_client(call: Call) -> Reply:
    return _one(call.account.clients, call.id, call)


def create_client(call: Call) -> Reply:
    state, account = call.state, call.account
    with state.transaction():
        data = validate_client(account, call.body, CLIENT_FIELDS, field="body")
        if data.get("fiscal_id") and data["fiscal_id"] in account.client_by_nif:
            raise invalid("fiscal_id", "Já existe um cliente com este NIF.")
        return Reply(201, state.new_client(account, data, account.today(state.clock.now())))


def patch_client(call: Call) -> Reply:
    state, account = call.state, call.account
    with state.transaction():
        client = account.clients.get(call.id)
        if client is None:
            raise no_data(state.assumptions.missing_id_message)
        data = validate_client(account, call.body, CLIENT_FIELDS, field="body")
        other = account.client_by_nif.get(data.get("fiscal_id", ""))
        if other is not None and other != client["id"]:
            raise invalid("fiscal_id", "Já existe um cliente com este NIF.")
        if client["fiscal_id"] and data.get("fiscal_id", client["fiscal_id"]) != client["fiscal_id"]:
            account.client_by_nif.pop(client["fiscal_id"], None)
        client.update({k: v for k, v in data.items() if k in client})
        account.add_client(client)
        state.touch(account, "client", client)
        return Reply(200, dict(client))


def list_products(call: Call) -> Reply:
    match = product_filter(call.params, call.state.assumptions.products_default_status)
    with call.state.transaction():
        return _listing(call, [dict(p) for p in call.account.products.values() if match(p)])


def get_product(call: Call) -> Reply:
    return _one(call.account.products, call.id, call)


def create_product(call: Call) -> Reply:
    state, account = call.state, call.account
    with state.transaction():
        return Reply(201, state.new_product(account, validate_product(account, call.body)))


def patch_product(call: Call) -> Reply:
    state, account = call.state, call.account
    with state.transaction():
        product = account.products.get(call.id)
        if product is None:
            raise no_data(state.assumptions.missing_id_message)
        data = validate_product_patch(account, product, call.body)
        if data.get("reference", product["reference"]) != product["reference"]:
            account.product_by_ref.pop(product["reference"], None)
        product.update({k: v for k, v in data.items() if k in product})
        account.add_product(product)
        state.touch(account, "product", product)
        return Reply(200, dict(product))


def list_units(call: Call) -> Reply:
    return _whole(list(call.account.units.values()))


def get_unit(call: Call) -> Reply:
    return _one(call.account.units, call.id, call)


# -- account, stores, registers, taxes ----------------------------------------------------------------
def list_stores(call: Call) -> Reply:
    kind = call.params.get("type") or "all"
    return _listing(call, [dict(s) for s in call.account.stores.values() if kind == "all" or s["type"] == kind])


def get_store(call: Call) -> Reply:
    return _one(call.account.stores, call.id, call)


def list_registers(call: Call) -> Reply:
    rows = list(call.account.registers.values())
    store_id, kind = call.params.get("store_id"), call.params.get("type")
    if store_id:
        rows = [r for r in rows if str(r["store_id"]) == store_id]
    if kind:
        rows = [r for r in rows if r["type"] == kind]
    if call.params.get("isActive") == "yes":
        rows = [r for r in rows if r["status"] == "on"]
    return _listing(call, [{k: v for k, v in r.items() if k != "series"} for r in rows])


def get_register(call: Call) -> Reply:
    register = call.account.registers.get(call.id)
    if register is None:
        raise no_data(call.state.assumptions.missing_id_message)
    return Reply(200, {k: v for k, v in register.items() if k != "series"})


def list_taxes(call: Call) -> Reply:
    every = call.params.get("all") == "yes"
    return _whole(taxes_listing(call.account.region, every_region=every))


def list_exemptions(call: Call) -> Reply:
    return _whole(exemptions_listing())


def get_account(call: Call) -> Reply:
    info = call.account.info
    if call.id is not None and call.id != info["id"]:
        raise no_data(call.state.assumptions.missing_id_message)
    return Reply(
        200,
        {
            "id": info["id"],
            "company": info.get("company", ""),
            "address": info.get("address", ""),
            "postal_code": info.get("postal_code", ""),
            "city": info.get("city", ""),
            "email": info.get("email", ""),
            "tax_id": "NOR",
            "tax_exemption": "",
            "tax_exemption_law": "",
            "url": info.get("url", ""),
            "fiscal_id": info.get("fiscal_id", ""),
            "phone": info.get("phone", ""),
            "country": info.get("country", "PT"),
            "locale": {"currency": "EUR"},
            "irs": {"incidence_rate": "0.00", "retention_rate": "0.00"},
        },
    )


ROUTES: list[Route] = [
    Route("GET", "documents", list_documents, is_list=True),
    Route("POST", "documents", create_document),
    Route("GET", "documents/types", document_types, is_list=True),
    Route("GET", "documents/paymentmethods", list_payment_methods, V10_AND_V11, is_list=True),
    Route("POST", "documents/paymentmethods", create_payment_method, V10_AND_V11),
    Route("GET", "documents/paymentmethods/{id}", get_payment_method, V10_AND_V11),
    Route("GET", "documents/{id}", get_document),
    Route("PATCH", "documents/{id}", patch_document),
    Route("GET", "clients", list_clients, V10_AND_V11, is_list=True),
    Route("POST", "clients", create_client, V10_AND_V11),
    Route("GET", "clients/{id}", get_client, V10_AND_V11),
    Route("PATCH", "clients/{id}", patch_client, V10_AND_V11),
    Route("GET", "products", list_products, V10_AND_V11, is_list=True),
    Route("POST", "products", create_product, V10_AND_V11),
    Route("GET", "products/units", list_units, V10_AND_V11, is_list=True),
    Route("GET", "products/units/{id}", get_unit, V10_AND_V11),
    Route("GET", "products/{id}", get_product, V10_AND_V11),
    Route("PATCH", "products/{id}", patch_product, V10_AND_V11),
    Route("GET", "stores", list_stores, is_list=True),
    Route("GET", "stores/{id}", get_store),
    Route("GET", "registers", list_registers, is_list=True),
    Route("GET", "registers/{id}", get_register),
    Route("GET", "taxes", list_taxes, is_list=True),
    Route("GET", "taxes/exemptions", list_exemptions, is_list=True),
    Route("GET", "account", get_account),
    Route("GET", "account/{id}", get_account),
]


def match_route(method: str, version: str | None, path: str) -> tuple[Route | None, int | None, bool]:
    """Return (route, id, path_exists). path_exists without a route means "wrong method"."""
    segments = path.split("/") if path else []
    exists = False
    for route in ROUTES:
        pattern = route.template.split("/")
        if len(pattern) != len(segments) or version not in route.versions:
            continue
        found_id = None
        for want, got in zip(pattern, segments, strict=True):
            if want == "{id}" and got.isdigit():
                found_id = int(got)
            elif want != got:
                break
        else:
            exists = True
            if route.method == method:
                return route, found_id, True
    return None, None, exists
