"""Fiscal checks before any call (pt-invoicing-rules.md §1-§3, ARCHITECTURE guarantee 5)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kapta_vendus.pipeline.account_exemptions import AccountExemption
from kapta_vendus.pipeline.errors import FiscalRejection
from kapta_vendus.pipeline.fiscal import check_pt_nif, check_receipt, check_sale, resolve_client
from kapta_vendus.pipeline.model import Customer, Payment

LIMIT = Decimal(1000)


def rejected(fn, *args, **kwargs) -> list[str]:
    with pytest.raises(FiscalRejection) as caught:
        fn(*args, **kwargs)
    return caught.value.reasons


# --- NIF (the examples table of pt-invoicing-rules.md §1) ---------------------------------------


@pytest.mark.parametrize("nif", ["123456789", "501964843", "100000002", "PT 501 964 843", "501.964.843"])
def test_valid_nifs(nif):
    number, warnings = check_pt_nif(nif)
    assert len(number) == 9 and number.isdigit()
    assert warnings == ()


@pytest.mark.parametrize(
    ("nif", "why"),
    [
        ("123456780", "wrong check digit"),
        ("501964842", "wrong check digit"),
        ("999999991", "wrong check digit"),
        ("023456789", "prefix 0 is not assigned"),
        ("12345678", "must be 9 digits"),
        ("ABC", "must be 9 digits"),
    ],
)
def test_invalid_nifs(nif, why):
    assert rejected(check_pt_nif, nif) == [f"customer.fiscal_id: not a valid Portuguese NIF ({why})"]


def with_check_digit(first8: str) -> str:
    total = sum((9 - i) * int(d) for i, d in enumerate(first8))
    return first8 + str((11 - total % 11) % 11 % 10)


@pytest.mark.parametrize("prefix", ["40", "41", "73", "76", "92", "95", "97"])
def test_unassigned_prefixes_are_refused(prefix):
    nif = with_check_digit(prefix + "123456")
    assert rejected(check_pt_nif, nif) == [
        f"customer.fiscal_id: not a valid Portuguese NIF (prefix {prefix} is not assigned)"
    ]


@pytest.mark.parametrize(
    "prefix",
    ["1", "2", "3", "5", "6", "45", "70", "71", "72", "74", "75", "77", "78", "79", "90", "91", "98", "99"],
)
def test_assigned_prefixes(prefix):
    nif = with_check_digit((prefix + "1234567")[:8])
    assert check_pt_nif(nif) == (nif, ())


def test_prefix_8_is_a_warning_not_a_rejection():
    nif = with_check_digit("81234567")
    number, warnings = check_pt_nif(nif)
    assert number == nif
    assert warnings == ("customer.fiscal_id: NIF prefix 8 is an obsolete range; accepted, please verify",)


@given(st.sampled_from("12356"), st.text("0123456789", min_size=7, max_size=7), st.integers(1, 9))
def test_check_digit_property(first, rest, shift):
    nif = with_check_digit(first + rest)
    assert check_pt_nif(nif)[0] == nif
    wrong = nif[:8] + str((int(nif[8]) + shift) % 10)
    with pytest.raises(FiscalRejection):
        check_pt_nif(wrong)


# --- client decision ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "customer",
    [
        None,
        Customer(),
        Customer(fiscal_id="999999990"),
        Customer(fiscal_id="PT999999990"),
    ],
)
def test_final_consumer_client_is_omitted(customer):
    decision = resolve_client(customer)
    assert decision.omit and decision.fiscal_id is None


def test_named_consumer_without_nif_keeps_their_name():
    """Every identification field given goes on the document, with or without a NIF (pt rules §3)."""
    decision = resolve_client(Customer(name="Ana", fiscal_id="999999990", address="Rua A"))
    assert not decision.omit and decision.fiscal_id is None and not decision.taxable


def test_final_consumer_nif_is_never_sent_even_with_another_country():
    assert resolve_client(Customer(fiscal_id="999999990", country="ES")).omit


def test_pt_customer():
    decision = resolve_client(Customer(name="Ana", fiscal_id="PT 123 456 789"))
    assert not decision.omit
    assert (decision.fiscal_id, decision.country, decision.eu_vat) == ("123456789", "PT", False)


def test_foreign_id_with_country_pt_gets_a_hint():
    assert rejected(resolve_client, Customer(fiscal_id="ESB58378431")) == [
        "customer.fiscal_id: not a valid Portuguese NIF; for a foreign customer send customer.country"
    ]


@pytest.mark.parametrize(
    ("fiscal_id", "country", "expected_id"),
    [
        ("ESB58378431", "ES", "ESB58378431"),
        ("B58378431", "ES", "B58378431"),  # national form, valid with the country's prefix
        ("DE 136 695 976", "DE", "DE136695976"),
        ("EL094259216", "GR", "EL094259216"),
        ("094259216", "GR", "094259216"),
    ],
)
def test_eu_vat_numbers(fiscal_id, country, expected_id):
    decision = resolve_client(Customer(fiscal_id=fiscal_id, country=country))
    assert (decision.fiscal_id, decision.country, decision.eu_vat, decision.warnings) == (
        expected_id,
        country,
        True,
        (),
    )


def test_invalid_eu_vat_number_is_refused():
    assert rejected(resolve_client, Customer(fiscal_id="DE136695975", country="DE")) == [
        "customer.fiscal_id: not a valid DE VAT number"
    ]


def test_eu_national_id_that_is_not_a_vat_number_is_accepted_as_consumer():
    decision = resolve_client(Customer(fiscal_id="12345", country="FR"))
    assert not decision.omit and not decision.eu_vat
    assert decision.warnings == (
        "customer.fiscal_id: not a FR VAT number; the customer is treated as a consumer",
    )


@pytest.mark.parametrize(
    ("fiscal_id", "country"),
    [("123-45-6789", "US"), ("A1234567", "BR"), ("GB123456789", "GB"), ("DE1", "CH")],
)
def test_non_eu_ids_are_accepted_with_their_country(fiscal_id, country):
    decision = resolve_client(Customer(fiscal_id=fiscal_id, country=country))
    assert (decision.omit, decision.country, decision.eu_vat, decision.warnings) == (
        False,
        country,
        False,
        (),
    )


def test_foreign_id_garbage():
    assert rejected(resolve_client, Customer(fiscal_id="#!", country="US")) == [
        "customer.fiscal_id: a foreign fiscal id must be 2 to 20 letters and digits"
    ]


# --- sale checks -------------------------------------------------------------------------------


def test_clean_sale_is_cleared(make_sale):
    clearance = check_sale(make_sale(), document_type="FS", fs_limit=LIMIT)
    assert clearance.document_type == "FS" and clearance.client.omit


def test_bad_nif_rejects_the_sale(make_sale):
    assert rejected(check_sale, make_sale(nif="123456780"), document_type="FR", fs_limit=LIMIT) == [
        "customer.fiscal_id: not a valid Portuguese NIF (wrong check digit)"
    ]


def test_prefix_8_warning_is_passed_on(make_sale):
    clearance = check_sale(make_sale(nif=with_check_digit("81234567")), document_type="FR", fs_limit=LIMIT)
    assert clearance.warnings and not clearance.client.omit


def test_ise_line_without_code(make_sale, make_line):
    sale = make_sale(lines=(make_line(title="Livro", tax="ISE"),))
    assert rejected(check_sale, sale, document_type="FS", fs_limit=LIMIT) == [
        "lines[0] (Livro): a 0% (ISE) line needs an exemption code (M-code)"
    ]


def test_ise_line_with_revoked_code(make_sale, make_line):
    sale = make_sale(lines=(make_line(title="Pão", tax="ISE", exemption="M26"),))
    (reason,) = rejected(check_sale, sale, document_type="FS", fs_limit=LIMIT)
    assert reason.startswith("lines[0] (Pão): M26 is expired")


def test_exemption_on_a_taxed_line(make_sale, make_line):
    sale = make_sale(lines=(make_line(title="X", exemption="M07"),))
    assert rejected(check_sale, sale, document_type="FS", fs_limit=LIMIT) == [
        "lines[0] (X): an exemption code is only allowed on ISE lines"
    ]


def test_m16_needs_an_eu_vat_customer(make_sale, make_line):
    lines = (make_line(title="Máquina", tax="ISE", exemption="M16"),)
    assert rejected(
        check_sale, make_sale(lines=lines, nif="123456789"), document_type="FR", fs_limit=LIMIT
    ) == ["lines[0] (Máquina): M16 (intra-EU supply) needs a customer with a valid EU VAT number "
          "of another member state"]
    eu = make_sale(lines=lines, nif="ESB58378431", country="ES")
    assert check_sale(eu, document_type="FR", fs_limit=LIMIT).client.eu_vat


@pytest.mark.parametrize(
    "fields",
    [
        {"unit_price": Decimal(0)},
        {"discount_percentage": Decimal(100)},
        {"unit_price": Decimal("-1.00")},
        {"qty": Decimal(0)},
    ],
)
def test_zero_or_negative_lines(make_sale, make_line, fields):
    sale = make_sale(
        lines=(make_line(title="Oferta", **fields), make_line()),
        payments=(Payment("cash", Decimal("10.00")),),
    )
    reasons = rejected(check_sale, sale, document_type="FS", fs_limit=LIMIT)
    assert (
        "lines[0] (Oferta): zero or negative lines are not allowed; use discount_percentage for discounts"
        in reasons
    )


def test_no_lines(make_sale):
    sale = make_sale(lines=(), payments=())
    sale = sale.__class__(**{**sale.__dict__, "lines": (), "payment_status": "pending"})
    assert rejected(check_sale, sale, document_type="FT", fs_limit=LIMIT) == [
        "lines: a document needs at least one line"
    ]


NAMED = Customer(name="João Silva", address="Rua Direita 1", city="Lisboa")


def test_fs_within_and_over_the_limit(make_sale):
    assert check_sale(make_sale(total="999.99"), document_type="FS", fs_limit=LIMIT)
    assert check_sale(make_sale(total="1000.00", customer=NAMED), document_type="FS", fs_limit=LIMIT)
    (reason,) = rejected(check_sale, make_sale(total="1000.01", customer=NAMED), document_type="FS",
                         fs_limit=LIMIT)
    assert reason.startswith("document_type: an FS of 1000.01 € is over the FS limit of 1000 €")
    assert rejected(check_sale, make_sale(total="100.01"), document_type="FS", fs_limit=Decimal(100))


def test_services_and_company_buyers_have_the_100_limit(make_sale, make_line):
    """CIVA 40(1): 1,000 € only for goods to non-taxable buyers; 100 € otherwise (pt rules §3)."""
    meal = make_sale(total="150.00")
    (reason,) = rejected(check_sale, meal, document_type="FS", fs_limit=LIMIT, kinds=("service",))
    assert "over the FS limit of 100 € (the sale has service lines" in reason
    company = make_sale(total="800.00", nif="501964843")
    (reason,) = rejected(check_sale, company, document_type="FS", fs_limit=LIMIT, kinds=("goods",))
    assert "over the FS limit of 100 € (the buyer is a taxable person" in reason
    assert check_sale(make_sale(total="800.00", nif="123456789"), document_type="FS", fs_limit=LIMIT)


def test_consumer_invoice_of_1000_needs_name_and_address(make_sale):
    """CIVA 36: a 1,000 € invoice to a non-taxable buyer names them (pt rules §3)."""
    (reason,) = rejected(check_sale, make_sale(total="5000.00"), document_type="FR", fs_limit=LIMIT)
    assert "must carry the buyer's name and address (CIVA 36)" in reason
    warned = check_sale(make_sale(total="5000.00"), document_type="FR", fs_limit=LIMIT,
                        buyer_identification="warn")
    assert any("CIVA 36" in w for w in warned.warnings)
    assert check_sale(make_sale(total="5000.00", customer=NAMED), document_type="FR", fs_limit=LIMIT)
    assert check_sale(make_sale(total="5000.00", nif="501964843"), document_type="FR", fs_limit=LIMIT)


def test_limit_only_concerns_fs(make_sale):
    assert check_sale(make_sale(total="5000.00", customer=NAMED), document_type="FR", fs_limit=LIMIT)


def test_exemptions_are_checked_against_the_account(make_sale, make_line):
    """M44 passes the AT table but not Vendus's list: refused before any call (pt rules §2)."""
    account = {"M07": AccountExemption("M07", "Isento artigo 9.º do CIVA", "Artigo 9.º do CIVA")}
    sale = make_sale(lines=(make_line(title="Voo", tax="ISE", exemption="M44"),))
    (reason,) = rejected(check_sale, sale, document_type="FS", fs_limit=LIMIT, exemptions=account)
    assert reason.startswith("lines[0] (Voo): exemption M44 is not accepted by this Vendus account")


