"""Settings → System backup and its API: configure, back up now, targets the cluster lists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bodyworn.controller.backup import targets
from bodyworn.controller.backup.targets import BackupInbox, ControllerTarget, LocalTransport
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.system import service as system
from tests.controller.conftest import PASSPHRASE


@pytest.fixture
def extension(tmp_path: Path) -> Iterator[Path]:
    """An "extension controller" the cluster would list: its data directory here."""
    data_dir = tmp_path / "extension-data"
    data_dir.mkdir()
    target = ControllerTarget("extension:harbour-2", "Harbour-2", LocalTransport(data_dir))
    unregister = targets.register(lambda _ctx: [target])
    yield data_dir
    unregister()


def test_configure_and_back_up_now_through_the_pages(
        logged_in: tuple[TestClient, str], tmp_path: Path) -> None:
    client, csrf = logged_in
    page = client.get("/settings/backup")
    assert page.status_code == 200 and 'id="backup-off"' in page.text
    form = client.get("/settings/backup/configure").text
    assert "no extension system controllers yet" in form
    r = client.post("/settings/backup/configure", data={
        "csrf_token": csrf, "kind": "folder", "folder": str(tmp_path), "interval_hours": "12",
        "passphrase": "wrong wrong wrong"}, follow_redirects=False)
    assert r.status_code == 403 and "passphrase is wrong" in r.text
    r = client.post("/settings/backup/configure", data={
        "csrf_token": csrf, "kind": "folder", "folder": "not/absolute", "interval_hours": "12",
        "passphrase": PASSPHRASE}, follow_redirects=False)
    assert r.status_code == 400 and "absolute path" in r.text
    r = client.post("/settings/backup/configure", data={
        "csrf_token": csrf, "kind": "folder", "folder": str(tmp_path), "interval_hours": "12",
        "passphrase": PASSPHRASE}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/settings/backup").text
    assert f"Folder {tmp_path}" in page and "12 hours" in page
    r = client.post("/settings/backup/run", data={"csrf_token": csrf})
    assert r.status_code == 200 and "The backup was sent." in r.text
    assert len(BackupInbox(tmp_path).systems()) == 1


def test_the_api_configures_an_extension_and_reports_a_failed_send(
        logged_in: tuple[TestClient, str], extension: Path, ctx: ControllerContext) -> None:
    client, csrf = logged_in
    h = {"X-CSRF-Token": csrf}
    state = client.get("/api/v1/backup").json()
    assert state["configured"] is False and state["choices"] == {"extension:harbour-2":
                                                                 "Harbour-2"}
    r = client.put("/api/v1/backup", headers=h, json={"target": "extension:harbour-2",
                                                       "interval_hours": 24,
                                                       "passphrase": PASSPHRASE})
    assert r.status_code == 200, r.text
    assert r.json()["configured"] and r.json()["target"] == "extension:harbour-2"
    assert "Harbour-2" in client.get("/settings/backup").text
    r = client.post("/api/v1/backup/run", headers=h)
    assert r.status_code == 200 and r.json()["ok"], r.text
    assert BackupInbox(extension).systems() == [ctx_system_id(ctx)]
    # The extension leaves the system: the next backup fails, and says why.
    targets._listers.clear()
    r = client.post("/api/v1/backup/run", headers=h)
    assert r.status_code == 200 and not r.json()["ok"]
    assert "not part of the system" in r.json()["detail"]
    state = client.get("/api/v1/backup").json()
    assert state["failing"] and "not part of the system" in state["last_error"]
    issues = client.get("/api/v1/dashboard").json()["issues"]
    assert any(i["kind"] == "backup_failed" for i in issues)
    r = client.put("/api/v1/backup", headers=h, json={"target": "folder:/no/such/folder",
                                                       "passphrase": PASSPHRASE})
    assert r.status_code == 422


def test_backing_up_before_configuring_is_refused(logged_in: tuple[TestClient, str]) -> None:
    client, csrf = logged_in
    r = client.post("/api/v1/backup/run", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409 and "not configured" in r.json()["detail"]


def ctx_system_id(ctx: ControllerContext) -> str:
    with ctx.factory() as session:
        return system.current(session).system_id
