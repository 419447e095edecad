"""JSON twins of the Devices pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from bodyworn.controller.assignment import service as assignment
from bodyworn.controller.cameras import service
from bodyworn.controller.context import ctx_of, source_of

router = APIRouter(prefix="/api/v1/cameras", tags=["cameras"])


class CameraOut(BaseModel):
    """A camera as the manager shows it."""

    serial: str
    state: str
    model: str
    firmware: str
    user_uuid: str | None
    user_name: str
    profile_name: str
    docked: bool
    station_serial: str | None
    bay: int | None
    locked: bool
    battery_charge: float | None
    battery_hours: float
    storage_hours: float
    live: bool
    seen_at: datetime
    added_at: datetime | None
    info: dict[str, Any]
    notice: str = ""


class AssignBody(BaseModel):
    """Who gets the camera (null: nobody)."""

    model_config = ConfigDict(extra="forbid")
    user_uuid: str | None = Field(default=None, max_length=36)


class PassphraseBody(BaseModel):
    """The super admin passphrase."""

    model_config = ConfigDict(extra="forbid")
    passphrase: str = Field(max_length=1024)


def out(view: service.CameraView, notice: str = "") -> dict[str, Any]:
    """A camera as JSON."""
    data = {name: getattr(view, name) for name in CameraOut.model_fields if name != "notice"}
    if notice:
        data["notice"] = notice
    return data


def _refused(exc: service.CameraRefused) -> JSONResponse:
    return JSONResponse({"detail": exc.message}, status_code=exc.status)


def _missing(serial: str) -> JSONResponse:
    return JSONResponse({"detail": f"no camera {serial}"}, status_code=404)


def _actor(request: Request) -> str:
    return str(request.state.account.username)


@router.get("", response_model=list[CameraOut])
async def list_cameras(request: Request, state: str | None = None) -> list[dict[str, Any]]:
    """Cameras (new ones too; filter with ?state=new|added|removing)."""
    ctx = ctx_of(request)

    def work() -> list[dict[str, Any]]:
        with ctx.factory() as session:
            return [out(v) for v in service.list_cameras(session, state)]

    return await run_in_threadpool(work)


@router.get("/{serial}", response_model=CameraOut)
async def get_camera(request: Request, serial: str) -> Response | dict[str, Any]:
    """One camera, read live over the dock link when docked."""
    ctx = ctx_of(request)
    await run_in_threadpool(assignment.expire_windows, ctx)
    try:
        return out(await run_in_threadpool(service.refresh, ctx, serial))
    except LookupError:
        return _missing(serial)


@router.post("/{serial}/add", response_model=CameraOut)
async def add_camera(request: Request, serial: str) -> Response | dict[str, Any]:
    """Add a new docked camera to this system."""
    ctx = ctx_of(request)
    try:
        return out(await run_in_threadpool(lambda: service.add(
            ctx, serial, actor=_actor(request), source=source_of(request))))
    except LookupError:
        return _missing(serial)
    except service.CameraRefused as exc:
        return _refused(exc)


@router.put("/{serial}/user", response_model=CameraOut)
async def assign_camera(request: Request, serial: str,
                        body: AssignBody) -> Response | dict[str, Any]:
    """Assign the camera to a user (fixed assignment); answers a notice when relevant."""
    ctx = ctx_of(request)
    try:
        view, notice = await run_in_threadpool(lambda: service.assign(
            ctx, serial, body.user_uuid, actor=_actor(request), source=source_of(request)))
    except LookupError:
        return _missing(serial)
    except service.CameraRefused as exc:
        return _refused(exc)
    return out(view, notice)


@router.delete("/{serial}")
async def remove_camera(request: Request, serial: str) -> Response:
    """Remove the camera: 200 removed now, 202 pending until docked and offloaded."""
    ctx = ctx_of(request)
    try:
        outcome = await run_in_threadpool(lambda: service.remove(
            ctx, serial, actor=_actor(request), source=source_of(request)))
    except LookupError:
        return _missing(serial)
    except service.CameraRefused as exc:
        return _refused(exc)
    return JSONResponse({"serial": serial, "removal": outcome},
                        status_code=200 if outcome == "removed" else 202)


@router.post("/{serial}/unlock", response_model=CameraOut)
async def unlock_camera(request: Request, serial: str,
                        body: PassphraseBody) -> Response | dict[str, Any]:
    """Unlock a locked docked camera (super admin passphrase required)."""
    ctx = ctx_of(request)
    try:
        return out(await run_in_threadpool(lambda: service.unlock(
            ctx, serial, body.passphrase, actor=_actor(request), source=source_of(request))))
    except LookupError:
        return _missing(serial)
    except service.CameraRefused as exc:
        return _refused(exc)
