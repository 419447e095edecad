"""JSON twins of the system settings pages."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from bodyworn.controller.context import ctx_of
from bodyworn.controller.system import service, timekeeping
from bodyworn.controller.web.routes import run, secret_download, who

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


class LanguageBody(BaseModel):
    """A new language for the manager and notification mail."""

    model_config = ConfigDict(extra="forbid")
    language: str = Field(max_length=16)


class TimeBody(BaseModel):
    """A new time zone and time source."""

    model_config = ConfigDict(extra="forbid")
    timezone: str = Field(max_length=64)
    time_mode: str = Field(max_length=8)
    ntp_server: str | None = Field(default=None, max_length=255)
    ntp_fallback_server: str | None = Field(default=None, max_length=255)
    manual_time: str | None = Field(
        default=None, max_length=64,
        description="ISO 8601 date and time with a UTC offset; empty keeps the current time")


class PrivacyBody(BaseModel):
    """Usage-data consent."""

    model_config = ConfigDict(extra="forbid")
    usage_data_consent: bool


class PassphraseBody(BaseModel):
    """The super admin passphrase."""

    model_config = ConfigDict(extra="forbid")
    passphrase: str = Field(max_length=1024)


async def _info(request: Request) -> SystemInfo:
    row = await run(request).read(service.current)
    return SystemInfo(**{k: getattr(row, k) for k in SystemInfo.model_fields if k != "now"},
                      now=ctx_of(request).clock.now())


@router.get("", response_model=SystemInfo)
async def get_system(request: Request) -> SystemInfo:
    """The system's settings."""
    return await _info(request)


@router.put("/name", response_model=SystemInfo)
async def put_name(request: Request, body: NameBody) -> SystemInfo:
    """Rename the system."""
    # The page header follows through SettingsChanged (app.py).
    await run(request).write(service.rename, body.system_name, **who(request))
    return await _info(request)


@router.put("/language", response_model=SystemInfo)
async def put_language(request: Request, body: LanguageBody) -> SystemInfo:
    """Change the language of the manager and of notification mail."""
    await run(request).write(service.set_language, body.language, **who(request))
    return await _info(request)


class TimeStatus(BaseModel):
    """How the clock is kept: the time source, the last NTP measurement, the CD's clock."""

    now: datetime
    source: str | None
    source_is_content_destination: bool
    ntp_measured_at: datetime | None
    ntp_server: str | None
    ntp_offset_s: float | None
    ntp_error: str | None
    cd_clock_skew_s: float | None
    cd_clock_seen_at: datetime | None
    cd_clock_skew_limit_s: float


@router.get("/time", response_model=TimeStatus)
async def get_time(request: Request) -> TimeStatus:
    """The clock's state (the dashboard warns from the same)."""
    ctx = ctx_of(request)
    source = await run(request).call(timekeeping.time_source)
    ntp, seen = ctx.health.ntp, ctx.health.cd_clock
    return TimeStatus(
        now=ctx.clock.now(), source=source.server if source else None,
        source_is_content_destination=bool(source and source.from_cd),
        ntp_measured_at=ntp.measured_at if ntp else None,
        ntp_server=ntp.server if ntp else None, ntp_offset_s=ntp.offset_s if ntp else None,
        ntp_error=ntp.error if ntp else None,
        cd_clock_skew_s=seen.skew_s if seen else None,
        cd_clock_seen_at=seen.seen_at if seen else None,
        cd_clock_skew_limit_s=ctx.settings.clock_skew_warn_s)


@router.put("/time", response_model=SystemInfo)
async def put_time(request: Request, body: TimeBody) -> SystemInfo:
    """Change the time zone and time source."""
    await run(request).call(service.change_time, timezone=body.timezone,
                            time_mode=body.time_mode, ntp_server=body.ntp_server,
                            ntp_fallback_server=body.ntp_fallback_server,
                            manual_time=body.manual_time or "", naive_is_local=False,
                            **who(request))
    return await _info(request)


@router.put("/privacy", response_model=SystemInfo)
async def put_privacy(request: Request, body: PrivacyBody) -> SystemInfo:
    """Record the usage-data consent."""
    await run(request).write(service.set_privacy, body.usage_data_consent, **who(request))
    return await _info(request)


class CloudBody(BaseModel):
    """Cloud extensions on, with a server location."""

    model_config = ConfigDict(extra="forbid")
    cloud_location: str = Field(max_length=32)


@router.put("/cloud", response_model=SystemInfo)
async def put_cloud(request: Request, body: CloudBody) -> SystemInfo:
    """Turn cloud extensions on (409 when already on: only a system reset turns them off)."""
    await run(request).write(service.enable_cloud, body.cloud_location, **who(request))
    return await _info(request)


@router.post("/restore-key")
async def post_restore_key(request: Request, body: PassphraseBody) -> Response:
    """A fresh System restore key file (super admin passphrase required)."""
    name, data = await run(request).write(service.restore_key_download, body.passphrase,
                                          **who(request))
    return secret_download(name, data)
