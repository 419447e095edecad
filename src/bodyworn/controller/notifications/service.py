"""Email notifications: settings, the problems they report, and the durable mail queue.

A critical event changes a problem's recorded state (`record_problem`); a change, and only
a change, queues a mail in the same transaction, so a problem that started gets one mail
and its end another, however often the event is published. The queue is an outbox: the
sender (sender.py) reads what is due, sends it and marks it sent in a commit of its own.

The manual ties email notifications to cloud extensions: an address can be set only
while they are on (docs/notifications.md says what that means here).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid
from zoneinfo import ZoneInfo

from cryptography import x509
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bodyworn.controller.audit.service import record
from bodyworn.controller.events import MailQueued, emit
from bodyworn.controller.notifications import texts
from bodyworn.controller.notifications.mailer import DEFAULT_PORTS, SECURITY_MODES, SmtpConfig
from bodyworn.controller.notifications.models import (
    MAIL_CONTENT_PURPOSE,
    SMTP_PASSWORD_PURPOSE,
    NotificationProblem,
    NotificationSettings,
    QueuedMail,
)
from bodyworn.controller.refusals import FieldError, FieldsRefused, Refused
from bodyworn.controller.setup.models import SystemSettings
from bodyworn.domain.clock import Clock
from bodyworn.store.secrets import box_of

# Mail kinds and states (one vocabulary, STYLE 6). PAIRING: an Assistant pairing sent to a
# user (sealed); the others go to the notification address.
PROBLEM, CLEARED, TEST, OTHER, PAIRING = "problem", "cleared", "test", "other", "pairing"
TO_NOTIFICATION_ADDRESS = (PROBLEM, CLEARED, TEST)
SEALED_BODY = "(sealed: the content is sent once and then removed)"
PENDING, SENT, CANCELLED = "pending", "sent", "cancelled"
STATE_LABELS = {PENDING: "Waiting", SENT: "Sent", CANCELLED: "Cancelled"}

ADDRESS_MAX = 254
# One address: no spaces, no list separators, no header-breaking characters.
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]{1,64}"
                      r"@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.:-]{0,253}[A-Za-z0-9])?$")
CA_PEM_MAX = 64 * 1024
SECRET_MAX = 1024


class NotificationsRefused(Refused):
    """A change that is not possible now (no SMTP server yet, cloud extensions off)."""

    status = 409


def current(session: Session) -> NotificationSettings:
    """The notification settings (defaults, not stored, until first set)."""
    row = session.get(NotificationSettings, 1)
    if row is not None:
        return row
    return NotificationSettings(id=1, address=None, smtp_port=587, smtp_security="starttls")


def _row(session: Session, clock: Clock) -> NotificationSettings:
    row = session.get(NotificationSettings, 1)
    if row is None:
        row = NotificationSettings(id=1, smtp_port=587, smtp_security="starttls",
                                   updated_at=clock.now())
        session.add(row)
    return row


def _system(session: Session) -> SystemSettings | None:
    return session.get(SystemSettings, 1)


def cloud_on(session: Session) -> bool:
    """Whether cloud extensions are on (email notifications need them)."""
    system = _system(session)
    return bool(system and system.cloud_extensions)


def smtp_ready(row: NotificationSettings) -> bool:
    """Whether an SMTP server is set."""
    return bool(row.smtp_host and row.from_address)


def enabled(session: Session) -> bool:
    """Whether notification mail is being sent: an address, an SMTP server, cloud on."""
    row = current(session)
    return bool(row.address) and smtp_ready(row) and cloud_on(session)


def check_address(address: str, field: str = "address") -> list[FieldError]:
    """One mail address (a mailing list reaches several people)."""
    if len(address) > ADDRESS_MAX or not _ADDRESS.match(address):
        return [FieldError(field, "must be one email address, such as ops@example.org")]
    return []


def set_address(session: Session, clock: Clock, address: str, send_test: bool, *,
                actor: str, source: str) -> NotificationSettings:
    """Set where notifications go (empty: stop them, and drop mail not sent yet); with
    `send_test` a test mail is queued to the address."""
    address = address.strip()
    row = _row(session, clock)
    if not address:
        row.address = None
        row.updated_at = clock.now()
        dropped = _cancel_pending(session)
        record(session, clock, actor=actor, action="notifications.address",
               detail=f"notifications off; {dropped} unsent mail dropped", source=source)
        return row
    errors = check_address(address)
    if errors:
        raise FieldsRefused(errors)
    if not cloud_on(session):
        raise NotificationsRefused("Email notifications need cloud extensions: turn them on "
                                   "under Settings > Cloud first.")
    if not smtp_ready(row):
        raise NotificationsRefused("Set the SMTP server that sends the mail first.")
    old = row.address
    row.address = address
    row.updated_at = clock.now()
    # Notification mail still waiting goes to the address set now (mail to users stays).
    session.execute(update(QueuedMail).where(QueuedMail.state == PENDING,
                                             QueuedMail.kind.in_(TO_NOTIFICATION_ADDRESS))
                    .values(to_address=address))
    detail = f"'{old or ''}' -> '{address}'"
    if send_test:
        system = _system(session)
        subject, body = texts.test_mail(system=_system_name(system),
                                        language=system.language if system else "en")
        queue_mail(session, clock, to=address, subject=subject, body=body, kind=TEST)
        detail += ", test mail queued"
    record(session, clock, actor=actor, action="notifications.address", detail=detail,
           source=source)
    return row


def _check_smtp(host: str, port: int, security: str, username: str, password: str | None,
                from_address: str, ca_pem: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not _HOST.match(host):
        errors.append(FieldError("smtp_host", "must be a host name or an IP address"))
    if not 1 <= port <= 65535:
        errors.append(FieldError("smtp_port", "must be a port number from 1 to 65535"))
    if security not in SECURITY_MODES:
        errors.append(FieldError("smtp_security", "must be STARTTLS or TLS"))
    if len(username) > 255 or any(c in username for c in "\r\n\0"):
        errors.append(FieldError("smtp_username", "must be one line of at most 255 characters"))
    if password is not None and (len(password) > SECRET_MAX or "\0" in password):
        errors.append(FieldError("smtp_password", "must be at most 1024 characters"))
    errors += check_address(from_address, "from_address")
    if ca_pem:
        try:
            if len(ca_pem) > CA_PEM_MAX or not x509.load_pem_x509_certificates(ca_pem.encode()):
                raise ValueError
        except ValueError:
            errors.append(FieldError("smtp_ca_pem", "must be certificates in PEM format"))
    return errors


def set_smtp(session: Session, clock: Clock, *, host: str, port: int, security: str,
             username: str, password: str | None, clear_password: bool, from_address: str,
             ca_pem: str, actor: str, source: str) -> NotificationSettings:
    """Set the SMTP server. `password` None keeps the stored one (it is never shown back);
    `clear_password` forgets it. Mail waiting for a retry is tried again at once."""
    host, username, from_address = host.strip(), username.strip(), from_address.strip()
    ca_pem = ca_pem.strip()
    errors = _check_smtp(host, port, security, username, password, from_address, ca_pem)
    if errors:
        raise FieldsRefused(errors)
    row = _row(session, clock)
    row.smtp_host, row.smtp_port, row.smtp_security = host, port, security
    row.smtp_username = username or None
    row.from_address = from_address
    row.smtp_ca_pem = ca_pem or None
    if clear_password or not username:
        row.smtp_password_sealed = None
    elif password:
        row.smtp_password_sealed = box_of(session).seal(password.encode(), SMTP_PASSWORD_PURPOSE)
    now = clock.now()
    row.updated_at = now
    session.execute(update(QueuedMail).where(QueuedMail.state == PENDING)
                    .values(next_attempt_at=now))
    login = f", login as {row.smtp_username}" if row.smtp_username else ", no login"
    record(session, clock, actor=actor, action="notifications.smtp",
           detail=f"{host}:{port} {SECURITY_MODES[security]}{login}", source=source)
    return row


def default_port(security: str) -> int:
    """The usual port of a security mode."""
    return DEFAULT_PORTS.get(security, 587)


def smtp_config(session: Session) -> SmtpConfig | None:
    """How to reach the SMTP server (the password opened), or None when none is set."""
    row = current(session)
    if not smtp_ready(row):
        return None
    password = (box_of(session).open(row.smtp_password_sealed, SMTP_PASSWORD_PURPOSE).decode()
                if row.smtp_password_sealed else None)
    return SmtpConfig(host=row.smtp_host or "", port=row.smtp_port, security=row.smtp_security,
                      from_address=row.from_address or "", username=row.smtp_username,
                      password=password, ca_pem=row.smtp_ca_pem)


def _system_name(system: SystemSettings | None) -> str:
    return system.system_name if system else "bodyworn"


def _domain(session: Session) -> str:
    sender = current(session).from_address or ""
    return sender.rsplit("@", 1)[-1] if "@" in sender else "bodyworn.invalid"


@dataclass(frozen=True)
class Attachment:
    """A file sent with a mail."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class MailContent:
    """A mail's text and attachments (what a sealed mail keeps sealed)."""

    body: str
    attachments: tuple[Attachment, ...] = ()

    def to_bytes(self) -> bytes:
        return json.dumps({"body": self.body, "attachments": [
            {"filename": a.filename, "content_type": a.content_type,
             "data": base64.b64encode(a.data).decode("ascii")} for a in self.attachments]}
        ).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> MailContent:
        doc = json.loads(data)
        return cls(doc["body"], tuple(Attachment(a["filename"], a["content_type"],
                                                 base64.b64decode(a["data"]))
                                      for a in doc["attachments"]))


