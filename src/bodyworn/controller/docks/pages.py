"""The docking stations page."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import Response

from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.docks import service
from bodyworn.controller.system import service as system
from bodyworn.controller.web.routes import run
from bodyworn.docklink import wire as proto

router = APIRouter(include_in_schema=False)


@router.get("/docks")
async def docks_page(request: Request) -> Response:
    """Docking stations: each with its bays and what is docked where; the dock port token."""
    stations = await run(request).read(service.list_stations)
    zone = ZoneInfo(await run(request).read(lambda s: system.current(s).timezone))
    ctx = ctx_of(request)
    return render(request, "docks/list.html", {
        "stations": stations, "token": service.ensure_token(ctx.data_dir),
        "events_path": proto.EVENTS_PATH, "health": ctx.health,
        "local_time": lambda moment: f"{moment.astimezone(zone):%H:%M %Z}",
    })
