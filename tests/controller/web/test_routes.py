"""The route helper: one transaction per service call, refusals and missing rows as 4xx."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.audit.service import record
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.refusals import FieldsRefused, NotFound, Refused
from bodyworn.controller.setup import steps
from bodyworn.controller.setup.service import FieldError
from bodyworn.controller.setup.wizard import SLUGS
from bodyworn.domain.clock import Clock
from tests.controller.conftest import set_up


def _entries(ctx: ControllerContext) -> int:
    with ctx.factory() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


@pytest.mark.parametrize("keep", [False, True])
def test_a_refusal_rolls_back_unless_it_keeps_what_the_service_wrote(
        ctx: ControllerContext, keep: bool) -> None:
    set_up(ctx)
    before = _entries(ctx)

    def refuse(session: Session, clock: Clock) -> None:
        record(session, clock, actor="root", action="test.refused", outcome="denied")
        raise Refused("no", 403, keep=keep)

    with pytest.raises(Refused) as err:
        asyncio.run(ctx.transact(refuse))
    assert err.value.status == 403
    assert _entries(ctx) == before + (1 if keep else 0)


def test_a_read_writes_nothing(ctx: ControllerContext) -> None:
    set_up(ctx)
    before = _entries(ctx)

    def write_anyway(session: Session) -> str:
        record(session, ctx.clock, actor="root", action="test.read")
        return "read"

    assert asyncio.run(ctx.read(write_anyway)) == "read"
    assert _entries(ctx) == before


def test_refusals_answer_their_status_and_body() -> None:
    fields = FieldsRefused([FieldError("name", "must not be empty")])
    assert (fields.status, fields.body()) == (
        422, {"detail": [{"field": "name", "message": "must not be empty"}]})
    assert NotFound("no user x").status == 404 and isinstance(NotFound(""), LookupError)
    assert Refused("busy").body() == {"detail": "busy"} and Refused("busy").status == 409


def test_a_missing_row_is_json_on_the_api_and_the_error_page_on_pages(
        logged_in: tuple[TestClient, str]) -> None:
    client, _ = logged_in
    api = client.get("/api/v1/users/no-such-uuid")
    assert api.status_code == 404 and api.json() == {"detail": "no user no-such-uuid"}
    page = client.get("/users/no-such-uuid")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "No such user." in page.text


def test_an_uncaught_refusal_is_json_on_the_api(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    r = client.post("/api/v1/system/restore-key", json={"passphrase": "not it"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403 and r.json() == {"detail": "wrong super admin passphrase"}


def test_every_wizard_step_with_a_form_is_in_the_table_in_order() -> None:
    assert tuple(steps.STEPS) == SLUGS[:-1]
    assert [steps.STEPS[s].next for s in steps.STEPS] == list(SLUGS[1:])
