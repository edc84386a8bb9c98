"""IntegrationMapping.from_dict and map_sale."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import yaml

from kapta_vendus.pipeline.errors import MappingConfigError, MappingError
from kapta_vendus.pipeline.mapping import IntegrationMapping, StoreMapping, map_sale
from kapta_vendus.pipeline.model import Payment, region_timezone

EXAMPLE_YAML = """
mode: normal
default_register_id: 101
fs_limit: 1000
series: 01P2026
payment_methods:
  cash: 24934
  card: 24935
  MBWay: "24936"
products:
  CAFE: 9001
stores:
  24994: {region: mainland, register_id: 77}
  "30001": {region: azores, register_id: 88, fs_limit: "100"}
exemption_laws:
  M07: "Isento artigo 9.º do CIVA (texto da tabela AT)"
sale_document_sources: [DC, EC]
"""


def load(raw):
    return IntegrationMapping.from_dict(raw)


def problems(raw) -> list[str]:
    with pytest.raises(MappingConfigError) as caught:
        load(raw)
    return caught.value.reasons


def test_yaml_example_loads():
    mapping = load(yaml.safe_load(EXAMPLE_YAML))
    assert mapping.mode == "normal"
    assert mapping.payment_methods == {"cash": 24934, "card": 24935, "mbway": 24936}
    assert mapping.products == {"CAFE": 9001}
    assert mapping.stores[24994] == StoreMapping("mainland", 77, None)
    assert mapping.stores[30001] == StoreMapping("azores", 88, Decimal(100))
    assert mapping.fs_limit == Decimal(1000) and isinstance(mapping.fs_limit, Decimal)
    assert mapping.series == "01P2026"
    assert mapping.exemption_laws["M07"].endswith("(texto da tabela AT)")
    assert "M10" not in mapping.exemption_laws  # no override: the account's law text applies
    assert mapping.counts_as_sale("dc") and not mapping.counts_as_sale("PF")


def test_minimal_mapping_defaults():
    mapping = load({"mode": "tests"})
    assert mapping.fs_limit == Decimal(1000)
    assert mapping.default_register_id is None
    assert mapping.sale_document_sources == frozenset()
    assert mapping.exemption_laws == {}
    assert mapping.default_kind == "goods" and mapping.buyer_identification == "reject"
    assert mapping.fs_limit_for(1) == Decimal(1000)
    assert mapping.timezone_for(1) == region_timezone("mainland")


def test_json_column_keys_are_strings():
    mapping = load({"mode": "normal", "stores": {"24994": {"register_id": "77"}}})
    assert mapping.register_for(24994) == 77


def test_store_overrides():
    mapping = load(yaml.safe_load(EXAMPLE_YAML))
    assert mapping.fs_limit_for(30001) == Decimal(100)
    assert mapping.fs_limit_for(24994) == Decimal(1000)
    assert mapping.timezone_for(30001) == region_timezone("azores")
    assert mapping.register_for(30001) == 88
    assert mapping.register_for(99999) == 101
    assert mapping.register_for(30001, requested=5) == 5


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, ["mode: is required"]),
        ({"mode": "live"}, ["mode: must be one of normal, tests (got 'live')"]),
        ({"mode": "normal", "payment_method": {}}, ["payment_method: unknown field"]),
        (
            {"mode": "normal", "payment_methods": {"cash": "abc"}},
            ["payment_methods.cash: must be a positive integer id (got 'abc')"],
        ),
        (
            {"mode": "normal", "payment_methods": {"cash": 0}},
            ["payment_methods.cash: must be a positive integer id (got 0)"],
        ),
        (
            {"mode": "normal", "payment_methods": {"cash": True}},
            ["payment_methods.cash: must be a positive integer id (got True)"],
        ),
        (
            {"mode": "normal", "products": {"CAFE": 1.5}},
            ["products.CAFE: must be a positive integer id (got 1.5)"],
        ),
        (
            {"mode": "normal", "stores": {"abc": {}}},
            ["stores.abc: must be a positive integer id (got 'abc')"],
        ),
        (
            {"mode": "normal", "stores": {"1": {"region": "lisboa"}}},
            ["stores.1.region: must be one of mainland, madeira, azores (got 'lisboa')"],
        ),
        ({"mode": "normal", "stores": {"1": {"registre_id": 4}}}, ["stores.1.registre_id: unknown field"]),
        (
            {"mode": "normal", "default_register_id": "x"},
            ["default_register_id: must be a positive integer id (got 'x')"],
        ),
        (
            {"mode": "normal", "fs_limit": 1500},
            ["fs_limit: must be at most 1000: the law allows no FS above 1000 € (got 1500)"],
        ),
        ({"mode": "normal", "fs_limit": "0"}, ["fs_limit: must be greater than 0 (got 0)"]),
        (
            {"mode": "normal", "fs_limit": "lots"},
            ["fs_limit: must be an amount such as \"1000\" (got 'lots')"],
        ),
        (
            {"mode": "normal", "exemption_laws": {"M26": "x"}},
            [
                "exemption_laws.M26: M26 is expired (the 'IVA zero' food basket ended in January 2024)"
                " and cannot be used on new documents"
            ],
        ),
        ({"mode": "normal", "exemption_laws": {"M07": ""}}, ["exemption_laws.M07: must not be blank"]),
        (
            {"mode": "normal", "sale_document_sources": ["FT"]},
            ["sale_document_sources[0]: must be one of DC, EC, PF, OT (got 'FT')"],
        ),
        (
            {"mode": "normal", "payment_methods": {"cash": 1, "Cash": 2}},
            ["payment_methods.Cash: given twice (names are case-insensitive)"],
        ),
    ],
)
def test_config_errors_name_the_field(raw, expected):
    assert problems(raw) == expected


def test_not_a_mapping():
    assert problems(["mode"]) == ["mapping: must be an object"]


def test_fs_limit_100_for_services():
    assert load({"mode": "normal", "fs_limit": 100}).fs_limit == Decimal(100)
    assert load({"mode": "normal", "fs_limit": 99.5}).fs_limit == Decimal("99.5")


def test_mapping_is_immutable(mapping):
    with pytest.raises(TypeError):
        mapping.payment_methods["new"] = 1  # type: ignore[index]


# --- map_sale ----------------------------------------------------------------------------------


def test_map_cafe_sale(cafe_event, mapping):
    mapped = map_sale(cafe_event.sale, mapping)
    assert mapped.register_id == 77  # the store's register
    assert mapped.mode == "normal"
    assert mapped.fs_limit == Decimal(1000)
    assert [line.product_id for line in mapped.lines] == [None, 5001]
    assert [p.method_id for p in mapped.payments] == [24934]
    assert mapped.local_date == date(2026, 11, 25)


def test_sale_register_wins(make_sale, mapping):
    assert map_sale(make_sale(register_id=5), mapping).register_id == 5


def test_default_register(make_sale, mapping):
    assert map_sale(make_sale(store_id=1), mapping).register_id == 101


def test_no_register_at_all(make_sale):
    with pytest.raises(MappingError) as caught:
        map_sale(make_sale(store_id=3), load({"mode": "normal", "payment_methods": {"cash": 1}}))
    assert caught.value.reasons == [
        "no register for store 3: send register_id, or set stores.3.register_id"
        " or default_register_id in the mapping"
    ]


def test_method_names_are_case_insensitive(make_sale, mapping):
    sale = make_sale(payments=(Payment(" CASH ", Decimal("10.00")),))
    assert map_sale(sale, mapping).payments[0].method_id == 24934


def test_unknown_paid_methods_are_all_reported(make_sale, mapping):
    sale = make_sale(payments=(Payment("voucher", Decimal("5.00")), Payment("bitcoin", Decimal("5.00"))))
    with pytest.raises(MappingError) as caught:
        map_sale(sale, mapping)
    unmapped = "is not mapped to a Vendus payment method (mapped: card, cash, mbway)"
    assert caught.value.reasons == [
        f"payments[0]: payment method 'voucher' {unmapped}",
        f"payments[1]: payment method 'bitcoin' {unmapped}",
    ]


def test_unknown_pending_method_is_tolerated(make_sale, mapping):
    sale = make_sale(status="pending", payments=(Payment("voucher", Decimal("10.00"), "pending"),))
    mapped = map_sale(sale, mapping)
    assert mapped.payments[0].method_id is None
    assert mapped.paid_payments == ()


BASE = {"mode": "normal", "default_register_id": 101, "payment_methods": {"cash": 24934}}


def test_exemption_law_is_the_account_s_unless_overridden(make_sale, make_line, mapping):
    sale = make_sale(lines=(make_line(tax="ISE", exemption="M07"),))
    assert map_sale(sale, mapping).lines[0].exemption_law is None
    override = load({**BASE, "exemption_laws": {"M07": "Texto próprio"}})
    assert map_sale(sale, override).lines[0].exemption_law == "Texto próprio"


def test_line_kind_from_event_then_product_then_default(make_sale, make_line):
    """events.md sale.completed: kind from the event, else the mapping per product, else the default."""
    mapping = load({**BASE, "default_kind": "service", "product_kinds": {"LIV": "goods"}})
    sale = make_sale(lines=(make_line(reference="LIV"), make_line(reference="X"),
                            make_line(reference="LIV", kind="service")))
    assert map_sale(sale, mapping).kinds == ("goods", "service", "service")


def test_line_kind_must_be_known():
    with pytest.raises(MappingConfigError, match=r"product_kinds\.LIV"):
        load({**BASE, "product_kinds": {"LIV": "food"}})


def test_local_date_uses_the_store_region(make_sale):
    late = datetime(2026, 7, 4, 23, 30, tzinfo=UTC)
    base = {"mode": "normal", "default_register_id": 1, "payment_methods": {"cash": 1}}
    mainland = load(base)
    azores = load({**base, "stores": {"24994": {"region": "azores"}}})
    assert map_sale(make_sale(closed_at=late), mainland).local_date == date(2026, 7, 5)
    assert map_sale(make_sale(closed_at=late), azores).local_date == date(2026, 7, 4)


def test_method_id_lookup(mapping):
    assert mapping.method_id("mbway") == 24936
    with pytest.raises(MappingError, match="'paypal' is not mapped"):
        mapping.method_id("paypal")