def test_reverse_charge_needs_a_taxable_pt_buyer(make_sale, make_line):
    lines = (make_line(title="Obra", tax="ISE", exemption="M30"),)
    (reason,) = rejected(check_sale, make_sale(lines=lines), document_type="FS", fs_limit=LIMIT)
    assert reason == "lines[0] (Obra): M30 (reverse charge) needs a taxable Portuguese buyer with a valid NIF"
    assert check_sale(make_sale(lines=lines, nif="501964843"), document_type="FR", fs_limit=LIMIT)


@pytest.mark.parametrize("document_type", ["FR", "FS"])
@pytest.mark.parametrize("status", ["pending", "partial"])
def test_fr_and_fs_are_paid_at_issue(make_sale, document_type, status):
    assert rejected(check_sale, make_sale(status=status), document_type=document_type, fs_limit=LIMIT) == [
        f"document_type: an {document_type} is paid at issue, but the sale is {status}"
    ]


@pytest.mark.parametrize("status", ["pending", "partial", "paid"])
def test_ft_is_fine_whatever_the_payment(make_sale, status):
    assert check_sale(make_sale(status=status), document_type="FT", fs_limit=LIMIT)


def test_payment_consistency(make_sale):
    short = make_sale(payments=(Payment("cash", Decimal("9.00")),))
    assert rejected(check_sale, short, document_type="FT", fs_limit=LIMIT) == [
        "payments: the sale is marked paid with 9.00 €, but its lines total 10.00 € as Vendus computes them"
        " (per line); more than 0.01 € apart"
    ]
    partial_all = make_sale(status="partial", payments=(Payment("cash", Decimal("10.00")),))
    assert rejected(check_sale, partial_all, document_type="FT", fs_limit=LIMIT) == [
        "payments: the sale is marked partial but paid payments add up to 10.00 € of 10.00 €"
    ]
    pending_paid = make_sale(status="pending", payments=(Payment("cash", Decimal("1.00")),))
    assert rejected(check_sale, pending_paid, document_type="FT", fs_limit=LIMIT) == [
        "payments: the sale is marked pending but 1.00 € is marked paid"
    ]


