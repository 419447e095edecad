"""Users → user → pair → AXIS Body Worn Assistant: Local or Remote, the QR code and PIN."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from bodyworn.controller.assistant_pairing import delivery, service
from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.notifications import service as mail
from bodyworn.controller.refusals import FieldsRefused, Refused
from bodyworn.controller.users import service as users
from bodyworn.controller.web.routes import run, who

router = APIRouter(include_in_schema=False)
NO_USER = "No such user."
NO_PAIRING = "No such pairing."
PairingId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


async def _start_page(request: Request, user_uuid: str, error: str = "", email: str = "",
                      status_code: int = 200) -> Response:
    user = await run(request, NO_USER).read(users.get, user_uuid)
    mail_ok = await run(request).read(mail.can_mail)
    return render(request, "assistant_pairing/start.html", {
        "user": user, "error": error, "email": email, "mail_ok": mail_ok},
        status_code=status_code)


@router.get("/users/{user_uuid}/assistant/pair")
async def pair_page(request: Request, user_uuid: str) -> Response:
    """Choose Local or Remote pairing for a user (Remote: by mail when an address is given)."""
    return await _start_page(request, user_uuid)


def sheet_renderer(request: Request) -> Callable[[delivery.PairingSheet], bytes]:
    """Renders the pairing sheet in the system's language and time zone (attached to the
    pairing mail)."""
    ctx = ctx_of(request)
    return partial(delivery.render_sheet, ctx.templates.env, language=ctx.language,
                   zone=ctx.timezone)


@router.post("/users/{user_uuid}/assistant/pair")
async def pair_start(request: Request, user_uuid: str) -> Response:
    """Issue the pairing (and mail it for Remote with an address); a docked camera of the
    user learns it at once."""
    form = await request.form()
    mode, email = str(form.get("mode") or ""), str(form.get("email") or "").strip()
    ctx = ctx_of(request)
    try:
        if mode == "remote" and email:
            pairing_id = await run(request, NO_USER).write(
                service.start_by_mail, user_uuid, email, render=sheet_renderer(request),
                system_name=ctx.system_name, language=ctx.language, **who(request))
        else:
            pairing_id = await run(request, NO_USER).write(service.start, user_uuid, mode,
                                                           **who(request))
    except FieldsRefused as exc:
        return await _start_page(request, user_uuid, "Give one email address, such as "
                                 "name@example.org.", email, exc.status)
    except Refused as exc:
        return await _start_page(request, user_uuid, exc.message, email, exc.status)
    await run(request).call(service.push_to_user, user_uuid)
    return RedirectResponse(f"/users/{user_uuid}/assistant/{pairing_id}", status_code=303)


@router.get("/users/{user_uuid}/assistant/{pairing_id}")
async def pairing_page(request: Request, user_uuid: str, pairing_id: PairingId) -> Response:
    """The QR code and PIN while they are valid (Local), or the sheet to send (Remote)."""
    clock = ctx_of(request).clock
    view = await run(request, NO_PAIRING).read(service.view_of, clock, user_uuid, pairing_id)
    code = await run(request, NO_PAIRING).read(service.code_of, clock, user_uuid, pairing_id)
    user = await run(request, NO_USER).read(users.get, user_uuid)
    return render(request, "assistant_pairing/code.html", {
        "user": user, "pairing": view, "code": code})


@router.get("/users/{user_uuid}/assistant/{pairing_id}/sheet")
async def pairing_sheet(request: Request, user_uuid: str, pairing_id: PairingId) -> Response:
    """The pairing sheet (QR code and instructions, no PIN) to hand to the user."""
    ctx = ctx_of(request)
    code = await run(request, NO_PAIRING).read(service.code_of, ctx.clock, user_uuid,
                                               pairing_id)
    if code is None:
        return render(request, "error.html", {
            "status_code": 410,
            "message": "This pairing can no longer be used. Start a new pairing."}, 410)
    sheet = delivery.PairingSheet(code.user.name, code.user.user_id, ctx.system_name,
                                  code.qr_svg, code.text, code.pairing.expires_at)
    language = getattr(request.state, "language", None) or ctx.language
    html = delivery.render_sheet(ctx.templates.env, sheet, language, ctx.timezone)
    return Response(html, media_type="text/html; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="assistant-pairing.html"',
        "Cache-Control": "no-store",
    })
