"""JSON twins of the Devices pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from bodyworn.controller.cameras import service
from bodyworn.controller.web.routes import run, who

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


def _missing(serial: str) -> str:
    return f"no camera {serial}"


@router.get("", response_model=list[CameraOut])
async def list_cameras(request: Request, state: str | None = None) -> list[dict[str, Any]]:
    """Cameras (new ones too; filter with ?state=new|added|removing)."""
    return [out(v) for v in await run(request).read(service.list_cameras, state)]


@router.get("/{serial}", response_model=CameraOut)
async def get_camera(request: Request, serial: str) -> dict[str, Any]:
    """One camera, read live over the dock link when docked."""
    return out(await run(request, _missing(serial)).call(service.refresh, serial))


@router.post("/{serial}/add", response_model=CameraOut)
async def add_camera(request: Request, serial: str) -> dict[str, Any]:
    """Add a new docked camera to this system."""
    return out(await run(request, _missing(serial)).call(service.add, serial, **who(request)))


@router.delete("/{serial}")
async def remove_camera(request: Request, serial: str) -> Response:
    """Remove the camera: 200 removed now, 202 pending until docked and offloaded."""
    outcome = await run(request, _missing(serial)).call(service.remove, serial, **who(request))
    return JSONResponse({"serial": serial, "removal": outcome},
                        status_code=200 if outcome == "removed" else 202)


@router.post("/{serial}/unlock", response_model=CameraOut)
async def unlock_camera(request: Request, serial: str,
                        body: PassphraseBody) -> dict[str, Any]:
    """Unlock a locked docked camera (super admin passphrase required)."""
    return out(await run(request, _missing(serial)).call(service.unlock, serial,
                                                         body.passphrase, **who(request)))
