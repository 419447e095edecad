"""The manager's side of Assistant pairing: pages, the pairing sheet, the API, the audit."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.users import service as users
from bodyworn.domain.clock import ManualClock
from bodyworn.wireless.pairing import PairingCode
from tests.controller.conftest import login


def _user(ctx: ControllerContext) -> str:
    with ctx.factory() as session, session.begin():
        return users.create(session, ctx.clock, name="Officer Seventeen",
                            user_id="officer-17", actor="test", source="test").uuid


def _start(client: TestClient, csrf: str, uuid: str, mode: str) -> str:
    r = client.post(f"/users/{uuid}/assistant/pair", data={"mode": mode, "csrf_token": csrf},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def _audit(ctx: ControllerContext) -> str:
    with ctx.factory() as session:
        return "\n".join(f"{e.action} {e.detail}" for e in session.scalars(select(AuditEntry)))


def test_local_pairing_shows_the_qr_code_and_pin(ctx: ControllerContext, clock: ManualClock,
                                                 logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    uuid = _user(ctx)
    assert 'id="pair-assistant"' in client.get(f"/users/{uuid}/equipment").text
    assert 'id="mode-local"' in client.get(f"/users/{uuid}/assistant/pair").text
    page = client.get(_start(client, csrf, uuid, "local"))
    assert page.status_code == 200
    assert re.search(r'<figure class="qr" id="pairing-qr"[^>]*><svg', page.text)
    pin = re.search(r'id="pairing-pin">(\d{6})<', page.text)
    text = re.search(r'id="pairing-text">([^<]+)<', page.text)
    assert pin and text
    code = PairingCode.parse(text.group(1))
    equipment = client.get(f"/users/{uuid}/equipment").text
    assert f'id="assistant-{code.pairing_id}"' in equipment and "Waiting for the user" in equipment
    # Neither the secret nor the PIN reaches the audit log.
    audit = _audit(ctx)
    assert "assistant.pair.start" in audit
    assert pin.group(1) not in audit and code.secret_text not in audit
    # After 24 hours the code is gone from the page.
    clock.advance(timedelta(hours=25))
    login(client)  # the manager's session timed out meanwhile
    later = client.get(f"/users/{uuid}/assistant/{code.pairing_id}").text
    assert "pairing-pin" not in later and "Expired" in later and "Start a new pairing" in later


def test_remote_pairing_gives_a_sheet_without_the_pin(ctx: ControllerContext,
                                                      logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    uuid = _user(ctx)
    location = _start(client, csrf, uuid, "remote")
    page = client.get(location).text
    pin = re.search(r'id="pairing-pin">(\d{6})<', page)
    assert pin and 'id="download-sheet"' in page and "pairing-qr" not in page
    sheet = client.get(f"{location}/sheet")
    assert sheet.status_code == 200
    assert sheet.headers["content-disposition"].startswith("attachment")
    assert sheet.headers["cache-control"] == "no-store"
    assert "<svg" in sheet.text and "BWA1:" in sheet.text
    assert pin.group(1) not in sheet.text


def test_a_new_pairing_replaces_the_pending_one_and_bad_modes_are_refused(
        ctx: ControllerContext, logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    uuid = _user(ctx)
    first = _start(client, csrf, uuid, "local")
    second = _start(client, csrf, uuid, "local")
    assert first != second
    assert client.get(first).status_code == 404
    r = client.post(f"/users/{uuid}/assistant/pair", data={"mode": "carrier pigeon",
                                                           "csrf_token": csrf})
    assert r.status_code == 422 and "Choose Local pairing or Remote pairing." in r.text
    assert client.get("/users/no-such-user/assistant/pair").status_code == 404


def test_removing_from_the_users_equipment(ctx: ControllerContext,
                                           logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    uuid = _user(ctx)
    pairing_id = _start(client, csrf, uuid, "local").rsplit("/", 1)[1]
    r = client.post(f"/users/{uuid}/equipment/assistant/{pairing_id}/remove",
                    data={"csrf_token": csrf})
    assert r.status_code == 200
    assert f"assistant-{pairing_id}" not in r.text and "The pairing is removed" in r.text
    assert "assistant.pair.remove" in _audit(ctx)
    again = client.post(f"/users/{uuid}/equipment/assistant/{pairing_id}/remove",
                        data={"csrf_token": csrf})
    assert "No such pairing." in again.text


def test_the_api_twin(ctx: ControllerContext, logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    uuid = _user(ctx)
    headers = {"X-CSRF-Token": csrf}
    made = client.post(f"/api/v1/users/{uuid}/assistant-pairings", json={"mode": "remote"},
                       headers=headers)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["state"] == "pending" and body["mode"] == "remote" and len(body["pin"]) == 6
    assert PairingCode.parse(body["qr_text"]).pairing_id == body["pairing_id"]
    listed = client.get(f"/api/v1/users/{uuid}/assistant-pairings").json()
    assert [p["pairing_id"] for p in listed] == [body["pairing_id"]]
    assert "pin" not in listed[0] and "qr_text" not in listed[0]
    url = f"/api/v1/users/{uuid}/assistant-pairings/{body['pairing_id']}"
    assert client.delete(url, headers=headers).status_code == 204
    assert client.delete(url, headers=headers).status_code == 404
    assert client.get("/api/v1/users/nobody/assistant-pairings").status_code == 404
    without_csrf = client.post(f"/api/v1/users/{uuid}/assistant-pairings", json={})
    assert without_csrf.status_code == 403
