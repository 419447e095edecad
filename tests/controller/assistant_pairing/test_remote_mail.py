"""Remote pairing by mail: the QR code and instructions reach the user through a real SMTP
server (aiosmtpd), sealed while they wait, never with the PIN, never redirected."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from bodyworn.controller.app import create_app
from bodyworn.controller.assistant_pairing import delivery
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.notifications import service as notifications
from bodyworn.controller.notifications.models import QueuedMail
from bodyworn.controller.users import service as users
from bodyworn.i18n.catalog import translations
from bodyworn.wireless.pairing import PairingCode
from tests.controller.conftest import login, set_up
from tests.controller.notifications.conftest import configure
from tests.smtp_server import ACCEPT, REFUSE, Received, SmtpServer, smtp_server

USER_MAIL = "officer17@example.org"


@pytest.fixture
def mailing(ctx: ControllerContext) -> Iterator[tuple[TestClient, str, SmtpServer, str]]:
    """A set-up system (cloud on) that mails through a real SMTP server; the app running
    (its notifier sends), logged in; a user."""
    set_up(ctx, cloud_extensions=True, cloud_location="eu-de")
    with ctx.factory() as session, session.begin():
        uuid = users.create(session, ctx.clock, name="Officer Seventeen", user_id="officer-17",
                            actor="test", source="test").uuid
    with smtp_server("starttls", username="mailer", password="smtp pass 9") as smtp:
        configure(ctx, smtp, address=None)
        with TestClient(create_app(ctx), base_url="https://testserver") as client:
            yield client, login(client), smtp, uuid


def _wait(smtp: SmtpServer, count: int) -> list[Received]:
    deadline = time.monotonic() + 20
    while len(smtp.received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(smtp.received) >= count, "the mail did not arrive"
    return smtp.received


def _outbox(ctx: ControllerContext) -> list[QueuedMail]:
    with ctx.factory() as session:
        rows = list(session.scalars(select(QueuedMail).order_by(QueuedMail.id)))
        session.expunge_all()
        return rows


def test_the_page_mails_the_qr_code_and_instructions(
        ctx: ControllerContext, mailing: tuple[TestClient, str, SmtpServer, str]) -> None:
    client, csrf, smtp, uuid = mailing
    assert 'id="email"' in client.get(f"/users/{uuid}/assistant/pair").text
    r = client.post(f"/users/{uuid}/assistant/pair", follow_redirects=False,
                    data={"mode": "remote", "email": USER_MAIL, "csrf_token": csrf})
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert f"sent by mail to {USER_MAIL}" in page
    pin = re.search(r'id="pairing-pin">(\d{6})<', page)
    assert pin is not None
    (mail,) = _wait(smtp, 1)
    assert mail.recipients == [USER_MAIL]
    message = mail.message
    assert message["Subject"] == "[North precinct] Pairing with AXIS Body Worn Assistant"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Officer Seventeen (officer-17)" in body and "Enter the PIN within 5 minutes" in body
    attachments = {part.get_filename(): part.get_content() for part in
                   message.iter_attachments()}
    assert set(attachments) == {"assistant-pairing-qr.png", "assistant-pairing.html"}
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(attachments["assistant-pairing-qr.png"])))
    (qr_text,) = [f.text for f in found if f.format == zxingcpp.BarcodeFormat.QRCode]
    code = PairingCode.parse(qr_text)
    assert qr_text in body and qr_text in attachments["assistant-pairing.html"]
    assert f'id="assistant-{code.pairing_id}"' in client.get(f"/users/{uuid}/equipment").text
    # The PIN is told another way: not in the mail, not in any of its parts.
    assert pin.group(1) not in message.as_string()
    # Sent: the outbox keeps neither the code nor its attachments.
    (row,) = _outbox(ctx)
    assert row.state == notifications.SENT and row.sealed is None
    assert row.body == notifications.SEALED_BODY and code.secret_text not in row.body
    audit = client.get("/api/v1/audit").json()
    assert any(e["action"] == "assistant.pair.mail" and USER_MAIL in e["detail"]
               for e in audit)


def test_waiting_mail_is_sealed_and_stays_the_users(
        ctx: ControllerContext, mailing: tuple[TestClient, str, SmtpServer, str]) -> None:
    client, csrf, smtp, uuid = mailing
    smtp.handler.behaviour = REFUSE  # the mail waits in the outbox
    r = client.post(f"/api/v1/users/{uuid}/assistant-pairings", headers={"X-CSRF-Token": csrf},
                    json={"mode": "remote", "email": USER_MAIL})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["mailed_to"] == USER_MAIL
    deadline = time.monotonic() + 10
    while smtp.handler.attempts < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    (row,) = _outbox(ctx)
    assert row.state == notifications.PENDING and row.sealed is not None
    secret = PairingCode.parse(created["qr_text"]).secret_text
    assert secret.encode() not in row.sealed and secret not in row.body
    # Notifications going elsewhere, or off, neither redirect nor drop the user's mail.
    with ctx.factory() as session, session.begin():
        notifications.set_address(session, ctx.clock, "ops@example.org", False, actor="root",
                                  source="test")
        notifications.set_address(session, ctx.clock, "", False, actor="root", source="test")
    (row,) = _outbox(ctx)
    assert (row.state, row.to_address) == (notifications.PENDING, USER_MAIL)
    smtp.handler.behaviour = ACCEPT
    configure(ctx, smtp, address=None)  # saving the server makes waiting mail due at once
    notifier = client.app.state.notifier  # type: ignore[attr-defined]
    assert client.portal is not None
    client.portal.call(notifier.send_due)  # now, or the running loop got there first
    (mail,) = _wait(smtp, 1)
    assert mail.recipients == [USER_MAIL] and created["pin"] not in mail.message.as_string()


def test_refused_without_mail_or_with_a_bad_address(
        ctx: ControllerContext, mailing: tuple[TestClient, str, SmtpServer, str]) -> None:
    client, csrf, _smtp, uuid = mailing
    bad = client.post(f"/api/v1/users/{uuid}/assistant-pairings",
                      headers={"X-CSRF-Token": csrf},
                      json={"mode": "remote", "email": "not an address"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "email"
    with ctx.factory() as session, session.begin():
        from bodyworn.controller.setup.models import SystemSettings

        session.get(SystemSettings, 1).cloud_extensions = False  # type: ignore[union-attr]
    page = client.get(f"/users/{uuid}/assistant/pair").text
    assert 'id="no-mail"' in page
    off = client.post(f"/users/{uuid}/assistant/pair", data={
        "mode": "remote", "email": USER_MAIL, "csrf_token": csrf})
    assert off.status_code == 409 and "cannot send mail" in off.text
    assert client.get(f"/api/v1/users/{uuid}/assistant-pairings").json() == []
    # Without an address a Remote pairing still gives the pairing sheet.
    sheet = client.post(f"/users/{uuid}/assistant/pair", follow_redirects=False,
                        data={"mode": "remote", "email": "", "csrf_token": csrf})
    assert sheet.status_code == 303
    assert 'id="download-sheet"' in client.get(sheet.headers["location"]).text
    assert _outbox(ctx) == []


@pytest.mark.parametrize("msgid", delivery.MAIL_MSGIDS)
def test_every_word_of_the_mail_is_translated(msgid: str) -> None:
    assert translations("sv").gettext(msgid) != msgid


def test_the_mail_speaks_the_systems_language() -> None:
    sheet = delivery.PairingSheet("Officer Seventeen", None, "Hamnen", "<svg/>", "BWA1:X",
                                  datetime(2026, 11, 28, 8, 0, tzinfo=UTC))
    subject, body = delivery.mail_text(sheet, "sv")
    assert subject == "[Hamnen] " + translations("sv").gettext(delivery.SUBJECT)
    assert translations("sv").gettext(delivery.STEPS[3]) in body
    assert "BWA1:X" in body


def test_the_mail_gives_the_time_in_the_systems_zone() -> None:
    sheet = delivery.PairingSheet("Officer Seventeen", None, "Hamnen", "<svg/>", "BWA1:X",
                                  datetime(2026, 11, 28, 8, 0, tzinfo=UTC))
    _, body = delivery.mail_text(sheet, "en", "Europe/Stockholm")
    assert "2026-11-28 09:00 CET" in body and "UTC" not in body
