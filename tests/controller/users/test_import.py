"""Users CSV import: the file's rules, conflicts the administrator resolves, all or nothing."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.outbox import service as outbox
from bodyworn.controller.users import csvfile
from tests.controller.users.conftest import _h, queued

BOM = b"\xef\xbb\xbf"


def csv_bytes(*lines: str, bom: bool = False) -> bytes:
    """A CSV file from lines (CRLF, as spreadsheets write)."""
    return (BOM if bom else b"") + ("\r\n".join(lines) + "\r\n").encode("utf-8")


def api_import(client: TestClient, csrf: str, raw: bytes, **params: object):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/users/import", params=params, content=raw,
                       headers={**_h(csrf), "Content-Type": "text/csv"})


def total(client: TestClient) -> int:
    return int(client.get("/api/v1/users").json()["total"])


def issues(r) -> list[tuple[int | None, str]]:  # type: ignore[no-untyped-def]
    return [(i["row"], i["field"]) for i in r.json()["issues"]]


def test_template_is_what_the_importer_reads(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    r = client.get("/users/import/template.csv")
    assert r.status_code == 200 and r.content.startswith(BOM)
    assert "attachment" in r.headers["content-disposition"]
    header = r.content[3:].decode().splitlines()[0]
    assert header == "name,user_id,camera_profile"  # this CD takes no user names
    report = api_import(client, csrf, r.content).json()
    assert report["can_import"] and report["new"] == 1


def test_template_has_the_cd_username_when_supported(full_cd: tuple[TestClient, str]) -> None:
    client, _ = full_cd
    header = client.get("/users/import/template.csv").content[3:].decode().splitlines()[0]
    assert header == "name,user_id,cd_username,camera_profile"


@pytest.mark.parametrize("bom", [True, False])
def test_import_with_or_without_bom(ctx: ControllerContext, logged_in: tuple[TestClient, str],
                                    bom: bool) -> None:
    client, csrf = logged_in
    raw = csv_bytes("Name,User ID,Camera profile", "Åsa Öberg,Å1,group 2 - LONG shifts",
                    '"Berg, Kim",K2,', bom=bom)
    report = api_import(client, csrf, raw).json()
    assert report["can_import"] and report["new"] == 2 and total(client) == 0
    done = api_import(client, csrf, raw, commit="true")
    assert done.status_code == 200 and done.json() == {"created": 2, "updated": 0, "skipped": 0,
                                                       "unchanged": 0}
    users = {u["user_id"]: u for u in client.get("/api/v1/users").json()["users"]}
    assert users["Å1"]["name"] == "Åsa Öberg"
    assert users["Å1"]["profile_name"] == "Group 2 - long shifts"
    assert users["K2"]["name"] == "Berg, Kim" and users["K2"]["profile_name"] == "Default"
    assert sorted(ref for ref, action, _ in queued(ctx) if action == "upsert") == sorted(
        u["id"] for u in users.values())
    audit = client.get("/api/v1/audit").json()[0]
    assert audit["action"] == "user.import" and audit["detail"].startswith("2 created")
    # The same file again: everything unchanged, nothing queued.
    again = api_import(client, csrf, raw, commit="true").json()
    assert again == {"created": 0, "updated": 0, "skipped": 0, "unchanged": 2}
    assert len(queued(ctx)) == 2


def test_bad_encoding_names_the_line(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    raw = "name,user_id,camera_profile\r\nOla,O1,\r\nÖrjan,O2,\r\n".encode("latin-1")
    r = api_import(client, csrf, raw, commit="true")
    assert r.status_code == 422 and issues(r) == [(3, "encoding")]
    assert "UTF-8" in r.json()["issues"][0]["message"]
    r = api_import(client, csrf, b"name,user_id,camera_profile\r\nA\x00,B,\r\n")
    assert issues(r) == [(2, "encoding")]
    assert total(client) == 0


@pytest.mark.parametrize(("header", "message"), [
    ("name,camera_profile", "missing column: user_id"),
    ("name;user_id;camera_profile", "separated by ';'"),
    ("name,user_id,camera_profile,shoe_size", "unknown column 'shoe_size'"),
    ("name,user_id,camera_profile,Name", "column 'name' appears more than once"),
])
def test_bad_columns(logged_in: tuple[TestClient, str], header: str, message: str) -> None:
    client, csrf = logged_in
    r = api_import(client, csrf, csv_bytes(header, "A,B,C"), commit="true")
    assert r.status_code == 422
    assert any(message in i["message"] and i["field"] == "columns" for i in r.json()["issues"])
    assert total(client) == 0


def test_empty_file(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    r = api_import(client, csrf, b"")
    assert r.status_code == 422 and issues(r) == [(None, "columns")]


def test_every_row_issue_is_numbered_and_nothing_is_written(
    ctx: ControllerContext, logged_in: tuple[TestClient, str],
) -> None:
    client, csrf = logged_in
    raw = csv_bytes(
        "name,user_id,camera_profile",
        "Good,G1,Default",                  # 2
        "Dup,D1,",                          # 3
        ",E1,",                             # 4: no name
        "Dup again,D1,",                    # 5: duplicate of row 3
        "Unknown,U1,Night shift",           # 6: no such profile
        "Too,many,fields,here",             # 7
        "",                                 # 8: blank lines are skipped
        '"Multi',                           # 9-10: a quoted field spanning two lines
        'line",M1,',
        "Long," + "x" * 33 + ",",           # 11
    )
    r = api_import(client, csrf, raw, commit="true")
    assert r.status_code == 422
    assert issues(r) == [(4, "name"), (5, "user_id"), (6, "camera_profile"), (7, "row"),
                         (11, "user_id")]
    assert "row 3" in r.json()["issues"][1]["message"]
    assert "Night shift" in r.json()["issues"][2]["message"]
    assert total(client) == 0 and queued(ctx) == []
    audit = client.get("/api/v1/audit").json()[0]
    assert audit["action"] == "user.import" and audit["outcome"] == "failure"


def test_cd_username_in_a_file_for_a_cd_without_user_names(
    logged_in: tuple[TestClient, str],
) -> None:
    client, csrf = logged_in
    raw = csv_bytes("name,user_id,cd_username,camera_profile", "A,A1,a@example.org,",
                    "B,B1,,")
    r = api_import(client, csrf, raw)
    assert issues(r) == [(2, "cd_username")]


def test_conflicts_must_be_resolved_through_the_api(
    ctx: ControllerContext, full_cd: tuple[TestClient, str],
) -> None:
    client, csrf = full_cd
    for uid in ("C1", "C2", "C3"):
        client.post("/api/v1/users", headers=_h(csrf), json={"name": f"Old {uid}",
                                                             "user_id": uid})
    before = len(queued(ctx))
    raw = csv_bytes("name,user_id,cd_username,camera_profile",
                    "Old C1,C1,c1@example.org,Group 1 - maximum quality",
                    "Old C2,C2,,Group 2 - long shifts",
                    "New C3,C3,,",
                    "Fresh,F1,,")
    report = api_import(client, csrf, raw).json()
    assert report["can_import"] and report["new"] == 1
    conflicts = {c["user_id"]: c for c in report["conflicts"]}
    assert conflicts["C1"]["changes"] == ["camera_profile", "cd_username"]
    assert conflicts["C2"]["changes"] == ["camera_profile"]
    assert conflicts["C3"]["changes"] == ["name"] and conflicts["C3"]["row"] == 4
    r = api_import(client, csrf, raw, commit="true", update=["C1"])
    assert r.status_code == 409 and sorted(r.json()["unresolved"]) == ["C2", "C3"]
    assert total(client) == 3 and len(queued(ctx)) == before
    r = api_import(client, csrf, raw, commit="true", update=["C1", "C3"], on_conflict="skip")
    assert r.json() == {"created": 1, "updated": 2, "skipped": 1, "unchanged": 0}
    users = {u["user_id"]: u for u in client.get("/api/v1/users").json()["users"]}
    assert users["C1"]["profile_name"] == "Group 1 - maximum quality"
    assert users["C1"]["cd_username"] == "c1@example.org"
    assert users["C2"]["profile_name"] == "Default"  # skipped
    assert users["C3"]["name"] == "New C3"
    refs = [ref for ref, _, _ in queued(ctx)[before:]]
    # C1's CD user name and C3's name reach the CD; F1 is new.
    assert sorted(refs) == sorted([users["C1"]["id"], users["C3"]["id"], users["F1"]["id"]])


def _pending_token(html: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_status_view_and_resolution_through_the_pages(
    ctx: ControllerContext, logged_in: tuple[TestClient, str],
) -> None:
    client, csrf = logged_in
    assert "CSV UTF-8" in client.get("/users/import").text
    client.post("/api/v1/users", headers=_h(csrf), json={"name": "Old", "user_id": "X1"})
    client.post("/api/v1/users", headers=_h(csrf), json={"name": "Keep", "user_id": "X2"})
    raw = csv_bytes("name,user_id,camera_profile", "Renamed,X1,", "Changed,X2,",
                    "Brand new,X3,", bom=True)
    r = client.post("/users/import", data={"csrf_token": csrf},
                    files={"csv_file": ("users.csv", raw, "text/csv")})
    assert r.status_code == 200 and "import-conflicts" in r.text
    assert 'name="resolution_2"' in r.text and 'name="resolution_3"' in r.text
    token = _pending_token(r.text)
    assert total(client) == 2  # nothing written before the import is confirmed
    r = client.post("/users/import/commit", data={"csrf_token": csrf, "token": token,
                                                  "resolution_2": "update"})
    assert r.status_code == 409 and 'id="unresolved"' in r.text and total(client) == 2
    r = client.post("/users/import/commit", data={"csrf_token": csrf, "token": token,
                                                  "resolution_2": "update",
                                                  "resolution_3": "skip"},
                    follow_redirects=False)
    assert r.status_code == 303
    done = client.get(r.headers["location"]).text
    assert "Import finished" in done
    names = {u["user_id"]: u["name"] for u in client.get("/api/v1/users").json()["users"]}
    assert names == {"X1": "Renamed", "X2": "Keep", "X3": "Brand new"}
    # The pending file is gone once imported.
    r = client.post("/users/import/commit", data={"csrf_token": csrf, "token": token})
    assert r.status_code == 410


def test_page_upload_with_issues_shows_rows_and_offers_no_import(
    logged_in: tuple[TestClient, str],
) -> None:
    client, csrf = logged_in
    raw = csv_bytes("name,user_id,camera_profile", "A,Z1,", "B,Z1,")
    r = client.post("/users/import", data={"csrf_token": csrf},
                    files={"csv_file": ("u.csv", raw, "text/csv")})
    assert r.status_code == 400 and "import-issues" in r.text and "row 2" in r.text
    assert 'id="import-commit"' not in r.text
    assert 'name="token"' not in r.text  # a file to fix is not offered for import
    r = client.post("/users/import", data={"csrf_token": csrf})
    assert r.status_code == 400


def test_pending_import_belongs_to_its_uploader(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    r = client.post("/users/import/commit", data={"csrf_token": csrf, "token": "guessed"})
    assert r.status_code == 410


def test_failure_during_import_leaves_nothing(
    ctx: ControllerContext, logged_in: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, csrf = logged_in
    raw = csv_bytes("name,user_id,camera_profile", *[f"U{i},U{i}," for i in range(50)])

    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(outbox, "enqueue_many", broken)
    with pytest.raises(RuntimeError):
        api_import(client, csrf, raw, commit="true")
    monkeypatch.undo()
    assert total(client) == 0 and queued(ctx) == []
    assert api_import(client, csrf, raw, commit="true").json()["created"] == 50


def test_a_user_created_meanwhile_becomes_a_conflict(
    logged_in: tuple[TestClient, str],
) -> None:
    client, csrf = logged_in
    raw = csv_bytes("name,user_id,camera_profile", "Late,L1,")
    r = client.post("/users/import", data={"csrf_token": csrf},
                    files={"csv_file": ("u.csv", raw, "text/csv")})
    token = _pending_token(r.text)
    client.post("/api/v1/users", headers=_h(csrf), json={"name": "Early", "user_id": "L1"})
    r = client.post("/users/import/commit", data={"csrf_token": csrf, "token": token})
    assert r.status_code == 409 and 'name="resolution_2"' in r.text
    names = [u["name"] for u in client.get("/api/v1/users").json()["users"]]
    assert names == ["Early"]


def test_parser_limits() -> None:
    parsed = csvfile.parse(b"x" * (csvfile.MAX_BYTES + 1), cd_username_supported=False)
    assert parsed.issues[0].field == "file"
    parsed = csvfile.parse(b'name,user_id,camera_profile\r\n"unterminated,A1,\r\n',
                           cd_username_supported=False)
    assert parsed.issues and parsed.issues[0].field == "row"


def test_many_rows_create_then_update(ctx: ControllerContext,
                                      logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    n = 1_200  # more than one IN (...) chunk of existing user IDs
    first = csv_bytes("name,user_id,camera_profile", *[f"N{i},ID{i},Default" for i in range(n)])
    assert api_import(client, csrf, first, commit="true").json()["created"] == n
    second = csv_bytes("name,user_id,camera_profile",
                       *[f"M{i},ID{i},Group 2 - long shifts" for i in range(n)])
    report = api_import(client, csrf, second).json()
    assert len(report["conflicts"]) == n and report["new"] == 0
    done = api_import(client, csrf, second, commit="true", on_conflict="update").json()
    assert done == {"created": 0, "updated": n, "skipped": 0, "unchanged": 0}
    page = client.get("/api/v1/users", params={"q": "M1199"}).json()["users"]
    assert page[0]["profile_name"] == "Group 2 - long shifts"
    assert len(queued(ctx)) == 2 * n


def test_openapi_documents_the_twins(logged_in: tuple[TestClient, str]) -> None:
    client, _ = logged_in
    spec = client.get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/profiles"])
    assert {"get", "put", "delete"} <= set(paths["/api/v1/profiles/{profile_id}"])
    assert {"get", "post"} <= set(paths["/api/v1/users"])
    assert {"get", "put", "delete"} <= set(paths["/api/v1/users/{user_uuid}"])
    body = paths["/api/v1/users/import"]["post"]["requestBody"]["content"]
    assert "text/csv" in body
