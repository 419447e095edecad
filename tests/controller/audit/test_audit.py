"""The audit log: entries for actions, a hash chain that catches edits, append-only storage."""

from __future__ import annotations

import csv
import io
import itertools
import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from bodyworn.cli import app
from bodyworn.controller.audit import pages as audit_pages
from bodyworn.controller.audit import words
from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.audit.service import record, verify_chain
from bodyworn.controller.context import ControllerContext
from bodyworn.domain.clock import ManualClock
from tests.controller.conftest import login, set_up
from tests.controller.visible import visible_text

runner = CliRunner()


def actions(ctx: ControllerContext) -> list[tuple[str, str, str]]:
    with ctx.factory() as s:
        return [(e.actor, e.action, e.outcome)
                for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_actions_are_recorded_with_who_what_outcome_and_source(
    ctx: ControllerContext, ready: TestClient
) -> None:
    r = ready.post("/login", data={"username": "root", "password": "wrong password here",
                                   "csrf_token": _csrf(ready)}, follow_redirects=False)
    assert r.status_code == 401
    login(ready)
    got = actions(ctx)
    assert got[0] == ("root", "setup.completed", "success")
    assert ("root", "login", "failure") in got and got[-1] == ("root", "login", "success")
    with ctx.factory() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert last is not None and last.source == "testclient"
        assert last.at == ctx.clock.now()


def _csrf(client: TestClient) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found
    return found.group(1)


def test_chain_holds_and_links(ctx: ControllerContext) -> None:
    set_up(ctx)
    with ctx.factory() as s, s.begin():
        for i in range(5):
            record(s, ctx.clock, actor="root", action=f"test.{i}", detail="ünïcode ✓")
    with ctx.factory() as s:
        report = verify_chain(s)
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert report.ok and report.entries == 6
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(entries))


def test_the_database_refuses_updates_and_deletes(ctx: ControllerContext) -> None:
    set_up(ctx)
    with pytest.raises(Exception, match="append-only"), ctx.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET actor = 'mallory'"))
    with pytest.raises(Exception, match="append-only"), ctx.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry"))


def _tamper(db: Path, sql: str) -> None:
    # Someone with the database file can drop the triggers; the chain still tells.
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER audit_entry_no_update")
        conn.execute("DROP TRIGGER audit_entry_no_delete")
        conn.execute(sql)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("UPDATE audit_entry SET actor = 'mallory' WHERE id = 2", "edited"),
        ("UPDATE audit_entry SET outcome = 'success' WHERE id = 3", "edited"),
        ("DELETE FROM audit_entry WHERE id = 2", "does not link"),
    ],
)
def test_verify_catches_an_edited_or_removed_row(ctx: ControllerContext, sql: str,
                                                  reason: str) -> None:
    set_up(ctx)
    with ctx.factory() as s, s.begin():
        record(s, ctx.clock, actor="root", action="one")
        record(s, ctx.clock, actor="root", action="two", outcome="failure")
        record(s, ctx.clock, actor="root", action="three")
    data_dir = ctx.settings.data_dir
    ok = runner.invoke(app, ["audit", "verify", "--data-dir", str(data_dir)])
    assert ok.exit_code == 0 and "4 entries" in ok.output
    ctx.engine.dispose()
    _tamper(data_dir / "bodyworn.db", sql)
    with ctx.factory() as s:
        report = verify_chain(s)
    assert not report.ok and reason in (report.reason or "")
    bad = runner.invoke(app, ["audit", "verify", "--data-dir", str(data_dir)])
    assert bad.exit_code == 1 and "BROKEN" in bad.output


def test_audit_page_and_api(ctx: ControllerContext, logged_in: tuple[TestClient, str]) -> None:
    client, _ = logged_in
    page = client.get("/audit")
    # Words, not codes; times in the system's zone (set up as Europe/Stockholm).
    assert page.status_code == 200 and "Set up the system" in page.text
    assert "setup.completed" not in visible_text(page.text)
    assert "Logged in" in page.text and " CET" in page.text and "UTC" not in page.text
    assert 'id="chain-ok"' in page.text
    items = client.get("/api/v1/audit").json()
    assert items[0]["action"] == "login" and items[-1]["action"] == "setup.completed"
    assert client.get("/api/v1/audit/verify").json()["ok"] is True


def test_verify_without_a_database_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2 and "No database" in result.output


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-action="([^"]+)"', html)


def test_audit_page_names_users_filters_and_exports(
        ctx: ControllerContext, logged_in: tuple[TestClient, str], clock: ManualClock) -> None:
    client, csrf = logged_in
    made = client.post("/api/v1/users", headers={"X-CSRF-Token": csrf},
                       json={"name": "Anna Berg", "user_id": "officer-1"})
    uuid = made.json()["id"]
    clock.advance(timedelta(days=2))
    with ctx.factory() as s, s.begin():
        record(s, ctx.clock, actor="demo", action="camera.assign", source="demo",
               detail=f"B8A44F000001: nobody -> {uuid}")
        record(s, ctx.clock, actor="root", action="camera.unlock", outcome="denied",
               detail="B8A44F000001: wrong super admin passphrase", source="127.0.0.1")
    login(client)  # the session lapsed in the two days
    page = client.get("/audit").text
    assert "B8A44F000001: nobody → Anna Berg (officer-1)" in page and uuid not in page
    assert "Assigned a camera" in page and "Refused" in page and "The demo" in page

    only = client.get("/audit", params={"action": "camera.assign"}).text
    assert _rows(only) == ["camera.assign"] and 'id="audit-count">1 entry' in only
    by_root = _rows(client.get("/audit", params={"actor": "root"}).text)
    assert set(by_root) == {"camera.unlock", "login", "setup.completed", "user.create"}
    # Days in the system's zone: the entries of two days later only.
    day = (clock.now() + timedelta(hours=1)).date().isoformat()
    later = _rows(client.get("/audit", params={"since": day, "until": day}).text)
    assert later == ["login", "camera.unlock", "camera.assign"]
    before = _rows(client.get("/audit", params={"until": "2026-11-27"}).text)
    assert "camera.assign" not in before and "setup.completed" in before

    export = client.get("/audit.csv", params={"since": day})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(export.text)))
    assert lines[0][:6] == ["entry", "time_utc", "time_local", "who", "action", "what"]
    assert [r[4] for r in lines[1:]] == ["camera.assign", "camera.unlock", "login"]
    assert lines[1][1].endswith("Z") and lines[1][2].endswith(" CET")
    assert lines[1][5] == "Assigned a camera" and lines[2][6] == "denied"

    api = client.get("/api/v1/audit", params={"action": "camera.unlock"}).json()
    assert [i["action"] for i in api] == ["camera.unlock"]
    since = (clock.now() - timedelta(hours=1)).isoformat()
    assert {i["action"] for i in client.get("/api/v1/audit", params={"since": since}).json()
            } == {"camera.assign", "camera.unlock", "login"}


def test_an_action_without_words_is_shown_readable() -> None:
    assert words.action_words("firmware.upload") == "Firmware upload"
    assert words.action_words("camera.assign") == "Assigned a camera"


def test_a_detail_that_looks_like_a_formula_is_exported_as_text() -> None:
    assert audit_pages._safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert audit_pages._safe("B8A44F000001") == "B8A44F000001"
