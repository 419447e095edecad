"""Support → System reset."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from bodyworn.controller.accounts.guard import SESSION_COOKIE
from bodyworn.controller.context import render
from bodyworn.controller.reset import service
from bodyworn.controller.web.routes import run, who

router = APIRouter(include_in_schema=False)


@router.get("/support/reset")
async def reset_page(request: Request, refused: bool = False,
                     status_code: int = 200) -> Response:
    """What a reset does, and what still holds it up."""
    state = await run(request).call(service.state)
    return render(request, "reset/reset.html", {"state": state, "refused": refused},
                  status_code=409 if refused else status_code)


@router.post("/support/reset")
async def reset_submit(request: Request, confirm: str = Form("")) -> Response:
    """Reset the system; the browser goes on to the first-start wizard."""
    if confirm != "yes":
        return await reset_page(request, status_code=400)
    try:
        await run(request).call(service.reset, **who(request))
    except service.ResetRefused:
        return await reset_page(request, refused=True)
    response = RedirectResponse("/setup", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
