"""Email notifications against a real SMTP server (aiosmtpd) on loopback, over TLS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bodyworn.controller.app import build_context
from bodyworn.controller.context import ControllerContext
from bodyworn.controller.events import (
    BackupFailed,
    CdHealthChanged,
    CdState,
    ExtensionLost,
    StorageLow,
)
from bodyworn.controller.notifications import service, texts
from bodyworn.controller.notifications.mailer import SmtpConfig, SmtpMailer
from bodyworn.controller.notifications.models import QueuedMail
from bodyworn.controller.notifications.sender import Notifier, SenderConfig
from bodyworn.controller.refusals import FieldsRefused
from bodyworn.domain.clock import ManualClock
from tests.controller.notifications.conftest import ADDRESS, SENDER, configure
from tests.smtp_server import DROP, REFUSE, free_port, smtp_server

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def lost(ctx: ControllerContext) -> CdHealthChanged:
    return CdHealthChanged(CdState.LOST, "connection refused", ctx.clock.now())


def ok(ctx: ControllerContext) -> CdHealthChanged:
    return CdHealthChanged(CdState.OK, "", ctx.clock.now())


def mails(ctx: ControllerContext) -> list[QueuedMail]:
    with ctx.factory() as session:
        rows = list(session.scalars(select(QueuedMail).order_by(QueuedMail.id)))
        session.expunge_all()
        return rows


async def test_one_mail_when_a_problem_starts_and_one_when_it_clears(
        cloud_ctx: ControllerContext, notifier: Notifier) -> None:
    with smtp_server("starttls", username="mailer", password="smtp secret 1") as smtp:
        configure(cloud_ctx, smtp)
        for _ in range(3):  # every poll publishes again: still one mail
            cloud_ctx.events.publish(lost(cloud_ctx))
            assert await notifier.run_once() in (0, 1)
        cloud_ctx.events.publish(ok(cloud_ctx))
        cloud_ctx.events.publish(ok(cloud_ctx))
        await notifier.run_once()
        got = smtp.received
    assert [r.message["Subject"].strip() for r in got] == [
        "[North precinct] Lost connection to content destination",
        "[North precinct] Connection to content destination restored",
    ]
    first = got[0]
    assert first.recipients == [ADDRESS] and first.sender == SENDER
    assert first.message["To"] == ADDRESS and first.message["From"] == SENDER
    body = first.message.get_payload(decode=True).decode()
    assert "connection refused" in body and "2026-11-27 09:00:00 CET" in body
    assert first.message["Message-ID"] == mails(cloud_ctx)[0].message_id
    assert {m.state for m in mails(cloud_ctx)} == {service.SENT}


@pytest.mark.parametrize(("event", "clear", "subject"), [
    (StorageLow(True, 0.04, NOW), StorageLow(False, 0.4, NOW),
     "System controller storage space is low"),
    (ExtensionLost("Harbour-2", True), ExtensionLost("Harbour-2", False),
     "Lost connection to extension system controller Harbour-2"),
    (BackupFailed("the backup server refused", True), BackupFailed("", False),
     "Failed to synchronize system backup"),
])
async def test_each_critical_event_mails_its_start_and_end(
        cloud_ctx: ControllerContext, notifier: Notifier, event: object, clear: object,
        subject: str) -> None:
    with smtp_server("tls") as smtp:  # implicit TLS, no login
        configure(cloud_ctx, smtp)
        cloud_ctx.events.publish(event)  # type: ignore[arg-type]
        cloud_ctx.events.publish(event)  # type: ignore[arg-type]
        await notifier.run_once()
        cloud_ctx.events.publish(clear)  # type: ignore[arg-type]
        await notifier.run_once()
        got = [r.message["Subject"].strip() for r in smtp.received]
    assert len(got) == 2 and got[0] == f"[North precinct] {subject}"


async def test_a_cd_out_of_storage_is_not_a_lost_connection(
        cloud_ctx: ControllerContext, notifier: Notifier) -> None:
    with smtp_server() as smtp:
        configure(cloud_ctx, smtp)
        cloud_ctx.events.publish(lost(cloud_ctx))
        cloud_ctx.events.publish(CdHealthChanged(CdState.OUT_OF_STORAGE, "507", NOW))
        await notifier.run_once()
        assert [r.message["Subject"].split("] ")[1] for r in smtp.received] == [
            "Lost connection to content destination",
            "Connection to content destination restored"]


async def test_the_test_mail_and_the_mail_language_follow_the_system(
        ctx: ControllerContext) -> None:
    from tests.controller.conftest import set_up

    set_up(ctx, cloud_extensions=True, cloud_location="eu-de", language="sv")
    n = Notifier(ctx)
    n.subscribe()
    with smtp_server() as smtp:
        configure(ctx, smtp, send_test=True)
        ctx.events.publish(lost(ctx))
        await n.run_once()
        subjects = [r.message["Subject"].strip() for r in smtp.received]
    assert subjects == ["[North precinct] Testmejl från North precinct",
                        "[North precinct] Förlorad anslutning till innehållsdestinationen"]


async def test_wrong_login_keeps_the_mail_and_backs_off(
        cloud_ctx: ControllerContext, notifier: Notifier, clock: ManualClock) -> None:
    with smtp_server("starttls", username="mailer", password="right one") as smtp:
        configure(cloud_ctx, smtp, password="wrong one", send_test=True)
        assert await notifier.run_once() == 0
        (mail,) = mails(cloud_ctx)
        assert mail.state == service.PENDING and mail.attempts == 1
        assert "535" in (mail.last_error or "")
        assert mail.next_attempt_at == clock.now() + timedelta(seconds=60)
        # Fixing the password retries at once.
        configure(cloud_ctx, smtp, address=None, password="right one")
        assert await notifier.run_once() == 1
        assert len(smtp.received) == 1


@pytest.mark.parametrize("behaviour", [REFUSE, DROP])
async def test_a_refusing_or_dropping_server_loses_nothing_and_sends_nothing_twice(
        cloud_ctx: ControllerContext, notifier: Notifier, clock: ManualClock,
        behaviour: str) -> None:
    with smtp_server() as smtp:
        configure(cloud_ctx, smtp)
        smtp.handler.behaviour = behaviour
        cloud_ctx.events.publish(lost(cloud_ctx))
        cloud_ctx.events.publish(StorageLow(True, 0.03, NOW))
        assert await notifier.run_once() == 0
        assert smtp.handler.attempts == 1  # the second mail waits behind the first
        waits = [m.next_attempt_at for m in mails(cloud_ctx)]
        assert waits == [clock.now() + timedelta(seconds=60)] * 2
        clock.advance(timedelta(seconds=59))
        assert await notifier.run_once() == 0 and smtp.handler.attempts == 1
        clock.advance(timedelta(seconds=1))
        assert await notifier.run_once() == 0 and smtp.handler.attempts == 2
        # Doubling: the third attempt two minutes later.
        assert mails(cloud_ctx)[0].next_attempt_at == clock.now() + timedelta(seconds=120)
        smtp.handler.behaviour = "accept"
        clock.advance(timedelta(seconds=120))
        assert await notifier.run_once() == 2
        assert await notifier.run_once() == 0
        ids = [r.message["Message-ID"] for r in smtp.received]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert [m.attempts for m in mails(cloud_ctx)] == [3, 1]


async def test_no_server_listening_then_one_that_answers(
        cloud_ctx: ControllerContext, notifier: Notifier, clock: ManualClock) -> None:
    port = free_port()
    with smtp_server(port=port) as smtp:
        configure(cloud_ctx, smtp)
    cloud_ctx.events.publish(lost(cloud_ctx))
    assert await notifier.run_once() == 0
    assert "no connection" in (mails(cloud_ctx)[0].last_error or "")
    with smtp_server(port=port) as smtp:
        configure(cloud_ctx, smtp, address=None)  # the new server's CA
        assert await notifier.run_once() == 1
        assert len(smtp.received) == 1


async def test_a_server_not_trusted_is_not_sent_to(
        cloud_ctx: ControllerContext, notifier: Notifier) -> None:
    with smtp_server() as smtp, smtp_server() as other:
        configure(cloud_ctx, smtp)
        with cloud_ctx.factory() as session, session.begin():  # trust another CA
            row = service.current(session)
            row.smtp_ca_pem = other.ca_pem
        cloud_ctx.events.publish(lost(cloud_ctx))
        assert await notifier.run_once() == 0
        assert smtp.received == []
        assert "TLS" in (mails(cloud_ctx)[0].last_error or "")


def _restart(ctx: ControllerContext, tmp_path: Path) -> ControllerContext:
    ctx.engine.dispose()
    again = build_context(ctx.settings, clock=ctx.clock)
    return again


async def test_queued_mail_survives_a_restart_and_a_repeat_after_it_sends_nothing(
        cloud_ctx: ControllerContext, notifier: Notifier, tmp_path: Path) -> None:
    port = free_port()
    with smtp_server(port=port) as smtp:
        configure(cloud_ctx, smtp)
        smtp.handler.behaviour = REFUSE
        cloud_ctx.events.publish(lost(cloud_ctx))
        await notifier.run_once()
    again = _restart(cloud_ctx, tmp_path)
    try:
        restarted = Notifier(again, config=SenderConfig(initial_s=0.01))
        restarted.subscribe()
        again.events.publish(lost(again))  # the health check finds it lost again
        assert again.clock.now() >= mails(again)[0].next_attempt_at - timedelta(seconds=60)
        again.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
        with smtp_server(port=port) as smtp:
            configure(again, smtp, address=None)
            assert await restarted.run_once() == 1
            assert await restarted.run_once() == 0
            assert len(smtp.received) == 1
    finally:
        again.engine.dispose()


class AcceptThenCrash:
    """Hands the mail to the real server, then 'crashes' before our commit."""

    def __init__(self, config: SmtpConfig) -> None:
        self.inner = SmtpMailer(config)

    async def send(self, message: EmailMessage) -> None:
        await self.inner.send(message)
        raise KeyboardInterrupt("power cut after the server accepted")


async def test_a_crash_between_acceptance_and_commit_resends_with_the_same_message_id(
        cloud_ctx: ControllerContext) -> None:
    """The at-least-once edge SMTP leaves (docs/notifications.md)."""
    crashing = Notifier(cloud_ctx, mailer_for=AcceptThenCrash)
    crashing.subscribe()
    with smtp_server() as smtp:
        configure(cloud_ctx, smtp)
        cloud_ctx.events.publish(lost(cloud_ctx))
        with pytest.raises(KeyboardInterrupt):
            await crashing.run_once()
        assert mails(cloud_ctx)[0].state == service.PENDING
        fresh = Notifier(cloud_ctx)
        assert await fresh.run_once() == 1
        ids = [r.message["Message-ID"] for r in smtp.received]
    assert len(ids) == 2 and ids[0] == ids[1]


async def test_removing_the_address_stops_mail_and_drops_what_waits(
        cloud_ctx: ControllerContext, notifier: Notifier) -> None:
    with smtp_server() as smtp:
        configure(cloud_ctx, smtp)
        smtp.handler.behaviour = REFUSE
        cloud_ctx.events.publish(lost(cloud_ctx))
        await notifier.run_once()
        with cloud_ctx.factory() as session, session.begin():
            service.set_address(session, cloud_ctx.clock, "  ", False, actor="root",
                                source="test")
        smtp.handler.behaviour = "accept"
        cloud_ctx.events.publish(ok(cloud_ctx))
        cloud_ctx.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
        assert await notifier.run_once() == 0
        assert smtp.received == []
    assert [m.state for m in mails(cloud_ctx)] == [service.CANCELLED]


def test_an_address_needs_cloud_extensions_and_an_smtp_server(ctx: ControllerContext) -> None:
    from tests.controller.conftest import set_up

    def set_address() -> None:
        with ctx.factory() as session, session.begin():
            service.set_address(session, ctx.clock, ADDRESS, False, actor="root", source="t")

    set_up(ctx)  # cloud extensions off
    with pytest.raises(service.NotificationsRefused, match="cloud extensions"):
        set_address()
    with ctx.factory() as session, session.begin():
        session.execute(text("UPDATE system_settings SET cloud_extensions = 1, "
                             "cloud_location = 'eu-de'"))
    with pytest.raises(service.NotificationsRefused, match="SMTP server"):
        set_address()
    with ctx.factory() as session, session.begin():
        service.set_smtp(session, ctx.clock, host="mail.example.org", port=587,
                         security="starttls", username="", password=None, clear_password=False,
                         from_address=SENDER, ca_pem="", actor="root", source="t")
    set_address()
    with ctx.factory() as session:
        assert service.enabled(session)


@pytest.mark.parametrize("address", ["not an address", "a@b@c", "x@", "two@a.org, b@c.org",
                                     "line@break.org\nBcc: x@y.org", "a" * 65 + "@b.org"])
def test_bad_addresses_are_refused(cloud_ctx: ControllerContext, address: str) -> None:
    with cloud_ctx.factory() as session, session.begin(), pytest.raises(FieldsRefused):
        service.set_address(session, cloud_ctx.clock, address, False, actor="r", source="t")


def test_the_password_is_sealed_and_never_in_the_audit_log(
        cloud_ctx: ControllerContext) -> None:
    secret = "Very secret SMTP password 42"
    with cloud_ctx.factory() as session, session.begin():
        service.set_smtp(session, cloud_ctx.clock, host="mail.example.org", port=465,
                         security="tls", username="mailer", password=secret,
                         clear_password=False, from_address=SENDER, ca_pem="", actor="root",
                         source="t")
    files = sorted(cloud_ctx.settings.data_dir.glob("bodyworn.db*"))
    assert files
    raw = b"".join(f.read_bytes() for f in files)
    with cloud_ctx.factory() as session:
        dump = "\n".join(session.connection().connection.iterdump())  # type: ignore[attr-defined]
        assert service.smtp_config(session).password == secret  # type: ignore[union-attr]
    assert secret not in dump and secret.encode() not in raw
    # Saving again without a password keeps it; forgetting it removes it.
    with cloud_ctx.factory() as session, session.begin():
        service.set_smtp(session, cloud_ctx.clock, host="mail.example.org", port=465,
                         security="tls", username="mailer", password=None,
                         clear_password=False, from_address=SENDER, ca_pem="", actor="root",
                         source="t")
        assert service.smtp_config(session).password == secret  # type: ignore[union-attr]
        service.set_smtp(session, cloud_ctx.clock, host="mail.example.org", port=465,
                         security="tls", username="mailer", password=None,
                         clear_password=True, from_address=SENDER, ca_pem="", actor="root",
                         source="t")
        assert service.smtp_config(session).password is None  # type: ignore[union-attr]


async def test_other_features_queue_mail_through_the_outbox(
        cloud_ctx: ControllerContext, notifier: Notifier) -> None:
    with smtp_server() as smtp:
        configure(cloud_ctx, smtp)
        with cloud_ctx.factory() as session, session.begin():
            service.queue_mail(session, cloud_ctx.clock, to="officer@example.org",
                               subject="Pair your assistant", body="PIN 123456")
        assert await notifier.run_once() == 1
        (got,) = smtp.received
    assert got.recipients == ["officer@example.org"]


def test_every_mail_text_has_a_swedish_translation() -> None:
    from bodyworn.i18n.catalog import translations

    sv = translations("sv")
    for msgid in texts.all_msgids():
        assert sv.gettext(msgid) != msgid, msgid


def test_a_problem_that_never_started_does_not_clear(cloud_ctx: ControllerContext) -> None:
    with cloud_ctx.factory() as session, session.begin():
        assert service.record_problem(session, cloud_ctx.clock, texts.STORAGE, False) is None
        count = session.scalar(select(func.count()).select_from(QueuedMail))
    assert count == 0
