"""The OpenAPI schema fuzzed by schemathesis against a real server: no request may cause a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

EXAMPLES_PER_OPERATION = 40


def _operations(url: str) -> list:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_is_fuzzed_without_server_errors(live_url: str) -> None:
    operations = _operations(live_url)
    assert len(operations) >= 10
    seen: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def no_5xx(case) -> None:
            response = case.call(base_url=live_url, timeout=60)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
            )

        no_5xx()
        seen.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /v1/jobs" in seen and "POST /v1/verify" in seen


@pytest.fixture(scope="module")
def live_url(_module_server) -> str:
    return _module_server.url
