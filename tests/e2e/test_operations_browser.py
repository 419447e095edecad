"""Settings → Email notifications, Certificates and API tokens in a real browser against a
real controller process (and a real SMTP server for the mail)."""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Controller, browser_login
from tests.smtp_server import SmtpServer, smtp_server
from tests.x509_factory import make_ca, pem, sign_csr

pytestmark = pytest.mark.e2e


def shot(page: Page, name: str) -> None:
    """Keep a screenshot when BODYWORN_SCREENSHOTS names a folder (for people to look at)."""
    folder = os.environ.get("BODYWORN_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def wait_for_mail(smtp: SmtpServer, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(smtp.received) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(smtp.received) >= count, f"{len(smtp.received)} mails, wanted {count}"


def test_email_notifications_page_sets_the_server_and_the_address_and_sends_a_test(
        set_up_process: Callable[..., Controller], browser_page: Page) -> None:
    controller = set_up_process()
    page = browser_page
    browser_login(page, controller)
    with smtp_server("starttls", username="mailer", password="Mail pass 7") as smtp:
        page.goto(controller.url + "/settings/notifications")
        expect(page.locator("#notifications-state")).to_have_text("Notifications are off.")
        # An address before a server: refused with the reason.
        page.fill("#address", "duty@example.org")
        page.click("#set-address")
        expect(page.locator("#refusal")).to_contain_text("SMTP server")
        page.fill("#smtp_host", smtp.host)
        page.select_option("#smtp_security", "starttls")
        page.fill("#smtp_port", str(smtp.port))
        page.fill("#from_address", "bodyworn@example.org")
        page.fill("#smtp_username", "mailer")
        page.fill("#smtp_password", "Mail pass 7")
        page.fill("#smtp_ca_pem", smtp.ca_pem)
        page.click("#save-smtp")
        expect(page.locator("#saved")).to_have_text("SMTP server saved.")
        assert "Mail pass 7" not in page.content()  # never shown back
        expect(page.locator("#smtp_password")).to_have_attribute(
            "placeholder", "Stored; leave empty to keep it")
        page.fill("#address", "duty@example.org")
        page.check("#send_test")
        page.click("#set-address")
        expect(page.locator("#saved")).to_contain_text("A test email is on its way.")
        wait_for_mail(smtp, 1)
        (mail,) = smtp.received
        assert mail.recipients == ["duty@example.org"]
        assert mail.message["Subject"].strip() == "[Harbour] Test email from Harbour"
        page.goto(controller.url + "/settings/notifications")
        expect(page.locator("#notifications-state")).to_contain_text("duty@example.org")
        expect(page.locator("#mails")).to_contain_text("Sent")
        shot(page, "email-notifications")
        page.fill("#address", "")
        page.click("#set-address")
        expect(page.locator("#saved")).to_have_text("Email notifications are off.")
        expect(page.locator("#notifications-state")).to_have_text("Notifications are off.")
    assert b"Mail pass 7" not in controller.log.read_bytes()


def test_email_notifications_need_cloud_extensions(
        set_up_process: Callable[..., Controller], browser_page: Page) -> None:
    controller = set_up_process(cloud=False)
    browser_login(browser_page, controller)
    browser_page.goto(controller.url + "/settings/notifications")
    expect(browser_page.locator("#cloud-needed")).to_contain_text("need cloud extensions")


def _served(controller: Controller) -> x509.Certificate:
    host, port = controller.url.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_certificates_page_creates_requests_installs_activates_and_deletes(
        set_up_process: Callable[..., Controller], browser_page: Page, tmp_path: Path) -> None:
    controller = set_up_process(cloud=False)
    page = browser_page
    browser_login(page, controller)
    page.goto(controller.url + "/settings/certificates")
    expect(page.locator("#certificates")).to_contain_text("Default")
    expect(page.locator("#active-badge")).to_have_count(1)
    page.click("#create-box > summary")
    page.fill("#name", "harbour-web")
    page.fill("#common_name", "localhost")
    page.fill("#hosts", "localhost 127.0.0.1")
    page.fill("#organization", "Harbour police")
    page.fill("#country", "se")
    page.select_option("#key_type", "rsa-3072")
    page.click("#create")
    expect(page.locator("#saved")).to_contain_text("Created harbour-web.")
    row = page.locator("tr", has_text="harbour-web")
    row.locator("summary").click()
    row.get_by_role("link", name="Create signing request").click()
    expect(page.locator("#common_name")).to_have_value("localhost")
    page.click("#create-csr")
    expect(page.locator("#csr-pem")).to_contain_text("BEGIN CERTIFICATE REQUEST")
    shown = page.locator("#csr-pem").inner_text().encode()
    shot(page, "certificate-signing-request")
    with page.expect_download() as download:
        page.click("#download-csr")
    assert download.value.suggested_filename == "harbour-web.csr"
    saved = tmp_path / "harbour-web.csr"
    download.value.save_as(saved)
    csr = x509.load_pem_x509_csr(saved.read_bytes())
    assert csr.public_key() == x509.load_pem_x509_csr(shown).public_key()
    root = make_ca("Harbour Root")
    signed_file = tmp_path / "manager.harbour.crt"
    signed = sign_csr(saved.read_bytes(), root)
    signed_file.write_bytes(pem(signed))
    # A file whose certificate matches none of our keys is refused, nothing stored.
    stranger = tmp_path / "stranger.crt"
    stranger.write_bytes(pem(make_ca("Stranger").cert))
    page.goto(controller.url + "/settings/certificates")
    page.click("#install-box > summary")
    page.set_input_files("#certificate", str(stranger))
    page.click("#install")
    expect(page.locator("#refusal")).to_contain_text("does not match a private key")
    expect(page.locator("#certificates")).not_to_contain_text("stranger")
    page.set_input_files("#certificate", str(signed_file))
    page.click("#install")
    expect(page.locator("#saved")).to_contain_text("Installed manager.harbour.")
    row = page.locator("tr", has_text="manager.harbour")
    row.locator("summary").click()
    row.get_by_role("button", name="Activate").click()
    expect(page.locator("#saved")).to_contain_text("New connections get this certificate.")
    assert _served(controller) == signed
    shot(page, "certificates")
    # The self-signed one is not active: it can go.
    row = page.locator("tr", has_text="harbour-web")
    row.locator("summary").click()
    row.get_by_role("button", name="Delete").click()
    expect(page.locator("#saved")).to_contain_text("Deleted.")
    expect(page.locator("#certificates")).not_to_contain_text("harbour-web")


def test_api_tokens_page_creates_shows_once_and_revokes(
        set_up_process: Callable[..., Controller], browser_page: Page) -> None:
    controller = set_up_process(cloud=False)
    page = browser_page
    browser_login(page, controller)
    page.goto(controller.url + "/settings/api-tokens")
    page.fill("#name", "Prometheus")
    page.select_option("#access", "read")
    page.click("#create-token")
    token = page.locator("#new-token").inner_text()
    assert token.startswith("bwt_")
    shot(page, "api-tokens")
    with httpx.Client(base_url=controller.url, verify=False, timeout=30) as bot:
        auth = {"Authorization": f"Bearer {token}"}
        assert bot.get("/api/v1/system", headers=auth).json()["system_name"] == "Harbour"
        metrics = bot.get("/metrics", headers=auth)
        assert metrics.status_code == 200 and "bodyworn_clips_ingested_total" in metrics.text
        assert bot.put("/api/v1/system/name", json={"system_name": "x"},
                       headers=auth).status_code == 403
        page.goto(controller.url + "/settings/api-tokens")
        assert token not in page.content()
        expect(page.locator("#tokens")).to_contain_text("Prometheus")
        page.get_by_role("button", name="Revoke").click()
        expect(page.locator("#saved")).to_have_text("The token was revoked.")
        assert bot.get("/metrics", headers=auth).status_code == 401
