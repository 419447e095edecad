"""A whole controller on PostgreSQL: migrations, setup, login, the audit chain."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.app import build_context, create_app
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.settings import ControllerSettings
from tests.store.backends import to_base

PG_URL = os.environ.get("BODYWORN_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(
    not PG_URL,
    reason="no PostgreSQL server at hand: set BODYWORN_TEST_DATABASE_URL "
    "(CI starts one with scripts/start-postgres.sh)",
)


@pytest.fixture
def pg_ctx(tmp_path: Path) -> Iterator[ControllerContext]:
    assert PG_URL is not None
    to_base(PG_URL)
    ctx = build_context(ControllerSettings(data_dir=tmp_path / "d", database_url=PG_URL))
    try:
        yield ctx
    finally:
        ctx.engine.dispose()
        to_base(PG_URL)


def test_controller_runs_on_postgresql(pg_ctx: ControllerContext) -> None:
    from tests.controller.conftest import login, set_up

    set_up(pg_ctx)
    with TestClient(create_app(pg_ctx), base_url="https://testserver") as client:
        login(client)
        info = client.get("/api/v1/system").json()
        assert info["system_name"] == "North precinct"
        audit = client.get("/api/v1/audit").json()
        assert [a["action"] for a in audit] == ["login", "setup.completed"]
        assert client.get("/api/v1/audit/verify").json()["ok"] is True
    assert not (pg_ctx.settings.data_dir / "bodyworn.db").exists()
