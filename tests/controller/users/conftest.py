"""Users fixtures: a system whose content destination takes user names; the outbox as data."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.outbox import service as outbox
from tests.controller.conftest import login, set_up
from tests.domain.connection_factory import connection_file_bytes


def _h(csrf: str) -> dict[str, str]:
    """The header a JSON API call carries its CSRF token in."""
    return {"X-CSRF-Token": csrf}


def queued(ctx: ControllerContext) -> list[tuple[str, str, dict[str, Any]]]:
    """The outbox as (ref, action, payload), oldest first."""
    with ctx.factory() as session:
        return [(r.ref, r.action, outbox.payload_of(r)) for r in outbox.pending(session, 100_000)]


@pytest.fixture
def full_cd(ctx: ControllerContext, client: TestClient) -> tuple[TestClient, str]:
    """Logged in to a system whose content destination takes user names."""
    set_up(ctx, connection_file=connection_file_bytes(FullStoreAndReadSupport=True))
    return client, login(client)
