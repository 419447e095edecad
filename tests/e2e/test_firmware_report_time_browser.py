"""Settings → Firmware, Devices' versions, Support → System report, Date and time (NTP on a
schedule, the content destination's clock), the language after setup, and Remote pairing
by mail, in a real browser against a real controller process (real SMTP, SNTP and CD)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bodyworn.destination.config import build_app, connection_file_for, init_destination
from tests.cd_server import serving
from tests.controller.clock.test_ntp import SntpServer
from tests.domain.connection_factory import connection_file_bytes
from tests.e2e.conftest import OPS_PASSPHRASE, OPS_PASSWORD, Controller, browser_login
from tests.e2e.test_operations_browser import shot, wait_for_mail
from tests.firmware_factory import make_bundle
from tests.smtp_server import smtp_server

pytestmark = pytest.mark.e2e


def _csrf(page: Page) -> str:
    value = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert value
    return value


def test_firmware_page_installs_and_devices_show_every_version(
        set_up_process: Callable[..., Controller], browser_page: Page, tmp_path: Path) -> None:
    controller = set_up_process(cloud=False)
    page = browser_page
    browser_login(page, controller)
    page.goto(controller.url + "/settings/firmware")
    expect(page.locator("#system-firmware")).to_have_text("10.2.0.3")
    files = {"truncated.bwfw": make_bundle("10.3.0.0")[:-700],
             "older.bwfw": make_bundle("10.1.0.0"), "good.bwfw": make_bundle("10.3.0.0")}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    page.set_input_files("#firmware", str(tmp_path / "truncated.bwfw"))
    page.click("#install")
    expect(page.locator("#refusal")).to_contain_text("incomplete or not a firmware file")
    page.set_input_files("#firmware", str(tmp_path / "older.bwfw"))
    page.click("#install")
    expect(page.locator("#refusal")).to_contain_text("older than the installed 10.2.0.3")
    expect(page.locator("#system-firmware")).to_have_text("10.2.0.3")
    page.set_input_files("#firmware", str(tmp_path / "good.bwfw"))
    page.click("#install")
    expect(page.locator("#saved")).to_contain_text("Firmware 10.3.0.0 is installed.")
    expect(page.locator("#system-firmware")).to_have_text("10.3.0.0")
    expect(page.locator("#firmware-history")).to_contain_text("root")
    shot(page, "firmware")
    page.click("aside nav >> text=Devices")
    expect(page.locator("#controllers")).to_contain_text("10.3.0.0")
    expect(page.locator("#controllers")).to_contain_text("bodyworn 0.1.0")
    twin = page.request.get(controller.url + "/api/v1/firmware").json()
    assert twin["system"] == "10.3.0.0" and len(twin["history"]) == 1
    log = controller.log.read_text()
    assert "services.restarted" in log and "firmware 10.3.0.0 installed" in log


def test_system_report_downloads_a_zip_without_secrets(
        set_up_process: Callable[..., Controller], browser_page: Page, tmp_path: Path) -> None:
    controller = set_up_process(cloud=False)
    page = browser_page
    browser_login(page, controller)
    page.click("aside nav >> text=Support")
    expect(page).to_have_url(controller.url + "/support/system-report")
    with page.expect_download() as download:
        page.click("#download-report")
    assert download.value.suggested_filename.startswith("bodyworn-system-report-")
    saved = tmp_path / "report.zip"
    download.value.save_as(saved)
    shot(page, "system-report")
    data_dir = controller.data_dir
    secrets = {"root password": OPS_PASSWORD, "passphrase": OPS_PASSPHRASE,
               "dock port token": (data_dir / "dock_port_token").read_text().strip(),
               "secrets key": (data_dir / "secrets.key").read_bytes().hex()}
    with zipfile.ZipFile(saved) as zf:
        names = zf.namelist()
        texts = {n: zf.read(n).decode() for n in names}
    assert {"versions.json", "settings.json", "audit.json", "logs/controller.log"} <= set(names)
    assert json.loads(texts["settings.json"])["system"]["system_name"] == "Harbour"
    assert '"event"' in texts["logs/controller.log"]  # the process keeps its log file
    for name, text in texts.items():
        for what, secret in secrets.items():
            assert secret not in text, f"{what} in {name}"
    twin = page.request.post(controller.url + "/api/v1/support/system-report",
                             headers={"X-CSRF-Token": _csrf(page)})
    assert twin.status == 200 and twin.headers["content-type"] == "application/zip"
    assert "versions.json" in zipfile.ZipFile(io.BytesIO(twin.body())).namelist()


def test_time_page_shows_ntp_measured_on_a_schedule_and_language_changes(
        set_up_process: Callable[..., Controller], browser_page: Page) -> None:
    with SntpServer(shift=5.0) as ntp:
        controller = set_up_process(cloud=False, manual_time=None,
                                    extra_answers=(f'ntp_server = "{ntp.address}"',),
                                    env={"BODYWORN_NTP_INTERVAL_S": "0.5"})
        page = browser_page
        browser_login(page, controller)
        page.goto(controller.url + "/settings/time")
        expect(page.locator("#ntp-status")).to_contain_text(f"against {ntp.address}")
        before = ntp.queries
        page.wait_for_timeout(2000)
        assert ntp.queries >= before + 2  # measured again, not once
        page.reload()
        # 5 s, give or take what a loaded machine's round trips make of it (4.996 seen).
        expect(page.locator("#ntp-status")).to_contain_text(
            re.compile(r"corrected by (4\.9[5-9]\d|5\.0[0-4]\d) s"))
        shot(page, "date-and-time")
    page.goto(controller.url + "/settings/system")
    page.select_option("#language", "sv")
    page.click("#save-language")
    expect(page.locator("#language-saved")).to_have_text("Språket är ändrat.")
    expect(page.locator("aside nav")).to_contain_text("Inställningar")
    assert page.request.get(controller.url + "/api/v1/system").json()["language"] == "sv"


def test_the_content_destination_named_as_time_server_is_asked(
        set_up_process: Callable[..., Controller], browser_page: Page) -> None:
    # The connection file's CD (cd.example.test) does not exist: asked, it cannot answer.
    controller = set_up_process(cloud=False, connection_file=connection_file_bytes(
        ContentDestinationAsNTPServer=True))
    page = browser_page
    browser_login(page, controller)
    page.goto(controller.url + "/settings/time")
    expect(page.locator("#time-from-cd")).to_contain_text("the time comes from cd.example.test")
    expect(page.locator("#ntp-status")).to_contain_text("The time server did not answer")
    twin = page.request.get(controller.url + "/api/v1/system/time").json()
    assert twin["source"] == "cd.example.test" and twin["source_is_content_destination"]
    page.goto(controller.url + "/")
    expect(page.locator("#issues .issue-ntp_failed")).to_contain_text("cd.example.test")


def test_the_dashboard_warns_when_the_cds_clock_differs(
        set_up_process: Callable[..., Controller], browser_page: Page, tmp_path: Path) -> None:
    cd_dir = tmp_path / "cd"
    config = init_destination(cd_dir)
    # Sync Playwright keeps an event loop running on this thread: build it on another.
    with ThreadPoolExecutor(1) as pool:
        cd = pool.submit(asyncio.run, build_app(config, cd_dir)).result()
    # The controller's clock runs 2 minutes ahead of the host's, which the CD's Date shows.
    ahead = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with serving(cd.app) as url:
        controller = set_up_process(cloud=False, manual_time=ahead,
                                    connection_file=connection_file_for(config, cd_dir, [url]))
        page = browser_page
        browser_login(page, controller)
        issue = page.locator("#issues .issue-clock_skew")
        expect(issue).to_contain_text("behind this controller", timeout=30_000)
        found = re.search(r"clock is (\d+) s behind", issue.inner_text())
        assert found is not None and 100 <= int(found.group(1)) <= 130
        shot(page, "dashboard-clock-skew")
        page.goto(controller.url + "/settings/time")
        expect(page.locator("#cd-clock")).to_contain_text("differs from this controller")


def test_remote_pairing_mails_the_qr_code(set_up_process: Callable[..., Controller],
                                          browser_page: Page) -> None:
    controller = set_up_process()
    page = browser_page
    browser_login(page, controller)
    with smtp_server("tls", username="mailer", password="Mail pass 8") as smtp:
        page.goto(controller.url + "/settings/notifications")
        page.fill("#smtp_host", smtp.host)
        page.select_option("#smtp_security", "tls")
        page.fill("#smtp_port", str(smtp.port))
        page.fill("#from_address", "bodyworn@example.org")
        page.fill("#smtp_username", "mailer")
        page.fill("#smtp_password", "Mail pass 8")
        page.fill("#smtp_ca_pem", smtp.ca_pem)
        page.click("#save-smtp")
        expect(page.locator("#saved")).to_have_text("SMTP server saved.")
        made = page.request.post(controller.url + "/api/v1/users",
                                 headers={"X-CSRF-Token": _csrf(page)},
                                 data={"name": "Officer Nine", "user_id": "officer-9"})
        assert made.status == 201, made.text()
        uuid = made.json()["id"]
        page.goto(f"{controller.url}/users/{uuid}/assistant/pair")
        page.check("#mode-remote")
        page.fill("#email", "officer9@example.org")
        page.click("#pair-next")
        expect(page.locator("#mailed-to")).to_contain_text("officer9@example.org")
        pin = page.locator("#pairing-pin").inner_text()
        shot(page, "remote-pairing-mailed")
        wait_for_mail(smtp, 1)
        (mail,) = smtp.received
    assert mail.recipients == ["officer9@example.org"]
    names = [p.get_filename() for p in mail.message.iter_attachments()]
    assert names == ["assistant-pairing-qr.png", "assistant-pairing.html"]
    assert pin not in mail.message.as_string()
