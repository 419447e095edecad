"""Users: create, edit, remove; the content destination outbox and the audit log."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.context import ControllerContext
from tests.controller.users.conftest import _h, queued


def test_create_through_api_queues_and_audits(ctx: ControllerContext,
                                              logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    r = client.post("/api/v1/users", headers=_h(csrf), json={"name": "  Alex   Berg ",
                                                             "user_id": "AB12"})
    assert r.status_code == 201, r.text
    u = r.json()
    assert u["name"] == "Alex Berg" and u["profile_name"] == "Default" and len(u["id"]) == 36
    assert queued(ctx) == [(u["id"], "upsert", {"active": True, "name": "Alex Berg",
                                                "user_id": "AB12", "cd_username": None})]
    audit = client.get("/api/v1/audit").json()[0]
    assert audit["action"] == "user.create" and "AB12" in audit["detail"]
    assert client.get(f"/api/v1/users/{u['id']}").json() == u
    listed = client.get("/api/v1/users", params={"q": "ab1"}).json()
    assert listed["total"] == 1 and listed["users"][0]["id"] == u["id"]


def test_user_changes_are_published(ctx: ControllerContext,
                                    logged_in: tuple[TestClient, str]) -> None:
    from bodyworn.controller.events import UserChanged

    client, csrf = logged_in
    heard: list[UserChanged] = []
    ctx.events.subscribe(UserChanged, heard.append)
    u = client.post("/api/v1/users", headers=_h(csrf), json={"name": "Alex Berg"}).json()
    client.put(f"/api/v1/users/{u['id']}", headers=_h(csrf), json={"name": "Alex Bergh"})
    client.delete(f"/api/v1/users/{u['id']}", headers=_h(csrf))
    assert heard == [UserChanged(u["id"], "created"), UserChanged(u["id"], "updated"),
                     UserChanged(u["id"], "removed")]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "", "user_id": "X"}, "name"),
    ({"name": "N", "user_id": "x" * 33}, "user_id"),
    ({"name": "N", "user_id": "åäöåäöåäöåäöåäöåäö"}, "user_id"),  # 18 chars, 36 bytes
    ({"name": "N", "user_id": "a/b"}, "user_id"),
    ({"name": "N", "user_id": "a\tb"}, "user_id"),
    ({"name": "N", "user_id": "DUP"}, "user_id"),
    ({"name": "N", "profile_id": 999}, "profile_id"),
    ({"name": "N", "cd_username": "a@example.org"}, "cd_username"),  # CD takes no user names
    ({"name": "N", "surname": "x"}, "surname"),
])
def test_bad_user_fields_are_named_and_nothing_written(
    ctx: ControllerContext, logged_in: tuple[TestClient, str], body: dict[str, object],
    field: str,
) -> None:
    client, csrf = logged_in
    client.post("/api/v1/users", headers=_h(csrf), json={"name": "First", "user_id": "DUP"})
    r = client.post("/api/v1/users", headers=_h(csrf), json=body)
    assert r.status_code == 422
    assert field in [d["field"] for d in r.json()["detail"]]
    assert client.get("/api/v1/users").json()["total"] == 1
    assert len(queued(ctx)) == 1


def test_user_id_may_be_empty_for_several_users(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    for name in ("One", "Two"):
        r = client.post("/api/v1/users", headers=_h(csrf), json={"name": name, "user_id": ""})
        assert r.status_code == 201 and r.json()["user_id"] is None


def test_cd_username_only_when_supported_and_never_changed(
    ctx: ControllerContext, full_cd: tuple[TestClient, str],
) -> None:
    client, csrf = full_cd
    assert 'id="cd_username"' in client.get("/users/new").text
    u = client.post("/api/v1/users", headers=_h(csrf), json={
        "name": "Sam", "user_id": "S1", "cd_username": "sam@example.org"}).json()
    assert u["cd_username"] == "sam@example.org"
    r = client.put(f"/api/v1/users/{u['id']}", headers=_h(csrf),
                   json={"cd_username": "other@example.org"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "cd_username"
    same = client.put(f"/api/v1/users/{u['id']}", headers=_h(csrf),
                      json={"cd_username": "sam@example.org", "name": "Samuel"})
    assert same.status_code == 200 and same.json()["name"] == "Samuel"
    page = client.get(f"/users/{u['id']}").text
    assert "cannot be changed" in page and 'name="cd_username"' not in page


def test_cd_username_field_hidden_when_unsupported(logged_in: tuple[TestClient, str]) -> None:
    client, _ = logged_in
    page = client.get("/users/new").text
    assert 'id="cd_username"' not in page
    assert "first 12 characters" in page and "32 bytes" in page


def test_edit_queues_only_what_the_cd_sees(ctx: ControllerContext,
                                          logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    g2 = next(p for p in client.get("/api/v1/profiles").json() if p["name"].startswith("Group 2"))
    u = client.post("/api/v1/users", headers=_h(csrf), json={"name": "Lee", "user_id": "L1"}).json()
    r = client.put(f"/api/v1/users/{u['id']}", headers=_h(csrf), json={"profile_id": g2["id"]})
    assert r.json()["profile_name"] == "Group 2 - long shifts"
    assert len(queued(ctx)) == 1  # a profile change is not the CD's business
    client.put(f"/api/v1/users/{u['id']}", headers=_h(csrf), json={"user_id": "L2"})
    assert queued(ctx)[-1][2]["user_id"] == "L2"
    other = client.post("/api/v1/users", headers=_h(csrf), json={"name": "O", "user_id": "O1"})
    r = client.put(f"/api/v1/users/{u['id']}", headers=_h(csrf), json={"user_id": "O1"})
    assert r.status_code == 422 and other.status_code == 201
    assert client.put("/api/v1/users/nope", headers=_h(csrf), json={}).status_code == 404
    assert [a["action"] for a in client.get("/api/v1/audit").json()[:3]] == [
        "user.create", "user.update", "user.update"]


def test_remove_marks_inactive_at_the_cd(ctx: ControllerContext,
                                         logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    u = client.post("/api/v1/users", headers=_h(csrf), json={"name": "Robin", "user_id": "R1"})
    uid = u.json()["id"]
    page = client.get(f"/users/{uid}")
    assert "Never remove body worn users at the content destination" in page.text
    r = client.post(f"/users/{uid}/remove", data={"csrf_token": csrf})
    assert r.status_code == 400 and "confirm" in r.text
    r = client.post(f"/users/{uid}/remove", data={"csrf_token": csrf, "confirm": "on"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"/api/v1/users/{uid}").status_code == 404
    assert queued(ctx)[-1] == (uid, "deactivate", {"active": False, "name": "Robin",
                                                   "user_id": "R1", "cd_username": None})
    assert client.get("/api/v1/audit").json()[0]["action"] == "user.remove"
    again = client.post("/api/v1/users", headers=_h(csrf), json={"name": "Robin", "user_id": "R1"})
    assert again.status_code == 201 and again.json()["id"] != uid  # a new CD object
    assert client.delete(f"/api/v1/users/{again.json()['id']}", headers=_h(csrf)).status_code == 204
    assert client.delete(f"/api/v1/users/{uid}", headers=_h(csrf)).status_code == 404


def test_pages_add_edit_and_list(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    assert client.get("/users").status_code == 200
    r = client.post("/users", data={"csrf_token": csrf, "name": "", "user_id": "P1"})
    assert r.status_code == 400 and "name-error" in r.text
    r = client.post("/users", data={"csrf_token": csrf, "name": "Pat", "user_id": "P1"},
                    follow_redirects=False)
    assert r.status_code == 303
    uid = r.headers["location"].split("/")[2].split("?")[0]
    r = client.post(f"/users/{uid}", data={"csrf_token": csrf, "name": "Pat Two",
                                           "user_id": "P2", "profile_id": ""})
    assert r.status_code == 200 and "Saved" in r.text
    listing = client.get("/users", params={"q": "pat"}).text
    assert "Pat Two" in listing and "P2" in listing
    assert client.get("/users/not-a-user").status_code == 404
    assert client.post("/users/not-a-user", data={"csrf_token": csrf}).status_code == 404


def test_nav_links_to_users_and_profiles(logged_in: tuple[TestClient, str]) -> None:
    client, _ = logged_in
    html = client.get("/").text
    assert 'href="/users"' in html and 'href="/profiles"' in html
