"""civa.py, references.py, the account exemption cache and the strict adoption of issuance.py."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kapta_vendus.events.errors import Rejection
from kapta_vendus.pipeline import civa
from kapta_vendus.pipeline.account_exemptions import ExemptionCache
from kapta_vendus.pipeline.issuance import Expected, _adopt_existing, is_date_refusal
from kapta_vendus.pipeline.references import (
    correction_reference,
    integration_tag,
    parse_reference,
    receipt_reference,
    sale_id_of_business_key,
    sale_key_of_document,
    sale_reference,
)
from kapta_vendus.vendus import VendusRejected


@pytest.mark.parametrize(("kinds", "taxable", "limit"), [
    (("goods", "goods"), False, Decimal(1000)),
    (("goods", "service"), False, Decimal(100)),
    (("goods",), True, Decimal(100)),
    ((), False, Decimal(100)),
])
def test_legal_fs_limit(kinds, taxable, limit):
    """CIVA 40(1): 1,000 € only when every line is goods to a non-taxable buyer (pt rules §3)."""
    assert civa.legal_fs_limit(kinds, taxable) == limit
    assert civa.legal_fs_limit(kinds, taxable, Decimal(50)) == Decimal(50)  # the integration may lower it


@pytest.mark.parametrize(("nif", "country", "eu_vat", "taxable"), [
    (None, "PT", False, False), ("123456789", "PT", False, False), ("501964843", "PT", False, True),
    ("600000001", "PT", False, True), ("ESB58378431", "ES", True, True), ("X1", "US", False, False),
])
def test_taxable_buyer(nif, country, eu_vat, taxable):
    assert civa.is_taxable_buyer(nif, country, eu_vat) is taxable


def test_settlement_tolerates_a_cent_per_line():
    assert civa.settle(Decimal("0.82"), Decimal("0.81"), 2).omit_amount
    assert not civa.settle(Decimal("0.82"), Decimal("0.82"), 2).omit_amount
    assert civa.settle(Decimal("0.82"), Decimal("0.79"), 2) is None


@pytest.mark.parametrize(("code", "region"), [("9000-018", "madeira"), ("9399", "madeira"), ("9500-150", "azores"),
                                              ("9999-999", "azores"), ("9400-001", "mainland"),
                                              ("1100-053", "mainland"), ("", None)])
def test_region_of_postal_code(code, region):
    """9000-9399 Madeira, 9500-9999 Azores (vendus-api §3.4)."""
    assert civa.region_of_postal_code(code) == region


def test_tax_custom_only_on_the_islands():
    assert civa.tax_custom("madeira", "RED") == {"country": "PT-MA", "rate": "4", "code": "RED", "type": "IVA"}
    assert civa.tax_custom("azores", "NOR")["rate"] == "16"
    assert civa.tax_custom("mainland", "NOR") is None and civa.tax_custom("madeira", "ISE") is None


def test_references_name_integration_store_and_sale():
    ref = sale_reference("integration-1", 2001, "T1:9")
    parsed = parse_reference(ref)
    assert (parsed.sale_id, parsed.store_id, parsed.suffix) == ("T1:9", 2001, "")
    assert parsed.belongs_to("integration-1") and not parsed.belongs_to("integration-2")
    assert parse_reference(receipt_reference("i", 1, "S", "P1")).suffix == "RG:P1"
    assert parse_reference(correction_reference("i", 1, "S", "C1")).suffix == "CC:C1"
    assert integration_tag("integration-1") != integration_tag("integration-2")


def test_legacy_references_take_the_document_store():
    assert sale_key_of_document("T1-000123#RG:P-1", 2002) == "2002:T1-000123"
    assert sale_key_of_document(sale_reference("i", 2001, "T1"), 2002) == "2001:T1"
    assert sale_id_of_business_key("sale:2001:T1:x") == "T1:x"
    assert sale_id_of_business_key("sale:T1-old") == "T1-old"


def test_exemption_cache_expires_per_integration():
    now = [0.0]
    calls: list[str] = []
    cache = ExemptionCache(ttl=60, clock=lambda: now[0])

    def fetch(name):
        def rows():
            calls.append(name)
            return [{"id": "M07", "text": "Isento artigo 9.º do CIVA", "law": "Artigo 9.º do CIVA"}]
        return rows

    assert cache.get("a", fetch("a"))["M07"].law == "Artigo 9.º do CIVA"
    cache.get("a", fetch("a"))
    cache.get("b", fetch("b"))
    now[0] = 61
    cache.get("a", fetch("a"))
    assert calls == ["a", "b", "a"]


class _Listing:
    def __init__(self, rows):
        self.rows = rows

    def find_documents_by_external_reference(self, ref, *, mode=None):
        return [r for r in self.rows if r.get("external_reference") in (None, "", ref)]


REF = sale_reference("i", 2002, "T-1")
DOC = {"id": 7, "type": "FS", "external_reference": REF, "store_id": 2002, "register_id": 3003,
       "amount_gross": "2.90"}
EXPECTED = Expected(2002, 3003, Decimal("2.90"))


def test_adoption_needs_store_register_type_and_amount():
    assert _adopt_existing(_Listing([DOC]), REF, "FS", "normal", EXPECTED)["id"] == 7
    assert _adopt_existing(_Listing([{**DOC, "external_reference": None}]), REF, "FS", "normal", EXPECTED) is None
    assert _adopt_existing(_Listing([{**DOC, "type": "FR"}]), REF, "FS", "normal", EXPECTED) is None
    for other in ({"store_id": 2001}, {"register_id": 3001}, {"amount_gross": "2.91"}):
        with pytest.raises(Rejection, match="refusing to adopt"):
            _adopt_existing(_Listing([{**DOC, **other}]), REF, "FS", "normal", EXPECTED)


def test_adoption_refuses_an_ambiguous_match():
    with pytest.raises(Rejection, match="refusing to pick one"):
        _adopt_existing(_Listing([DOC, {**DOC, "id": 8}]), REF, "FS", "normal", EXPECTED)


def test_date_order_refusal_is_recognised():
    refused = VendusRejected("A data do documento (2026-11-01) não pode ser anterior à data do último documento",
                             status=403, code="A001")
    assert is_date_refusal(refused)
    assert not is_date_refusal(VendusRejected("Motivo de isenção inválido.", status=403, code="P001"))


def test_exemption_cache_lifetime_comes_from_the_setting():
    """KAPTA_EXEMPTION_CACHE_SECONDS: the lifetime given per call wins; 0 asks the account every time."""
    from kapta_vendus.config import Settings

    now = [0.0]
    calls: list[float] = []
    cache = ExemptionCache(ttl=3600, clock=lambda: now[0])

    def rows():
        calls.append(now[0])
        return [{"id": "M07", "text": "Isento", "law": "Artigo 9.º do CIVA"}]

    ttl = Settings.from_env({"KAPTA_EXEMPTION_CACHE_SECONDS": "120"}).exemption_cache_seconds
    assert ttl == 120 and Settings().exemption_cache_seconds == 3600
    cache.get("a", rows, ttl=ttl)
    now[0] = 119
    cache.get("a", rows, ttl=ttl)
    now[0] = 121
    cache.get("a", rows, ttl=ttl)
    cache.get("a", rows, ttl=0)
    assert calls == [0.0, 121.0, 121.0]
