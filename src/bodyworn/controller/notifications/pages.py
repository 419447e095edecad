"""Settings → Email notifications: the address (with a test mail) and the SMTP server."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from bodyworn.controller.context import render
from bodyworn.controller.notifications import service, texts
from bodyworn.controller.notifications.mailer import SECURITY_MODES
from bodyworn.controller.refusals import FieldError, FieldsRefused
from bodyworn.controller.web.routes import run, who

router = APIRouter(include_in_schema=False)


def page_state(session: Session) -> dict[str, Any]:
    """What the page shows: settings (never the password), cloud, the queue."""
    row = service.current(session)
    return {
        "s": row, "password_set": row.smtp_password_sealed is not None,
        "cloud_on": service.cloud_on(session), "smtp_ready": service.smtp_ready(row),
        "enabled": service.enabled(session), "queue": service.queue_status(session),
        "problems": [_problem_label(p.key) for p in service.active_problems(session)],
        "mails": service.recent(session, 10),
    }


def _problem_label(key: str) -> tuple[str, str]:
    words, name = texts.wording(key)
    return words.started, name


async def _page(request: Request, *, errors: list[FieldError] | None = None,
                refusal: str | None = None, saved: str | None = None,
                status_code: int = 200) -> Response:
    state = await run(request).read(page_state)
    return render(request, "notifications/settings.html", {
        **state, "security_modes": SECURITY_MODES, "labels": service.STATE_LABELS,
        "errors": {e.field: e.message for e in errors or []}, "refusal": refusal,
        "saved": saved,
    }, status_code=status_code)


@router.get("/settings/notifications")
async def notifications_page(request: Request) -> Response:
    """Settings → Email notifications."""
    return await _page(request)


@router.post("/settings/notifications")
async def notifications_set(request: Request, address: str = Form(""),
                            send_test: str = Form("")) -> Response:
    """Set (or, empty, remove) the address; optionally queue a test mail."""
    try:
        row = await run(request).write(service.set_address, address, send_test == "on",
                                       **who(request))
    except FieldsRefused as exc:
        return await _page(request, errors=exc.errors, status_code=400)
    except service.NotificationsRefused as exc:
        return await _page(request, refusal=exc.message, status_code=exc.status)
    if row.address is None:
        return await _page(request, saved="Email notifications are off.")
    if send_test == "on":
        return await _page(request, saved="Saved. A test email is on its way.")
    return await _page(request, saved="Saved.")


@router.post("/settings/notifications/smtp")
async def smtp_set(
    request: Request,
    smtp_host: str = Form(""),
    smtp_port: str = Form(""),
    smtp_security: str = Form("starttls"),
    smtp_username: str = Form(""),
    smtp_password: str = Form(""),
    forget_password: str = Form(""),
    from_address: str = Form(""),
    smtp_ca_pem: str = Form(""),
) -> Response:
    """Set the SMTP server; an empty password field keeps the stored password."""
    try:
        port = int(smtp_port) if smtp_port.strip() else service.default_port(smtp_security)
    except ValueError:
        return await _page(request, errors=[FieldError("smtp_port", "must be a port number "
                                                       "from 1 to 65535")], status_code=400)
    try:
        await run(request).write(
            service.set_smtp, host=smtp_host, port=port, security=smtp_security,
            username=smtp_username, password=smtp_password or None,
            clear_password=bool(forget_password), from_address=from_address,
            ca_pem=smtp_ca_pem, **who(request))
    except FieldsRefused as exc:
        return await _page(request, errors=exc.errors, status_code=400)
    return await _page(request, saved="SMTP server saved.")
