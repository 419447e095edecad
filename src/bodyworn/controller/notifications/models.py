"""Email notifications: the settings (one row), the problems they report, the mail queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bodyworn.store.db import Base
from bodyworn.store.types import UTCDateTime

# What the sealed SMTP password is, bound into its seal.
SMTP_PASSWORD_PURPOSE = "notification_settings.smtp_password"  # noqa: S105 (a label)
# What a sealed mail's content is (a mail that carries a secret, such as a pairing code).
MAIL_CONTENT_PURPOSE = "mail_outbox.sealed"


class NotificationSettings(Base):
    """Where notifications go and the SMTP server that takes them (one row, made on first use)."""

    __tablename__ = "notification_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("smtp_security IN ('starttls', 'tls')", name="smtp_security"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The one address notifications go to (a mailing list for several people); None: off.
    address: Mapped[str | None] = mapped_column(String(254))
    from_address: Mapped[str | None] = mapped_column(String(254))
    smtp_host: Mapped[str | None] = mapped_column(String(255))
    smtp_port: Mapped[int] = mapped_column(Integer, default=587)
    # STARTTLS on a plain connection, or TLS from the first byte ("implicit", port 465).
    smtp_security: Mapped[str] = mapped_column(String(8), default="starttls")
    smtp_username: Mapped[str | None] = mapped_column(String(255))
    # Sealed with the secrets key (store/secrets.py); never shown back, never logged.
    smtp_password_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The certificate authority that signed the SMTP server's certificate, when it is not one
    # the operating system trusts (PEM).
    smtp_ca_pem: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NotificationProblem(Base):
    """A critical condition as notifications last reported it: mail goes out on a change only."""

    __tablename__ = "notification_problem"

    # "content_destination", "storage", "backup", "extension:<controller>"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text, default="")
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class QueuedMail(Base):
    """One mail to send (the outbox): written in the transaction of the change it reports,
    marked sent in a commit of its own once the SMTP server accepted it."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The Message-ID header: the same on every attempt, so a mail sent twice after a crash
    # between the server's acceptance and our commit is recognisably one mail.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # MailKind
    problem_key: Mapped[str | None] = mapped_column(String(160))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    # A mail that carries a secret (an Assistant pairing code): its text and attachments
    # sealed with the secrets key, `body` a placeholder; emptied once sent or cancelled.
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(12), index=True)  # MailState
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
