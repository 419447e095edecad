"""The docking stations page."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.docks import service
from bodyworn.controller.web.routes import run, who
from bodyworn.docklink import wire as proto

router = APIRouter(include_in_schema=False)


@router.get("/docks")
async def docks_page(request: Request) -> Response:
    """Docking stations: each with its bays and what is docked where; the dock port token
    only once the super admin passphrase was given (POST /docks/token)."""
    return await _page(request)


async def _page(request: Request, token: str = "", error: str = "",
                status_code: int = 200) -> Response:
    stations = await run(request).read(service.list_stations)
    ctx = ctx_of(request)
    return render(request, "docks/list.html", {
        "stations": stations, "token": token, "error": error,
        "events_path": proto.EVENTS_PATH, "health": ctx.health,
    }, status_code=status_code)


@router.post("/docks/token")
async def reveal_token(request: Request, passphrase: str = Form("", max_length=1024)
                       ) -> Response:
    """Show the dock port token to the one who gives the super admin passphrase."""
    try:
        token = await run(request).write(service.reveal_token, ctx_of(request).data_dir,
                                         passphrase, **who(request))
    except service.TokenRefused as exc:
        return await _page(request, error=exc.message, status_code=exc.status)
    response = await _page(request, token=token)
    response.headers["Cache-Control"] = "no-store"
    return response