def content_of(session: Session, mail: QueuedMail) -> MailContent:
    """What a queued mail says (a sealed one opened)."""
    if mail.sealed is None:
        return MailContent(mail.body)
    return MailContent.from_bytes(box_of(session).open(mail.sealed, MAIL_CONTENT_PURPOSE))


def can_mail(session: Session) -> bool:
    """Whether mail can be sent at all: an SMTP server is set and cloud extensions are on
    (the rule notifications follow; an address for notifications is not needed)."""
    return smtp_ready(current(session)) and cloud_on(session)


def queue_mail(session: Session, clock: Clock, *, to: str, subject: str, body: str,
               kind: str = OTHER, problem_key: str | None = None,
               attachments: tuple[Attachment, ...] = (), sealed: bool = False) -> QueuedMail:
    """Queue one mail in the caller's transaction; it is sent after that commits.

    Other features (an Assistant pairing mail) send through this too. `sealed`: the text
    and attachments carry a secret: they are kept sealed with the secrets key, and emptied
    once the mail is sent (or cancelled).
    """
    now = clock.now()
    content = MailContent(body, attachments)
    mail = QueuedMail(
        message_id=make_msgid(domain=_domain(session)), kind=kind, problem_key=problem_key,
        to_address=to, subject=_one_line(subject)[:255],
        body=SEALED_BODY if sealed else body, state=PENDING, attempts=0,
        next_attempt_at=now, created_at=now,
        sealed=box_of(session).seal(content.to_bytes(), MAIL_CONTENT_PURPOSE)
        if sealed or attachments else None,
    )
    session.add(mail)
    session.flush()
    emit(session, MailQueued(mail.id))
    return mail


