"""The JSON twin of Settings → Firmware."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, File, Request, UploadFile
from pydantic import BaseModel

from bodyworn.controller.context import ctx_of
from bodyworn.controller.firmware import service
from bodyworn.controller.refusals import Refused
from bodyworn.controller.web.routes import run, who
from bodyworn.firmware.bundle import MAX_BUNDLE_BYTES, MAX_UPLOAD_BYTES

router = APIRouter(prefix="/api/v1/firmware", tags=["firmware"])


class ControllerOut(BaseModel):
    """A system controller's versions."""

    name: str
    role: str
    firmware: str
    software: str
    installed_at: datetime | None


class CameraOut(BaseModel):
    """A camera's firmware, as it last said."""

    serial: str
    model: str
    firmware: str
    docked: bool
    current: bool


class InstallOut(BaseModel):
    """One install."""

    version: str
    installed_at: datetime
    installed_by: str
    during_setup: bool
    bundle_sha256: str
    key_id: str


class FirmwareOut(BaseModel):
    """The system's firmware, each controller's and each camera's, the installs."""

    system: str
    controllers: list[ControllerOut]
    cameras: list[CameraOut]
    history: list[InstallOut]


class Installed(BaseModel):
    """What an install did."""

    version: str
    services_restarted: bool


@router.get("", response_model=FirmwareOut)
async def get_firmware(request: Request) -> FirmwareOut:
    """The firmware every controller and camera runs."""
    v = await run(request).read(service.versions, ctx_of(request).system_name)
    return FirmwareOut.model_validate(v, from_attributes=True)


@router.post("", response_model=Installed, max_body_size=MAX_UPLOAD_BYTES)
async def post_firmware(request: Request, firmware: UploadFile = File(...)) -> Installed:
    """Upload and install a signed firmware file (multipart, field `firmware`); 422 for a
    file that does not verify, 409 for a version not newer than the installed one."""
    data = await firmware.read(MAX_BUNDLE_BYTES + 1)
    if not data:
        raise Refused("the firmware file is empty", 422)
    version = await run(request).call(service.install, data, **who(request))
    services = ctx_of(request).services
    if services is not None:
        await services.restart(f"firmware {version} installed")
    return Installed(version=version, services_restarted=services is not None)
