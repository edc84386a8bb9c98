"""Documents emailed to the customer (a local aiosmtpd mailbox), Vendus's own send-email option,
the import of customers/products from a file, and destinations declared in the integration YAML."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from smtp_mailbox import Mailbox
from sqlalchemy import select

from kapta_vendus.config import set_settings
from kapta_vendus.db.models import Integration
from kapta_vendus.db.sync_models import CustomerEmail, Destination
from kapta_vendus.email.sender import send_email
from kapta_vendus.tasks import dispatch

CUSTOMER = {"name": "Maria Silva", "fiscal_id": "501964843", "email": "maria@example.pt"}


@pytest.fixture
def emails_enqueued(monkeypatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(dispatch, "enqueue_email", sent.append)
    monkeypatch.setattr(dispatch, "enqueue_delivery", lambda _id: None)
    return sent


def set_config(pipeline, **sections) -> None:
    with pipeline.db.unit_of_work() as session:
        row = session.get(Integration, pipeline.tenant.id)
        row.config = {**row.config, **sections}


def sale(pipeline, envelopes, sale_id: str) -> int:
    event_id = pipeline.accept(envelopes.sale_completed(sale_id=sale_id, customer=CUSTOMER))
    pipeline.run_chain(event_id)
    return event_id


def test_the_customer_gets_one_message_with_the_pdf_in_their_language(pipeline, envelopes, emails_enqueued):
    set_config(pipeline, email={"by": "service", "language": "en", "from": "invoices@shop.example"})
    with Mailbox() as mailbox:
        settings = pipeline.settings.replace(smtp_url=mailbox.url)
        event_id = sale(pipeline, envelopes, "E-1")
        (email_id,) = emails_enqueued
        assert send_email(pipeline.db, settings, email_id) == "sent"
        assert send_email(pipeline.db, settings, email_id) == "nothing to do"  # a redelivered task
        pipeline.run_chain(event_id)  # a replayed event records no second email
        assert len(emails_enqueued) == 1
        (message,) = mailbox.messages
        assert message["To"] == "maria@example.pt" and message["From"] == "invoices@shop.example"
        assert message["Subject"].startswith("Invoice-receipt FR ")
        ((filename, pdf),) = mailbox.attachments(message)
        assert filename.endswith(".pdf") and pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")


def test_a_failing_mail_server_is_retried_and_billing_does_not_wait(pipeline, envelopes, emails_enqueued):
    set_config(pipeline, email={"by": "service"})
    settings = pipeline.settings.replace(smtp_url="smtp://127.0.0.1:9", delivery_backoff=0.01)
    sale(pipeline, envelopes, "E-2")  # billing finished without any SMTP server
    (email_id,) = emails_enqueued
    assert send_email(pipeline.db, settings, email_id) == "retry"
    with pipeline.db.unit_of_work() as session:
        row = session.get(CustomerEmail, email_id)
        assert row.status == "pending" and "ConnectionRefused" in row.last_error


def test_by_vendus_the_document_asks_vendus_to_email_the_client(pipeline, envelopes, simulator, emails_enqueued):
    set_config(pipeline, email={"by": "vendus"})
    sale(pipeline, envelopes, "E-3")
    assert emails_enqueued == []  # the service sends nothing itself
    issuance_request = _last_request(pipeline)
    assert issuance_request["client"]["email"] == "maria@example.pt"
    assert issuance_request["client"]["send_email"] == "yes"


def _last_request(pipeline):
    from kapta_vendus.db.models import Issuance

    with pipeline.db.unit_of_work() as session:
        return session.scalars(select(Issuance.request).order_by(Issuance.id.desc())).first()


def run_cli(args, settings):
    from kapta_vendus.cli import main

    set_settings(settings)
    try:
        return CliRunner().invoke(main, args, catch_exceptions=False)
    finally:
        set_settings(None)


def test_import_customers_reports_bad_lines_and_resumes(pipeline, simulator, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,name,fiscal_id,city\n"
                    "K1,Ana,501964843,Lisboa\n"
                    "K2,,,Porto\n"             # no name: line 3 is refused, the rest goes on
                    "K3,Rui,,Faro\n")
    first = run_cli(["import", "customers", str(path), "--integration", pipeline.tenant.name, "--json"],
                    pipeline.settings)
    report = json.loads(first.output)
    assert first.exit_code == 1
    assert (report["total"], report["applied"]) == (3, 2)
    assert report["failed"][0]["line"] == 3 and "name" in report["failed"][0]["reason"]
    again = json.loads(run_cli(["import", "customers", str(path), "--integration", pipeline.tenant.name, "--json"],
                               pipeline.settings).output)
    assert (again["applied"], again["skipped"]) == (0, 2)
    clients = simulator.state.accounts[pipeline.tenant.api_key].clients.values()
    assert sorted(c["external_reference"] for c in clients if c["external_reference"] in ("K1", "K3")) == ["K1", "K3"]


def test_import_products_from_json(pipeline, simulator, tmp_path):
    path = tmp_path / "products.json"
    path.write_text(json.dumps([
        {"reference": "CHA", "title": "Chá", "gross_price": "1.20", "tax": "RED", "kind": "goods"},
        {"reference": "AULA", "title": "Aula", "gross_price": "20.00", "tax": "ISE", "kind": "service"},
    ]))
    result = run_cli(["import", "products", str(path), "--integration", pipeline.tenant.name, "--json"],
                     pipeline.settings)
    report = json.loads(result.output)
    assert report["failed"][0]["line"] == 2 and "exemption" in report["failed"][0]["reason"]
    products = simulator.state.accounts[pipeline.tenant.api_key].products.values()
    assert [p["type_id"] for p in products if p["reference"] == "CHA"] == ["P"]


def test_yaml_destinations_are_applied_once_and_undeclared_ones_disabled(pipeline, simulator, monkeypatch):
    from kapta_vendus.integrations.apply import apply_specs
    from kapta_vendus.integrations.spec import parse_specs

    monkeypatch.setenv("K", pipeline.tenant.api_key)
    doc = {"name": pipeline.tenant.name, "vendus": {"api_key_env": "K", "base_url": simulator.base_url},
           "stores": [pipeline.tenant.store_id], "mapping": pipeline.tenant.mapping,
           "destinations": [{"name": "erp", "url": "https://erp.example/hooks", "events": ["document.issued"]}]}
    for expected_secrets in (1, 0):  # applying twice creates once
        specs = parse_specs(doc, pipeline.settings, os.environ)
        with pipeline.db.unit_of_work() as session:
            result = apply_specs(session, pipeline.settings, specs, dry_run=False)
        assert len(result.new_secrets) == expected_secrets
    doc["destinations"] = []
    with pipeline.db.unit_of_work() as session:
        apply_specs(session, pipeline.settings, parse_specs(doc, pipeline.settings, os.environ), dry_run=False)
        (row,) = session.scalars(select(Destination)).all()
        assert (row.status, row.disabled_reason) == ("disabled", "no longer declared")


def test_an_email_given_up_on_is_alerted_once(pipeline, envelopes, emails_enqueued, monkeypatch):
    from kapta_vendus.db.models import Alert
    from kapta_vendus.destinations import alerts
    from kapta_vendus.email.sender import MAX_ATTEMPTS

    sent = []
    monkeypatch.setattr(alerts, "send_alert", lambda config, kind, title, body: sent.append((kind, title, body)))
    set_config(pipeline, email={"by": "service"}, notifications={"channels": [{"url": "json://127.0.0.1:9"}]})
    settings = pipeline.settings.replace(smtp_url="smtp://127.0.0.1:9", delivery_backoff=0.001)
    sale(pipeline, envelopes, "E-4")
    (email_id,) = emails_enqueued
    outcomes = []
    for _ in range(MAX_ATTEMPTS):
        with pipeline.db.unit_of_work() as session:  # due now: the test does not wait out the backoff
            session.get(CustomerEmail, email_id).next_attempt_at = session.get(CustomerEmail, email_id).created_at
        outcomes.append(send_email(pipeline.db, settings, email_id))
    assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert send_email(pipeline.db, settings, email_id) == "nothing to do"
    assert [kind for kind, _, _ in sent] == ["email_failed"] and "maria@" not in sent[0][2]
    with pipeline.db.unit_of_work() as session:
        assert session.scalars(select(Alert.kind).where(Alert.kind == "email_failed")).all() == ["email_failed"]
