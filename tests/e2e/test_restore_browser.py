"""Restore and reset against real `bodyworn controller` processes: the restore-key upload in
the wizard and System reset in Chromium, a restore from a backup file that survives a
restart, and a reset that leaves the controller in the wizard across a restart."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from bodyworn.controller.app import build_context
from bodyworn.controller.backup import service as backup
from bodyworn.controller.backup.targets import BackupInbox
from bodyworn.controller.settings import ControllerSettings
from bodyworn.controller.setup import service
from bodyworn.controller.setup.service import Identity
from bodyworn.domain.clock import ManualClock
from tests.controller.backup.data import configure_folder, populate
from tests.controller.conftest import PASSPHRASE, ROOT_PASSWORD, good_answers, set_up
from tests.domain.connection_factory import connection_file_bytes
from tests.e2e.conftest import (
    OPS_PASSWORD,
    Controller,
    _wait_until_answering,
    bodyworn_command,
    browser_login,
    free_port,
)

pytestmark = pytest.mark.e2e

OLD_PASSPHRASE = "Harbour lighthouse passphrase 7"
NEW_ROOT = "Marble-Heron-83-Compass"


@pytest.fixture
def run_controller(tmp_path: Path) -> Iterator[Callable[[Path], Controller]]:
    """Starts `bodyworn controller` on a data directory (stopped at the end)."""
    started: list[Controller] = []

    def start(data_dir: Path) -> Controller:
        port, log = free_port(), tmp_path / f"controller-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*bodyworn_command(), "controller", "--data-dir", str(data_dir),
                 "--host", "127.0.0.1", "--port", str(port)],
                stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
        controller = Controller(f"https://127.0.0.1:{port}", data_dir, process, log)
        started.append(controller)
        _wait_until_answering(controller.url + "/", process, log)
        return controller

    yield start
    for controller in started:
        stop(controller)


def stop(controller: Controller) -> None:
    """SIGTERM, then wait."""
    if controller.process.poll() is None:
        os.killpg(controller.process.pid, signal.SIGTERM)
        controller.process.wait(timeout=20)


def api(controller: Controller, password: str) -> tuple[httpx.Client, dict[str, str]]:
    client = httpx.Client(base_url=controller.url, verify=False, timeout=30)
    r = client.post("/api/v1/session", json={"username": "root", "password": password})
    assert r.status_code == 200, r.text
    return client, {"X-CSRF-Token": r.json()["csrf_token"]}


def _next(page: Page) -> None:
    page.click("#next")


def test_the_wizard_restores_the_identity_from_an_uploaded_key(
        controller: Controller, browser_page: Page, tmp_path: Path,
        run_controller: Callable[[Path], Controller]) -> None:
    page = browser_page
    clock = ManualClock(datetime.now(UTC))
    old = Identity.generate()
    key = tmp_path / "old-restore-key.json"
    key.write_bytes(service.restore_key_bytes(good_answers(
        super_admin_passphrase=OLD_PASSPHRASE, system_name="Harbour"), old, clock))
    page.goto(controller.url + "/")
    page.check("input[name=mode][value=create]")
    _next(page)
    page.fill("#root_password", NEW_ROOT)
    page.fill("#root_password_confirm", NEW_ROOT)
    _next(page)
    page.fill("#super_admin_passphrase", "a passphrase typed for a new system")
    page.fill("#super_admin_passphrase_confirm", "a passphrase typed for a new system")
    _next(page)
    expect(page).to_have_url(f"{controller.url}/setup/restore-key")
    new_id = page.locator("#system-id").inner_text()

    # A wrong passphrase: refused, said plainly, and the step is as it was.
    page.click("#restore summary")
    page.fill("#restore_passphrase", "not the old passphrase at all")
    page.set_input_files("#restore_key_file", str(key))
    page.click("#upload-restore-key")
    expect(page.locator("#restore_key_file-error")).to_contain_text(
        "does not open this System restore key")
    expect(page.locator("#system-id")).to_have_text(new_id)

    # The right passphrase: the old system's identity.
    page.fill("#restore_passphrase", OLD_PASSPHRASE)
    page.set_input_files("#restore_key_file", str(key))
    page.click("#upload-restore-key")
    expect(page).to_have_url(f"{controller.url}/setup/restore-key")
    expect(page.locator("#restored")).to_contain_text(old.system_id)
    expect(page.locator("#system-id")).to_have_text(old.system_id)
    _next(page)
    expect(page.locator("#system_name")).to_have_value("Harbour")
    _next(page)
    _next(page)  # network
    page.check("input[name=time_mode][value=manual]")
    _next(page)
    page.uncheck("#cloud_extensions")
    _next(page)
    connection = tmp_path / "connection.json"
    connection.write_bytes(connection_file_bytes())
    page.set_input_files("#connection_file", str(connection))
    _next(page)
    page.check("input[name=power_line_frequency][value='50']")
    _next(page)
    page.check("input[name=camera_assignment][value=fixed]")
    _next(page)
    expect(page.locator("#summary-restored")).to_contain_text("identity only")
    page.click("#finish")
    expect(page).to_have_url(f"{controller.url}/login?setup=done")
    browser_login(page, controller, NEW_ROOT)
    expect(page.locator("main")).to_contain_text(old.system_id)

    # A restart keeps the restored system (and its passphrase: the old one).
    stop(controller)
    again = run_controller(controller.data_dir)
    client, headers = api(again, NEW_ROOT)
    assert client.get("/api/v1/system").json()["system_id"] == old.system_id
    r = client.post("/support/restore-key", data={"passphrase": OLD_PASSPHRASE,
                                                  "csrf_token": headers["X-CSRF-Token"]})
    assert r.status_code == 200 and old.system_id in r.headers["content-disposition"]


def test_a_backup_restored_unattended_serves_its_users_after_restarts(
        tmp_path: Path, run_controller: Callable[[Path], Controller]) -> None:
    clock = ManualClock(datetime.now(UTC))
    old = build_context(ControllerSettings(data_dir=tmp_path / "old"), clock=clock)
    try:
        set_up(old, system_name="Harbour")
        populate(old)
        configure_folder(old, tmp_path / "target")
        assert backup.run_backup(old).ok
    finally:
        old.engine.dispose()
    inbox = BackupInbox(tmp_path / "target")
    (system_id,) = inbox.systems()
    (tmp_path / "system.bwbackup").write_bytes(inbox.latest(system_id) or b"")
    answers = tmp_path / "answers.toml"
    answers.write_text(f'root_password = "{ROOT_PASSWORD}"\n'
                       f'super_admin_passphrase = "{PASSPHRASE}"\n'
                       'restore_backup = "system.bwbackup"\n')
    data_dir = tmp_path / "restored"
    done = subprocess.run([*bodyworn_command(), "controller", "setup", "--answers",
                           str(answers), "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for _ in range(2):  # and once more after a restart
        controller = run_controller(data_dir)
        client, _ = api(controller, ROOT_PASSWORD)
        assert client.get("/api/v1/system").json()["system_id"] == system_id
        names = {u["name"] for u in client.get("/api/v1/users").json()["users"]}
        assert names == {"Anna Berg", "Björn Ålund"}
        profiles = {p["name"] for p in client.get("/api/v1/profiles").json()}
        assert "Night shift" in profiles
        stop(controller)


def test_system_reset_is_refused_then_done_in_the_browser(
        set_up_process: Callable[..., Controller], browser_page: Page, tmp_path: Path,
        run_controller: Callable[[Path], Controller]) -> None:
    page = browser_page
    controller = set_up_process(cloud=False)
    # This controller keeps another system's backup: the backup extension is not reset.
    other = Identity.generate()
    held = controller.data_dir / "system-backup" / f"{other.system_id}.bwbackup"
    held.parent.mkdir()
    held.write_bytes(b"a backup kept for the main controller")
    browser_login(page, controller)
    page.click("aside nav >> text=Support")
    page.click("text=System reset")
    expect(page.locator("#reset-blockers")).to_contain_text("backup extension cannot be reset")
    page.check("#confirm")
    page.click("#reset-system")
    expect(page.locator("#reset-blockers")).to_contain_text("The system was not reset.")
    expect(page.locator("#reset-blockers")).to_contain_text(other.system_id)

    held.unlink()
    page.goto(controller.url + "/support/reset")
    expect(page.locator("#reset-ready")).to_be_visible()
    page.check("#confirm")
    page.click("#reset-system")
    expect(page).to_have_url(f"{controller.url}/setup/start")
    page.goto(controller.url + "/login")
    expect(page).to_have_url(f"{controller.url}/setup/start")

    # Still the wizard after a restart, and the old password opens nothing.
    stop(controller)
    again = run_controller(controller.data_dir)
    client = httpx.Client(base_url=again.url, verify=False, timeout=30)
    r = client.post("/api/v1/session", json={"username": "root", "password": OPS_PASSWORD})
    assert r.status_code == 503
    assert client.get("/", follow_redirects=False).headers["location"] == "/setup"
