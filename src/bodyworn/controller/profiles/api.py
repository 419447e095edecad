"""JSON twins of the camera profile pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from starlette.responses import Response

from bodyworn.controller.profiles import service
from bodyworn.controller.web.params import RowIdField, RowIdPath
from bodyworn.controller.web.routes import run, who
from bodyworn.domain.profile import DURATION_LIMITS

router = APIRouter(prefix="/api/v1/profiles", tags=["camera profiles"])


def _range(setting: str) -> WithJsonSchema:
    """The document shows a duration's range; the domain enforces it (so a refusal names
    the setting and its range in seconds, in words)."""
    low, high = (int(d.total_seconds()) for d in DURATION_LIMITS[setting])
    return WithJsonSchema({"type": "integer", "minimum": low, "maximum": high})


PreBufferSeconds = Annotated[int, _range("pre_buffer")]
ReminderSeconds = Annotated[int, _range("periodic_reminder")]
ClipSeconds = Annotated[int, _range("max_clip_length")]


class ProfileSettings(BaseModel):
    """Every camera and recording setting; durations in seconds. Omitted ones stay as they are."""

    model_config = ConfigDict(extra="forbid")
    activation: Literal["single_click", "double_click"] | None = None
    fall_detection: bool | None = None
    front_indicator: Literal["on", "off", "flashing"] | None = None
    notification: Literal["beep_and_vibration", "beep", "vibration"] | None = None
    periodic_reminder: ReminderSeconds | None = Field(
        default=None, description="seconds (60, 120, 300, 600, 900); null turns it off")
    allow_silent_mode: bool | None = None
    allow_audio_off: bool | None = None
    disable_front_button_with_mini_cube: bool | None = None
    allow_assistant_access: bool | None = None
    resolution: Literal["1080p", "720p"] | None = None
    overlay: list[Literal["user_id", "date_time", "location"]] | None = Field(
        default=None, max_length=3)
    audio: bool | None = None
    optimize_for_post_processing: bool | None = None
    pre_buffer: PreBufferSeconds | None = Field(default=None,
                                                description="seconds; 0 turns it off")
    pre_buffer_audio: bool | None = None
    location_data: bool | None = None
    assisted_gnss: bool | None = None
    max_clip_length: ClipSeconds | None = Field(default=None, description="seconds")

    def given(self) -> dict[str, Any]:
        """Only the settings the caller sent (null is sent for 'reminder off')."""
        return self.model_dump(include=self.model_fields_set)


class ProfileCreate(ProfileSettings):
    """A new profile: a name, optionally a profile to copy, and settings that differ."""

    name: str = Field(max_length=256)
    copy_of: RowIdField | None = None
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


_EXTRA = {"name", "copy_of", "is_default"}


def _missing(profile_id: int) -> str:
    return f"no camera profile {profile_id}"


@router.get("", response_model=list[ProfileOut])
async def list_profiles(request: Request) -> list[ProfileOut]:
    """Every camera profile, the default first."""
    return [_out(v) for v in await run(request).write(service.list_profiles)]


@router.post("", response_model=ProfileOut, status_code=201)
async def create_profile(request: Request, body: ProfileCreate) -> ProfileOut:
    """Create a profile."""
    settings = {k: v for k, v in body.given().items() if k not in _EXTRA}
    return _out(await run(request).write(service.create, body.name, settings,
                                         make_default=body.is_default, copy_of=body.copy_of,
                                         **who(request)))


@router.get("/{profile_id}", response_model=ProfileOut)
async def get_profile(request: Request, profile_id: RowIdPath) -> ProfileOut:
    """One camera profile."""
    return _out(await run(request, _missing(profile_id)).write(service.get, profile_id))


@router.put("/{profile_id}", response_model=ProfileOut)
async def update_profile(request: Request, profile_id: RowIdPath,
                         body: ProfileUpdate) -> ProfileOut:
    """Change a profile's name, settings or default flag (only the fields sent)."""
    settings = {k: v for k, v in body.given().items() if k not in _EXTRA}
    return _out(await run(request, _missing(profile_id)).write(
        service.update, profile_id, name=body.name, settings=settings,
        make_default=body.is_default, **who(request)))


@router.delete("/{profile_id}", status_code=204)
async def delete_profile(request: Request, profile_id: RowIdPath) -> Response:
    """Remove a profile that no user has and that is not the default (else 409)."""
    await run(request, _missing(profile_id)).write(service.remove, profile_id, **who(request))
    return Response(status_code=204)