def test_a_cent_of_rounding_is_tolerated(make_sale):
    sale = make_sale(payments=(Payment("cash", Decimal("9.99")),))
    clearance = check_sale(sale, document_type="FR", fs_limit=LIMIT)
    assert clearance.settlement.omit_amount and clearance.settlement.difference == Decimal("-0.01")


def test_a_cent_per_line_of_rounding(make_sale, make_line):
    """Two lines of 0.45 with 10 % off: 0.82 per line, 0.81 per document (events.md, rounded sales)."""
    lines = tuple(make_line(title=t, unit_price=Decimal("0.45"), discount_percentage=Decimal(10)) for t in "AB")
    per_document = make_sale(lines=lines, payments=(Payment("cash", Decimal("0.81")),))
    assert check_sale(per_document, document_type="FS", fs_limit=LIMIT).settlement.vendus_total == Decimal("0.82")
    far = make_sale(lines=lines, payments=(Payment("cash", Decimal("0.79")),))
    (reason,) = rejected(check_sale, far, document_type="FS", fs_limit=LIMIT)
    assert "0.79 €" in reason and "0.82 €" in reason


def test_unknown_document_type(make_sale):
    assert rejected(check_sale, make_sale(), document_type="NC", fs_limit=LIMIT) == [
        "document_type: a sale is issued as FT, FR or FS, not NC"
    ]


def test_all_reasons_together(make_sale, make_line):
    sale = make_sale(
        nif="123456780",
        lines=(make_line(title="A", tax="ISE"), make_line(title="B", unit_price=Decimal("1500.00"))),
        payments=(Payment("cash", Decimal("1510.00")),),
    )
    # bad NIF, ISE without code, over the FS limit, and no name/address on a 1,500 € consumer invoice
    assert len(rejected(check_sale, sale, document_type="FS", fs_limit=LIMIT)) == 4


# --- receipts ----------------------------------------------------------------------------------


def test_receipt_checks():
    check_receipt(["FT 01P2026/7"], Decimal("5.00"))
    assert rejected(check_receipt, [], Decimal("5.00")) == [
        "invoices: a receipt must reference at least one invoice number"
    ]
    assert rejected(check_receipt, ["FT 1"], Decimal(0)) == [
        "amount: a receipt needs a positive amount with at most 2 decimals (got 0)"
    ]
    assert rejected(check_receipt, ["FT 1"], Decimal("1.001"))
