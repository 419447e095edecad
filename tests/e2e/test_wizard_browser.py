"""The setup wizard and the first manager pages, driven in a real browser against a real process.

Walks the whole wizard (with the mistakes a person makes on the way), logs in, changes the
root password, downloads the System restore key again and opens the wizard's key file with
the command line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from bodyworn.i18n.catalog import translations
from tests.domain.connection_factory import connection_file_bytes
from tests.e2e.conftest import Controller, bodyworn_command
from tests.firmware_factory import make_bundle

pytestmark = pytest.mark.e2e

ROOT_PASSWORD = "Granite-Otter-47-Lantern"
NEW_ROOT_PASSWORD = "Marble-Heron-83-Compass"
PASSPHRASE = "Fjord lighthouse at dawn 2026"
SYSTEM_NAME = "Station North"
TIME_ZONE = "Europe/Stockholm"


def _next(page: Page) -> None:
    page.click("#next")


def _step(page: Page, controller: Controller, slug: str) -> None:
    expect(page).to_have_url(f"{controller.url}/setup/{slug}")


def _login(page: Page, password: str) -> None:
    page.fill("#username", "root")
    page.fill("#password", password)
    page.click("#login")


def _dashboard_time_error(page: Page) -> float:
    """Seconds the dashboard's system time (shown in TIME_ZONE) is off from the real time."""
    shown = page.locator("tr", has_text="System time").locator("td").inner_text()
    local = datetime.strptime(shown[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo(TIME_ZONE))
    return (local - datetime.now(UTC)).total_seconds()


def _inspect(key_file: Path, passphrase: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    passphrase_file = tmp_path / "passphrase.txt"
    passphrase_file.write_text(passphrase + "\n", encoding="utf-8")
    return subprocess.run(
        [*bodyworn_command(), "restore-key", "inspect", str(key_file),
         "--passphrase-file", str(passphrase_file)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )


def test_whole_wizard_then_login_password_and_restore_key(
    controller: Controller, browser_page: Page, tmp_path: Path
) -> None:
    page = browser_page

    # 1. Create or extend; language.
    page.goto(controller.url + "/")
    _step(page, controller, "start")
    expect(page.locator("h1")).to_have_text("Create or extend")
    page.check("input[name=mode][value=create]")
    page.select_option("#language", "en")
    # A firmware file goes with the new system (any version: this is how to go back to an
    # older one); a damaged one is refused with the reason.
    broken = tmp_path / "broken.bwfw"
    broken.write_bytes(make_bundle("9.8.0.0")[:-300])
    page.set_input_files("#firmware", str(broken))
    _next(page)
    _step(page, controller, "start")
    expect(page.locator("#firmware-error")).to_contain_text("incomplete or not a firmware file")
    older = tmp_path / "bodyworn-9.8.0.0.bwfw"
    older.write_bytes(make_bundle("9.8.0.0"))
    page.set_input_files("#firmware", str(older))
    _next(page)

    # 2. Administrator account: a common password is refused, then a good one.
    _step(page, controller, "admin")
    page.fill("#root_password", "password123")
    page.fill("#root_password_confirm", "password123")
    _next(page)
    expect(page.locator("#root_password-error")).to_have_text(
        "is on a list of commonly used passwords"
    )
    expect(page.locator("div.errors[role=alert]")).to_be_visible()
    _step(page, controller, "admin")
    page.fill("#root_password", ROOT_PASSWORD)
    page.fill("#root_password_confirm", ROOT_PASSWORD)
    _next(page)

    # 3. Super admin passphrase, twice.
    _step(page, controller, "passphrase")
    page.fill("#super_admin_passphrase", PASSPHRASE)
    page.fill("#super_admin_passphrase_confirm", PASSPHRASE)
    _next(page)

    # 4. System restore key: Next without the download is refused; then download it.
    _step(page, controller, "restore-key")
    system_id = page.locator("#system-id").inner_text().strip()
    assert system_id
    _next(page)
    expect(page.locator("#restore_key-error")).to_have_text(
        "download the System restore key first"
    )
    with page.expect_download() as download_info:
        page.click("#download-restore-key")
    download = download_info.value
    assert system_id in download.suggested_filename
    wizard_key = tmp_path / download.suggested_filename
    download.save_as(wizard_key)
    envelope = json.loads(wizard_key.read_bytes())
    assert PASSPHRASE not in wizard_key.read_text(encoding="utf-8")
    assert isinstance(envelope, dict)
    _next(page)

    # 5. System name.
    _step(page, controller, "name")
    page.fill("#system_name", SYSTEM_NAME)
    _next(page)

    # 6. Network: the defaults (the address and port this controller runs on).
    _step(page, controller, "network")
    expect(page.locator("#listen_host")).to_have_value("127.0.0.1")
    expect(page.locator("#listen_port")).to_have_value(controller.url.rsplit(":", 1)[1])
    _next(page)

    # 7. Date and time: manual (no NTP server is reachable from here), Stockholm.
    _step(page, controller, "time")
    page.select_option("#timezone", TIME_ZONE)
    page.check("input[name=time_mode][value=manual]")
    page.fill("#manual_time", datetime.now(ZoneInfo(TIME_ZONE)).strftime("%Y-%m-%dT%H:%M"))
    _next(page)

    # 8. Cloud extensions: off.
    _step(page, controller, "cloud")
    page.uncheck("#cloud_extensions")
    _next(page)

    # 9. Content destination: an invalid connection file is refused, then a valid one.
    _step(page, controller, "destination")
    bad = tmp_path / "bad-connection.json"
    bad.write_text('{"ConnectionFileVersion":"2.0"}', encoding="utf-8")
    page.set_input_files("#connection_file", str(bad))
    _next(page)
    _step(page, controller, "destination")
    field_errors = page.locator("form p.error")
    expect(field_errors.first).to_be_visible()
    expect(field_errors.first).to_have_text(
        'Connection file, ConnectionFileVersion: must be "1.0"')
    good = tmp_path / "connection.json"
    good.write_bytes(connection_file_bytes())
    page.set_input_files("#connection_file", str(good))
    _next(page)

    # 10. Power line frequency: 50 Hz.
    _step(page, controller, "power")
    page.check("input[name=power_line_frequency][value='50']")
    _next(page)

    # 11. Camera assignment: fixed.
    _step(page, controller, "assignment")
    page.check("input[name=camera_assignment][value=fixed]")
    _next(page)

    # 12. Summary, then Finish.
    _step(page, controller, "summary")
    expect(page.locator("#summary-name")).to_have_text(SYSTEM_NAME)
    expect(page.locator("table")).to_contain_text(TIME_ZONE)
    expect(page.locator("table")).to_contain_text("connection.json")
    expect(page.locator("#summary-firmware")).to_have_text("9.8.0.0 (bodyworn-9.8.0.0.bwfw)")
    page.click("#finish")

    # The login page says the system is set up.
    expect(page).to_have_url(f"{controller.url}/login?setup=done")
    expect(page.locator("#setup-done")).to_be_visible()
    _login(page, ROOT_PASSWORD)
    expect(page).to_have_url(f"{controller.url}/")
    expect(page.locator("#dash-name")).to_have_text(SYSTEM_NAME)
    expect(page.locator("main")).to_contain_text(system_id)
    assert abs(_dashboard_time_error(page)) < 120
    page.goto(controller.url + "/settings/firmware")
    expect(page.locator("#system-firmware")).to_have_text("9.8.0.0")
    expect(page.locator("#firmware-history")).to_contain_text("root (setup)")
    page.goto(controller.url + "/")
    screenshot = tmp_path / "dashboard.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 0

    # Settings → Password: change root's password.
    page.click("aside nav >> text=Settings")
    expect(page).to_have_url(f"{controller.url}/settings/password")
    page.fill("#current_password", ROOT_PASSWORD)
    page.fill("#new_password", NEW_ROOT_PASSWORD)
    page.fill("#new_password_confirm", NEW_ROOT_PASSWORD)
    page.click("#change-password")
    expect(page.locator("#password-changed")).to_be_visible()

    # Log out; the old password no longer works, the new one does.
    page.click("header >> text=Log out")
    expect(page).to_have_url(re.compile(r"/login$"))
    _login(page, ROOT_PASSWORD)
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    _login(page, NEW_ROOT_PASSWORD)
    expect(page).to_have_url(f"{controller.url}/")

    # Support → System restore key: a wrong passphrase is refused, the right one downloads.
    page.click("aside nav >> text=Support")
    expect(page).to_have_url(f"{controller.url}/support/system-report")
    page.click("main nav >> text=System restore key")
    expect(page).to_have_url(f"{controller.url}/support/restore-key")
    page.fill("#passphrase", "not the passphrase at all")
    page.click("#download-restore-key")
    expect(page.locator("#restore-key-error")).to_be_visible()
    page.fill("#passphrase", PASSPHRASE)
    with page.expect_download() as again_info:
        page.click("#download-restore-key")
    again = again_info.value
    support_key = tmp_path / ("support-" + again.suggested_filename)
    again.save_as(support_key)
    assert support_key.stat().st_size > 0

    # The command line opens the wizard's key file with the passphrase, and only with it.
    right = _inspect(wizard_key, PASSPHRASE, tmp_path)
    assert right.returncode == 0, right.stderr
    assert system_id in right.stdout
    wrong = _inspect(wizard_key, "a wrong passphrase entirely", tmp_path)
    assert wrong.returncode == 1
    assert "wrong passphrase" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    again_ok = _inspect(support_key, PASSPHRASE, tmp_path)
    assert again_ok.returncode == 0, again_ok.stderr
    assert system_id in again_ok.stdout


def test_wizard_in_swedish(controller: Controller, browser_page: Page) -> None:
    page = browser_page
    page.goto(controller.url + "/setup")
    _step(page, controller, "start")
    page.select_option("#language", label="Svenska")
    _next(page)
    _step(page, controller, "admin")
    swedish = translations("sv").gettext("Administrator account")
    assert swedish == "Administratörskonto"
    expect(page.locator("h1")).to_have_text(swedish)
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.locator("#next")).to_have_text("Nästa")
    steps = page.locator("ol.steps")
    expect(steps).to_contain_text("Skapa eller utöka")
    expect(steps).to_contain_text("Sammanfattning")


def test_leaving_manual_time_empty_keeps_the_clock_right(
    controller: Controller, browser_page: Page, tmp_path: Path
) -> None:
    page = browser_page
    page.goto(controller.url + "/setup")
    _next(page)
    for field in ("#root_password", "#root_password_confirm"):
        page.fill(field, ROOT_PASSWORD)
    _next(page)
    for field in ("#super_admin_passphrase", "#super_admin_passphrase_confirm"):
        page.fill(field, PASSPHRASE)
    _next(page)
    with page.expect_download():
        page.click("#download-restore-key")
    _next(page)
    page.fill("#system_name", SYSTEM_NAME)
    _next(page)
    _next(page)  # network defaults
    _step(page, controller, "time")
    page.select_option("#timezone", TIME_ZONE)
    page.check("input[name=time_mode][value=manual]")
    _next(page)  # the prefilled date and time, as a person would leave it
    _next(page)  # cloud off
    connection = tmp_path / "connection.json"
    connection.write_bytes(connection_file_bytes())
    page.set_input_files("#connection_file", str(connection))
    _next(page)
    page.check("input[name=power_line_frequency][value='50']")
    _next(page)
    page.check("input[name=camera_assignment][value=fixed]")
    _next(page)
    page.click("#finish")
    _login(page, ROOT_PASSWORD)
    expect(page).to_have_url(f"{controller.url}/")
    assert abs(_dashboard_time_error(page)) < 120
