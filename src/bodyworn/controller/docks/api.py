"""The dock event endpoint stations post to (dock port token), and the docks API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from bodyworn.controller.context import ControllerContext, ctx_of
from bodyworn.controller.docks import service
from bodyworn.controller.web.routes import run
from bodyworn.docklink import wire as proto
from bodyworn.docklink.errors import MessageError
from bodyworn.docklink.messages import StationEvent
from bodyworn.domain import strict_json

machine = APIRouter(tags=["machines"])
router = APIRouter(prefix="/api/v1/docks", tags=["docks"])


def require_dock_token(request: Request) -> None:
    """Refuse a machine request (station, dock reader) without the dock port token."""
    if not service.token_matches(ctx_of(request).data_dir, request.headers.get("authorization")):
        raise HTTPException(401, "the dock port token is missing or wrong",
                            headers={"WWW-Authenticate": 'Bearer realm="dock port"'})


@machine.post(proto.EVENTS_PATH, status_code=202)
async def dock_event(request: Request) -> Response:
    """A docking station reports a dock or undock (needs the dock port token)."""
    require_dock_token(request)
    try:
        data = strict_json.load_object(await request.body())
    except strict_json.JsonRefused as exc:
        return JSONResponse({"detail": f"the body is not acceptable: {exc}"}, status_code=400)
    try:
        event = StationEvent.from_json(data)
    except MessageError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    await run(request).call(_handle, event)
    return JSONResponse({"accepted": event.event, "camera_serial": event.camera_serial},
                        status_code=202)


def _handle(ctx: ControllerContext, event: StationEvent) -> None:
    # The docking orchestrator (docking/, wired by app.py) does the work.
    assert ctx.docking is not None, "create_app gives every controller its docking"
    ctx.docking.handle(event)


class BayOut(BaseModel):
    """One bay and the camera in it."""

    bay: int
    camera_serial: str | None
    camera_state: str | None


class StationOut(BaseModel):
    """A docking station."""

    serial: str
    model: str
    station_url: str
    last_event_at: datetime
    # Whether it answered when last asked (None: not asked yet), and when that was.
    answering: bool | None
    checked_at: datetime | None
    bays: list[BayOut]


@router.get("", response_model=list[StationOut])
async def list_docks(request: Request) -> list[dict[str, Any]]:
    """Docking stations with their bays and what is docked where."""
    stations = await run(request).read(service.list_stations)
    health = ctx_of(request).health
    found = {s.serial: health.station(s.serial) for s in stations}
    return [{"serial": s.serial, "model": s.model, "station_url": s.station_url,
             "last_event_at": s.last_event_at,
             "answering": h.answering if (h := found[s.serial]) is not None else None,
             "checked_at": h.checked_at if h is not None else None,
             "bays": [b.__dict__ for b in s.bays]} for s in stations]
