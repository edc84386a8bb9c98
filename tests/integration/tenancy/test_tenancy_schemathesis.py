"""schemathesis against the committed OpenAPI document (docs/openapi.json), in-process over WSGI.

Every operation of the admin API and the receiver is called with generated data, on a database
that holds real integrations and events. Each generated case is sent as generated, then again
with the path ids of a real integration and event, so that the handlers behind the 404s are
exercised too. The checks: no 5xx, status codes and content types that the document declares,
bodies and headers that conform to it, and secured operations refusing a missing token.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tenancy_testkit import sale_envelope

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
OPERATIONS = [(path, method) for path, item in json.loads(COMMITTED.read_text())["paths"].items()
              for method in item if method in ("get", "post", "put", "patch", "delete")]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, ignored_auth]


@pytest.fixture
def api_world(world):
    done = world.process(world.a, sale_envelope(world.a.store_id))
    world.process(world.a, sale_envelope(world.a.store_id, method="voucher"))  # a rejected one
    world.process(world.b, sale_envelope(world.b.store_id))
    world.admin_token = world.token("admin")
    world.real_event = done
    return world


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_the_api_conforms_to_its_committed_document(api_world, path, method, mode):
    schema = schemathesis.openapi.from_path(COMMITTED)
    schema.app = api_world.client.application
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {api_world.admin_token}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def conforms(case):
        case.call_and_validate(headers=headers, checks=CHECKS)
        if case.path_parameters:
            if "integration_id" in case.path_parameters:
                case.path_parameters["integration_id"] = api_world.a.id
            if "event_id" in case.path_parameters:
                case.path_parameters["event_id"] = api_world.real_event
            case.call_and_validate(headers=headers, checks=CHECKS)

    conforms()
