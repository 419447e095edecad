"""JSON twins of the system settings pages."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from bodyworn.controller.context import ctx_of, source_of
from bodyworn.controller.setup.service import SetupInvalid
from bodyworn.controller.system import service
from bodyworn.controller.system.pages import apply_time, restore_key_for, turn_cloud_on

router = APIRouter(prefix="/api/v1/system", tags=["system"])


class SystemInfo(BaseModel):
    """The system's settings as the manager shows them."""

    system_id: str
    system_name: str
    language: str
    timezone: str
    time_mode: str
    ntp_server: str | None
    ntp_fallback_server: str | None
    listen_host: str
    listen_port: int
    cloud_extensions: bool
    cloud_location: str | None
    power_line_frequency: int
    camera_assignment: str
    usage_data_consent: bool
    created_at: datetime
    now: datetime


class NameBody(BaseModel):
    """A new system name."""

    model_config = ConfigDict(extra="forbid")
    system_name: str = Field(max_length=256)


class TimeBody(BaseModel):
    """A new time zone and time source."""

    model_config = ConfigDict(extra="forbid")
    timezone: str = Field(max_length=64)
    time_mode: str = Field(max_length=8)
    ntp_server: str | None = Field(default=None, max_length=255)
    ntp_fallback_server: str | None = Field(default=None, max_length=255)
    manual_time: str | None = Field(default=None, max_length=64)


class PrivacyBody(BaseModel):
    """Usage-data consent."""

    model_config = ConfigDict(extra="forbid")
    usage_data_consent: bool


class PassphraseBody(BaseModel):
    """The super admin passphrase."""

    model_config = ConfigDict(extra="forbid")
    passphrase: str = Field(max_length=1024)


def _errors(exc: SetupInvalid) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"field": e.field, "message": e.message} for e in exc.errors]},
        status_code=422,
    )


@router.get("", response_model=SystemInfo)
async def get_system(request: Request) -> SystemInfo:
    """The system's settings."""
    ctx = ctx_of(request)

    def work() -> SystemInfo:
        with ctx.factory() as session:
            row = service.current(session)
            return SystemInfo(
                **{k: getattr(row, k) for k in SystemInfo.model_fields if k != "now"},
                now=ctx.clock.now(),
            )

    return await run_in_threadpool(work)


@router.put("/name", response_model=SystemInfo)
async def put_name(request: Request, body: NameBody) -> Response | SystemInfo:
    """Rename the system."""
    ctx = ctx_of(request)

    def work() -> None:
        with ctx.factory() as session, session.begin():
            service.rename(session, ctx.clock, body.system_name, request.state.account.username,
                           source_of(request))

    try:
        await run_in_threadpool(work)
    except SetupInvalid as exc:
        return _errors(exc)
    ctx.system_name = body.system_name.strip()
    return await get_system(request)


@router.put("/time", response_model=SystemInfo)
async def put_time(request: Request, body: TimeBody) -> Response | SystemInfo:
    """Change the time zone and time source."""
    ctx = ctx_of(request)
    try:
        await apply_time(ctx, body.timezone, body.time_mode, body.ntp_server,
                         body.ntp_fallback_server, body.manual_time or "",
                         request.state.account.username, source_of(request))
    except SetupInvalid as exc:
        return _errors(exc)
    return await get_system(request)


@router.put("/privacy", response_model=SystemInfo)
async def put_privacy(request: Request, body: PrivacyBody) -> SystemInfo:
    """Record the usage-data consent."""
    ctx = ctx_of(request)

    def work() -> None:
        with ctx.factory() as session, session.begin():
            service.set_privacy(session, ctx.clock, body.usage_data_consent,
                                request.state.account.username, source_of(request))

    await run_in_threadpool(work)
    return await get_system(request)


class CloudBody(BaseModel):
    """Cloud extensions on, with a server location."""

    model_config = ConfigDict(extra="forbid")
    cloud_location: str = Field(max_length=32)


@router.put("/cloud", response_model=SystemInfo)
async def put_cloud(request: Request, body: CloudBody) -> Response | SystemInfo:
    """Turn cloud extensions on (409 when already on: only a system reset turns them off)."""
    ctx = ctx_of(request)
    try:
        await run_in_threadpool(turn_cloud_on, ctx, body.cloud_location,
                                request.state.account.username, source_of(request))
    except SetupInvalid as exc:
        return _errors(exc)
    except service.CloudLocked:
        return JSONResponse({"detail": "cloud extensions are on; only a system reset turns "
                             "them off or changes the location"}, status_code=409)
    return await get_system(request)


@router.post("/restore-key")
async def post_restore_key(request: Request, body: PassphraseBody) -> Response:
    """A fresh System restore key file (super admin passphrase required)."""
    ctx = ctx_of(request)
    try:
        name, data = await run_in_threadpool(
            restore_key_for, ctx, body.passphrase, request.state.account.username,
            source_of(request),
        )
    except service.PassphraseWrong:
        return JSONResponse({"detail": "wrong super admin passphrase"}, status_code=403)
    return Response(data, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
    })
