"""Vendus bodies of master data (reference/vendus-api.md §6 Client/Product, §5.3 type_id), the import
file reader, the email section, and the simulator's PDF."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from kapta_vendus.email.settings import email_problems, email_settings
from kapta_vendus.masterdata.importer import ImportFileError, read_rows
from kapta_vendus.masterdata.vendus_payloads import client_body, fingerprint, product_body, real_nif
from kapta_vendus.simulator.pdf import document_pdf


def test_the_consumer_nif_is_never_sent_and_a_pt_prefix_is_dropped():
    assert real_nif("999999990") is None and real_nif("PT 999 999 990") is None and real_nif("") is None
    assert real_nif("PT 501.964.843") == "501964843"


def test_client_body_keys_the_client_by_the_source_id():
    body = client_body({"customer_id": "C1", "name": "Ana", "fiscal_id": "999999990", "country": "PT",
                        "email": "a@x.pt", "phone": None})
    assert body == {"name": "Ana", "country": "PT", "external_reference": "C1", "email": "a@x.pt"}


def test_product_body_maps_kind_status_and_exemption():
    body = product_body({"reference": "R", "title": "T", "gross_price": Decimal("2.5"), "tax": "ISE",
                         "exemption": "M07", "kind": "service", "status": "inactive", "barcode": "123"}, 1)
    assert (body["type_id"], body["status"], body["gross_price"], body["unit_id"]) == ("S", "off", "2.50", 1)
    assert body["tax_exemption"] == "M07" and "9.º" in body["tax_exemption_law"]
    assert fingerprint(body) == fingerprint(dict(body)) != fingerprint({**body, "title": "U"})


def test_read_rows_gives_line_numbers_for_csv_json_and_json_lines(tmp_path):
    csv_file = tmp_path / "c.csv"
    csv_file.write_text("customer_id,name\nA,Ana\nB,\n")
    assert list(read_rows(csv_file)) == [(2, {"customer_id": "A", "name": "Ana"}), (3, {"customer_id": "B"})]
    lines = tmp_path / "c.jsonl"
    lines.write_text('{"customer_id": "A"}\n\nnot json\n')
    assert list(read_rows(lines)) == [(1, {"customer_id": "A"}), (3, {"__invalid__": "not a JSON object"})]
    broken = tmp_path / "c.json"
    broken.write_text("[{")
    with pytest.raises(ImportFileError, match="not valid JSON"):
        list(read_rows(broken))


def test_the_email_section_is_checked():
    assert email_problems({"by": "service", "language": "en"}) == []
    assert email_problems({"by": "fax", "language": "fr", "x": 1}) == [
        "email.x: unknown key", "email.by: must be one of off, service, vendus",
        "email.language: must be one of pt, en"]
    settings = email_settings({"email": {"by": "service", "templates": {"en": {"subject": "Doc {number}"}}}})
    assert settings.template("en")["subject"] == "Doc {number}" and "{number}" in settings.template("pt")["body"]


def test_the_simulated_pdf_is_a_well_formed_pdf():
    pdf = document_pdf({"type": "FR", "number": "FR 01P2026/7", "date": "2026-11-25", "amount_gross": "2.90",
                        "atcud": "JFAAAAAA-7"})
    assert pdf.startswith(b"%PDF-1.4") and pdf.endswith(b"%%EOF\n")
    # Every cross-reference entry points at the start of its object: readers rely on these offsets.
    xref_at = int(re.search(rb"startxref\n(\d+)", pdf).group(1))
    assert pdf[xref_at:].startswith(b"xref")
    offsets = [int(o) for o in re.findall(rb"(\d{10}) 00000 n", pdf)]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())
    stream = re.search(rb"<< /Length (\d+) >>\nstream\n", pdf)
    length = int(stream.group(1))
    assert pdf[stream.end() + length:].startswith(b"\nendstream")
    assert b"FR 01P2026/7" in pdf