def _one_line(text: str) -> str:
    return " ".join(text.split())


def record_problem(session: Session, clock: Clock, key: str, active: bool,
                   detail: str = "") -> QueuedMail | None:
    """Record a critical condition's state; on a change, queue its mail (when mail is on).

    The same state reported again (every poll, a publisher starting over after a restart)
    changes nothing and sends nothing.
    """
    texts.wording(key)  # refuses an unknown problem (KeyError)
    now = clock.now()
    row = session.get(NotificationProblem, key)
    if row is None:
        if not active:
            return None  # never was a problem: nothing has cleared
        row = NotificationProblem(key=key, active=True, detail=detail, changed_at=now)
        session.add(row)
    elif row.active == active:
        return None
    else:
        row.active, row.detail, row.changed_at = active, detail, now
    if not enabled(session):
        return None
    system = _system(session)
    tz = ZoneInfo(system.timezone) if system else ZoneInfo("UTC")
    subject, body = texts.problem_mail(
        key, active, system=_system_name(system), detail=detail,
        when=now.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z"),
        language=system.language if system else "en")
    return queue_mail(session, clock, to=current(session).address or "", subject=subject,
                      body=body, kind=PROBLEM if active else CLEARED, problem_key=key)


def active_problems(session: Session) -> list[NotificationProblem]:
    """The critical conditions going on now, as notifications know them."""
    return list(session.scalars(select(NotificationProblem)
                                .where(NotificationProblem.active.is_(True))
                                .order_by(NotificationProblem.changed_at)))


def _cancel_pending(session: Session) -> int:
    """Drop notification mail not sent yet (mail to users, such as pairings, stays)."""
    result = session.execute(update(QueuedMail).where(
        QueuedMail.state == PENDING, QueuedMail.kind.in_(TO_NOTIFICATION_ADDRESS))
        .values(state=CANCELLED, sealed=None))
    return int(getattr(result, "rowcount", 0) or 0)


