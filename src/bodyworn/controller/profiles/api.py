"""JSON twins of the camera profile pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from bodyworn.controller.context import ctx_of, source_of
from bodyworn.controller.profiles import service
from bodyworn.controller.web.params import RowIdPath
from bodyworn.domain.profile_codec import SettingError

router = APIRouter(prefix="/api/v1/profiles", tags=["camera profiles"])


class ProfileSettings(BaseModel):
    """Every camera and recording setting; durations in seconds. Omitted ones stay as they are."""

    model_config = ConfigDict(extra="forbid")
    activation: Literal["single_click", "double_click"] | None = None
    fall_detection: bool | None = None
    front_indicator: Literal["on", "off", "flashing"] | None = None
    notification: Literal["beep_and_vibration", "beep", "vibration"] | None = None
    periodic_reminder: int | None = Field(
        default=None, description="seconds (60, 120, 300, 600, 900); null turns it off")
    allow_silent_mode: bool | None = None
    allow_audio_off: bool | None = None
    disable_front_button_with_mini_cube: bool | None = None
    allow_assistant_access: bool | None = None
    resolution: Literal["1080p", "720p"] | None = None
    overlay: list[Literal["user_id", "date_time", "location"]] | None = None
    audio: bool | None = None
    optimize_for_post_processing: bool | None = None
    pre_buffer: int | None = Field(default=None, description="seconds; 0 turns it off")
    pre_buffer_audio: bool | None = None
    location_data: bool | None = None
    assisted_gnss: bool | None = None
    max_clip_length: int | None = Field(default=None, description="seconds")

    def given(self) -> dict[str, Any]:
        """Only the settings the caller sent (null is sent for 'reminder off')."""
        return self.model_dump(include=self.model_fields_set)


class ProfileCreate(ProfileSettings):
    """A new profile: a name, optionally a profile to copy, and settings that differ."""

    name: str = Field(max_length=256)
    copy_of: int | None = None
    is_default: bool = False


class ProfileUpdate(ProfileSettings):
    """Changes to a profile."""

    name: str | None = Field(default=None, max_length=256)
    is_default: bool | None = None


class ProfileOut(BaseModel):
    """A stored profile."""

    id: int
    name: str
    is_default: bool
    version: int
    users: int
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _out(v: service.ProfileView) -> ProfileOut:
    return ProfileOut(id=v.id, name=v.profile.name, is_default=v.is_default, version=v.version,
                      users=v.users, settings=v.settings, created_at=v.created_at,
                      updated_at=v.updated_at)


def _errors(errors: list[SettingError], status_code: int = 422) -> JSONResponse:
    return JSONResponse({"detail": [{"field": e.field, "message": e.message} for e in errors]},
                        status_code=status_code)


def _missing(profile_id: int) -> JSONResponse:
    return JSONResponse({"detail": f"no camera profile {profile_id}"}, status_code=404)


_EXTRA = {"name", "copy_of", "is_default"}


@router.get("", response_model=list[ProfileOut])
async def list_profiles(request: Request) -> list[ProfileOut]:
    """Every camera profile, the default first."""
    ctx = ctx_of(request)

    def work() -> list[ProfileOut]:
        with ctx.factory() as session, session.begin():
            return [_out(v) for v in service.list_profiles(session, ctx.clock)]

    return await run_in_threadpool(work)


@router.post("", response_model=ProfileOut, status_code=201)
async def create_profile(request: Request, body: ProfileCreate) -> Response | ProfileOut:
    """Create a profile."""
    ctx = ctx_of(request)
    settings = {k: v for k, v in body.given().items() if k not in _EXTRA}

    def work() -> ProfileOut:
        with ctx.factory() as session, session.begin():
            return _out(service.create(session, ctx.clock, body.name, settings,
                                       make_default=body.is_default, copy_of=body.copy_of,
                                       actor=request.state.account.username,
                                       source=source_of(request)))

    try:
        out = await run_in_threadpool(work)
    except service.ProfileRefused as exc:
        return _errors(exc.errors)
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.get("/{profile_id}", response_model=ProfileOut)
async def get_profile(request: Request, profile_id: RowIdPath) -> Response | ProfileOut:
    """One camera profile."""
    ctx = ctx_of(request)

    def work() -> ProfileOut:
        with ctx.factory() as session, session.begin():
            return _out(service.get(session, ctx.clock, profile_id))

    try:
        return await run_in_threadpool(work)
    except LookupError:
        return _missing(profile_id)


@router.put("/{profile_id}", response_model=ProfileOut)
async def update_profile(request: Request, profile_id: RowIdPath,
                         body: ProfileUpdate) -> Response | ProfileOut:
    """Change a profile's name, settings or default flag (only the fields sent)."""
    ctx = ctx_of(request)
    settings = {k: v for k, v in body.given().items() if k not in _EXTRA}

    def work() -> ProfileOut:
        with ctx.factory() as session, session.begin():
            return _out(service.update(session, ctx.clock, profile_id, name=body.name,
                                       settings=settings, make_default=body.is_default,
                                       actor=request.state.account.username,
                                       source=source_of(request)))

    try:
        return await run_in_threadpool(work)
    except service.ProfileRefused as exc:
        return _errors(exc.errors)
    except LookupError:
        return _missing(profile_id)


@router.delete("/{profile_id}", status_code=204)
async def delete_profile(request: Request, profile_id: RowIdPath) -> Response:
    """Remove a profile that no user has and that is not the default (else 409)."""
    ctx = ctx_of(request)

    try:
        await ctx.transact(service.remove, profile_id, actor=request.state.account.username,
                           source=source_of(request))
    except service.ProfileRefused as exc:
        return _errors(exc.errors, 409)
    except LookupError:
        return _missing(profile_id)
    return Response(status_code=204)
