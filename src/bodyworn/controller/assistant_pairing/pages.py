"""Users → user → pair → AXIS Body Worn Assistant: Local or Remote, the QR code and PIN."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import RedirectResponse, Response

from bodyworn.controller.assistant_pairing import delivery, service
from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.users import service as users
from bodyworn.controller.web.routes import run, who

router = APIRouter(include_in_schema=False)
NO_USER = "No such user."
NO_PAIRING = "No such pairing."
PairingId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@router.get("/users/{user_uuid}/assistant/pair")
async def pair_page(request: Request, user_uuid: str) -> Response:
    """Choose Local or Remote pairing for a user."""
    user = await run(request, NO_USER).read(users.get, user_uuid)
    return render(request, "assistant_pairing/start.html", {"user": user, "error": ""})


@router.post("/users/{user_uuid}/assistant/pair")
async def pair_start(request: Request, user_uuid: str) -> Response:
    """Issue the pairing; a docked camera of the user learns it at once."""
    mode = str((await request.form()).get("mode") or "")
    try:
        pairing_id = await run(request, NO_USER).write(service.start, user_uuid, mode,
                                                       **who(request))
    except service.PairingRefused as exc:
        user = await run(request, NO_USER).read(users.get, user_uuid)
        return render(request, "assistant_pairing/start.html",
                      {"user": user, "error": exc.message}, status_code=exc.status)
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
        "user": user, "pairing": view, "code": code,
        "handover": delivery.handover_for().kind,
    })


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
    delivery.handover_for().hand_over(sheet, html)
    return Response(html, media_type="text/html; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="assistant-pairing.html"',
        "Cache-Control": "no-store",
    })
