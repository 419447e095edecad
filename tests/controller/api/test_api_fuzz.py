"""Fuzz every REST operation from the OpenAPI document: no input makes the server fail (5xx)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from bodyworn.controller.app import build_context, create_app
from bodyworn.controller.settings import ControllerSettings
from bodyworn.domain.clock import ManualClock
from tests.controller.conftest import login, set_up


@pytest.fixture(scope="module")
def api_client() -> Iterator[tuple[TestClient, str]]:
    """A set-up controller with a logged-in API session, shared by the fuzz cases."""
    with TemporaryDirectory() as tmp:
        ctx = build_context(ControllerSettings(data_dir=Path(tmp)),
                            clock=ManualClock(datetime(2026, 11, 27, 8, tzinfo=UTC)))
        set_up(ctx)
        client = TestClient(create_app(ctx), base_url="https://testserver")
        csrf = login(client)
        yield client, csrf
        ctx.engine.dispose()


# Logging out or changing the password would end the shared session; they have their own tests.
SKIP = {("DELETE", "/api/v1/session"), ("POST", "/api/v1/account/password")}


def test_no_input_makes_the_api_fail(api_client: tuple[TestClient, str]) -> None:
    client, csrf = api_client
    schema = schemathesis.openapi.from_dict(client.get("/api/v1/openapi.json").json())
    tried: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        tried.append(f"{operation.method.upper()} {operation.path}")

        # pytest 9 and schemathesis's pytest plugin disagree; drive Hypothesis directly.
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            kwargs = case.as_transport_kwargs(base_url="https://testserver",
                                              headers={"X-CSRF-Token": csrf})
            kwargs.pop("cookies", None)
            response = client.request(**kwargs)
            assert response.status_code < 500, (case.method, case.path, response.text[:500])

        check()
    assert len(tried) >= 10, tried
