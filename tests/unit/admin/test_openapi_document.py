"""The committed OpenAPI document (docs/openapi.json) is exactly what the code generates.

Regenerate it after changing an endpoint or schema: ``kapta-vendus openapi --output docs/openapi.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from kapta_vendus.admin import spec_json
from kapta_vendus.web import create_app

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_committed_openapi_document_is_the_generated_one(settings):
    generated = spec_json(create_app(settings))

    assert COMMITTED.read_text() == generated, (
        "docs/openapi.json is stale: run `kapta-vendus openapi --output docs/openapi.json`")


def test_it_describes_the_admin_api_and_the_receiver(settings):
    spec = json.loads(COMMITTED.read_text())

    assert spec["openapi"] == "3.0.3"
    assert {"/admin/v1/integrations", "/admin/v1/integrations/{integration_id}/events/{event_id}/replay",
            "/v1/integrations/{integration_id}/events"} <= set(spec["paths"])
    receiver = spec["paths"]["/v1/integrations/{integration_id}/events"]["post"]
    assert receiver["security"] == [] and set(receiver["responses"]) >= {"202", "200", "400", "401", "404"}
    admin = spec["paths"]["/admin/v1/integrations/{integration_id}/events"]["get"]
    assert admin["security"] == [{"bearerAuth": []}]


def test_no_schema_has_a_field_for_a_secret(settings):
    text = COMMITTED.read_text().lower()
    for word in ("api_key_enc", "secret_enc", "token_hash", '"password"'):
        assert word not in text


def test_the_cli_prints_the_same_document(tmp_path):
    from click.testing import CliRunner

    from kapta_vendus.cli import main
    from kapta_vendus.config import set_settings

    set_settings(None)
    result = CliRunner().invoke(main, ["openapi"], env={"KAPTA_DATA_DIR": str(tmp_path), "KAPTA_LOG_LEVEL": "WARNING"})

    assert result.exit_code == 0, result.output
    assert result.output == COMMITTED.read_text()
