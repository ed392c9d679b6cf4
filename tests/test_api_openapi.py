"""OpenAPI matches what the server does: a property-based run (schemathesis, bounded examples)
against a live `tessera api` finds no 5xx, no undocumented status or content type, and no
response that breaks its documented schema."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api import Api

# Per operation: ~200 requests in all, every documented operation (but the endless /events) tried;
# 30 took twice as long (28.9 s against 14.7 s, load 3) for the same operations.
EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_generated_requests_get_only_documented_answers(api: Api) -> None:
    import httpx

    with api.client(api.agent) as agent:  # something to find, change and reply to
        for i in range(3):
            agent.post("/tickets", json={"queue": "General", "subject": f"seed {i}", "body": "x"})
    schema = schemathesis.openapi.from_url(f"{api.base}/openapi.json")
    auth = {"Authorization": f"Bearer {api.root}"}
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/events":
            continue  # an endless stream: tested in test_api_http
        tried.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=api.base, headers=auth, checks=CHECKS)

        run()
    assert len(tried) >= 18, tried
    assert httpx.get(f"{api.base}/health").json()["status"] == "ok", "the server survived"
    print(f"openapi: {len(tried)} operations x up to {EXAMPLES} generated requests, no failure")
