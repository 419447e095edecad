"""JSON twins of Settings → Email notifications."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from bodyworn.controller.notifications import service
from bodyworn.controller.web.routes import run, who

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


class SmtpInfo(BaseModel):
    """The SMTP server (the password only as whether one is stored)."""

    host: str | None
    port: int
    security: str
    username: str | None
    password_set: bool
    from_address: str | None
    ca_pem: str | None


class QueueInfo(BaseModel):
    """The mail queue."""

    waiting: int
    last_error: str | None
    retry_at: datetime | None
    last_sent_at: datetime | None


class NotificationsInfo(BaseModel):
    """Where notifications go and whether they are sent."""

    address: str | None
    enabled: bool
    cloud_extensions: bool
    smtp: SmtpInfo
    queue: QueueInfo
    active_problems: list[str]


class AddressBody(BaseModel):
    """The address (empty or null: notifications off) and whether to send a test mail."""

    model_config = ConfigDict(extra="forbid")
    address: str | None = Field(default=None, max_length=service.ADDRESS_MAX)
    send_test: bool = False


class SmtpBody(BaseModel):
    """The SMTP server. Leave `password` out to keep the stored one; `clear_password` forgets it."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field(max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: str = Field(default="starttls", max_length=8)
    username: str = Field(default="", max_length=255)
    password: str | None = Field(default=None, max_length=service.SECRET_MAX)
    clear_password: bool = False
    from_address: str = Field(max_length=service.ADDRESS_MAX)
    ca_pem: str = Field(default="", max_length=service.CA_PEM_MAX)


class MailInfo(BaseModel):
    """One queued mail (its text is not repeated here)."""

    message_id: str
    kind: str
    problem: str | None
    to: str
    subject: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None


def _info(session: Session) -> NotificationsInfo:
    row = service.current(session)
    q = service.queue_status(session)
    return NotificationsInfo(
        address=row.address, enabled=service.enabled(session),
        cloud_extensions=service.cloud_on(session),
        smtp=SmtpInfo(host=row.smtp_host, port=row.smtp_port, security=row.smtp_security,
                      username=row.smtp_username,
                      password_set=row.smtp_password_sealed is not None,
                      from_address=row.from_address, ca_pem=row.smtp_ca_pem),
        queue=QueueInfo(waiting=q.waiting, last_error=q.last_error, retry_at=q.retry_at,
                        last_sent_at=q.last_sent_at),
        active_problems=[p.key for p in service.active_problems(session)],
    )


def _mails(session: Session, limit: int) -> list[MailInfo]:
    return [MailInfo(message_id=m.message_id, kind=m.kind, problem=m.problem_key,
                     to=m.to_address, subject=m.subject, state=m.state, attempts=m.attempts,
                     last_error=m.last_error, created_at=m.created_at,
                     next_attempt_at=m.next_attempt_at, sent_at=m.sent_at)
            for m in service.recent(session, limit)]


@router.get("", response_model=NotificationsInfo)
async def get_notifications(request: Request) -> NotificationsInfo:
    """The notification settings and the queue."""
    return await run(request).read(_info)


@router.put("", response_model=NotificationsInfo)
async def put_address(request: Request, body: AddressBody) -> NotificationsInfo:
    """Set the address (409 while cloud extensions are off or no SMTP server is set); an
    empty one stops notifications and drops mail not sent yet."""
    await run(request).write(service.set_address, body.address or "", body.send_test,
                             **who(request))
    return await run(request).read(_info)


@router.put("/smtp", response_model=NotificationsInfo)
async def put_smtp(request: Request, body: SmtpBody) -> NotificationsInfo:
    """Set the SMTP server."""
    await run(request).write(
        service.set_smtp, host=body.host, port=body.port or service.default_port(body.security),
        security=body.security, username=body.username, password=body.password,
        clear_password=body.clear_password, from_address=body.from_address,
        ca_pem=body.ca_pem, **who(request))
    return await run(request).read(_info)


@router.get("/mails", response_model=list[MailInfo])
async def get_mails(request: Request, limit: int = Query(20, ge=1, le=200)) -> list[MailInfo]:
    """The newest mails, waiting, sent or cancelled."""
    return await run(request).read(_mails, limit)