def due(session: Session, now: datetime, limit: int = 20) -> list[QueuedMail]:
    """Mail waiting to be sent whose time has come, oldest first."""
    return list(session.scalars(
        select(QueuedMail).where(QueuedMail.state == PENDING, QueuedMail.next_attempt_at <= now)
        .order_by(QueuedMail.id).limit(limit)))


def next_due_at(session: Session) -> datetime | None:
    """When the next waiting mail is due (None: nothing waits)."""
    return session.scalar(select(func.min(QueuedMail.next_attempt_at))
                          .where(QueuedMail.state == PENDING))


def mark_sent(session: Session, clock: Clock, mail_id: int) -> None:
    """The SMTP server accepted the mail."""
    mail = session.get(QueuedMail, mail_id)
    if mail is not None and mail.state == PENDING:
        mail.state, mail.sent_at, mail.last_error = SENT, clock.now(), None
        mail.attempts += 1
        mail.sealed = None  # a secret it carried is not kept once it left


def mark_failed(session: Session, clock: Clock, mail_id: int, error: str,
                retry_in: Callable[[int], timedelta]) -> None:
    """The attempt failed: say why, and when to try again (`retry_in(attempts)`). Mail
    queued behind it waits as long, so an outage costs one attempt per back-off, not one
    per mail."""
    mail = session.get(QueuedMail, mail_id)
    if mail is None or mail.state != PENDING:
        return
    mail.attempts += 1
    mail.last_error = error[:2000]
    mail.next_attempt_at = clock.now() + retry_in(mail.attempts)
    session.execute(update(QueuedMail).where(
        QueuedMail.state == PENDING, QueuedMail.id != mail_id,
        QueuedMail.next_attempt_at < mail.next_attempt_at).values(
            next_attempt_at=mail.next_attempt_at))


@dataclass(frozen=True)
class QueueStatus:
    """What the page says about the queue."""

    waiting: int
    last_error: str | None
    retry_at: datetime | None
    last_sent_at: datetime | None


def queue_status(session: Session) -> QueueStatus:
    """How many mails wait, the newest failure among them, the last one sent."""
    waiting = session.scalar(select(func.count()).select_from(QueuedMail)
                             .where(QueuedMail.state == PENDING)) or 0
    failing = session.scalars(
        select(QueuedMail).where(QueuedMail.state == PENDING, QueuedMail.last_error.is_not(None))
        .order_by(QueuedMail.id.desc()).limit(1)).first()
    last_sent = session.scalar(select(func.max(QueuedMail.sent_at)))
    return QueueStatus(waiting, failing.last_error if failing else None,
                       failing.next_attempt_at if failing else None, last_sent)


def recent(session: Session, limit: int = 20) -> Sequence[QueuedMail]:
    """The newest mails, whatever their state."""
    return session.scalars(select(QueuedMail).order_by(QueuedMail.id.desc()).limit(limit)).all()


# ---- the system backup (backup/) -------------------------------------------------------


def export_settings(session: Session) -> dict[str, object] | None:
    """The notification settings as the system backup keeps them (the SMTP password opened:
    the backup is sealed as a whole); None when they were never set."""
    row = session.get(NotificationSettings, 1)
    if row is None:
        return None
    password = None if row.smtp_password_sealed is None else \
        box_of(session).open(row.smtp_password_sealed, SMTP_PASSWORD_PURPOSE).decode("utf-8")
    return {"address": row.address, "from_address": row.from_address,
            "smtp_ca_pem": row.smtp_ca_pem, "smtp_host": row.smtp_host,
            "smtp_password": password, "smtp_port": row.smtp_port,
            "smtp_security": row.smtp_security, "smtp_username": row.smtp_username}


def import_settings(session: Session, clock: Clock, values: dict[str, object]) -> None:
    """Settings from a system backup (ValueError when they break the rules)."""
    security, port = values["smtp_security"], values["smtp_port"]
    if security not in SECURITY_MODES or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError("the mail server settings are not valid")
    for key in ("address", "from_address"):
        value = values[key]
        if isinstance(value, str) and check_address(value, key):
            raise ValueError(f"the notification {key.replace('_', ' ')} is not valid")
    row = _row(session, clock)
    for key in ("address", "from_address", "smtp_ca_pem", "smtp_host", "smtp_username"):
        value = values[key]
        setattr(row, key, value if isinstance(value, str) else None)
    row.smtp_port, row.smtp_security = port, str(security)
    password = values["smtp_password"]
    row.smtp_password_sealed = None if not isinstance(password, str) else \
        box_of(session).seal(password.encode("utf-8"), SMTP_PASSWORD_PURPOSE)
    row.updated_at = clock.now()
