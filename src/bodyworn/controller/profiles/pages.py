"""Camera profiles pages: the list, a new profile, edit every setting, remove."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from bodyworn.controller.context import render
from bodyworn.controller.profiles import service
from bodyworn.controller.web.params import RowIdPath, form_int, form_row_id
from bodyworn.controller.web.routes import run, who
from bodyworn.domain.profile import DURATION_LIMITS, REMINDER_CHOICES
from bodyworn.domain.profile_codec import SettingError

router = APIRouter(include_in_schema=False)
NO_PROFILE = "No such camera profile."

# Checkboxes the edit form shows; a setting the form does not show keeps its value.
FORM_BOOLS = (
    "fall_detection", "allow_silent_mode", "allow_audio_off",
    "disable_front_button_with_mini_cube", "allow_assistant_access", "audio",
    "optimize_for_post_processing", "pre_buffer_audio", "location_data", "assisted_gnss",
)
FORM_CHOICES = ("activation", "front_indicator", "notification", "resolution")
REMINDER_MINUTES = tuple(int(r.total_seconds() // 60) for r in REMINDER_CHOICES)


def _seconds(form: FormData, name: str, setting: str, errors: list[SettingError]) -> int | None:
    low, high = (int(d.total_seconds()) for d in DURATION_LIMITS[setting])
    value = form_int(form.get(name), low, high)
    if value is None:
        errors.append(SettingError(name, f"must be a whole number of seconds from {low} "
                                         f"to {high}"))
    return value


def settings_from_form(form: FormData) -> tuple[dict[str, Any], list[SettingError]]:
    """The settings an edit form submits, in the codec's JSON form, and unreadable fields."""
    errors: list[SettingError] = []
    settings: dict[str, Any] = {name: form.get(name) == "on" for name in FORM_BOOLS}
    for name in FORM_CHOICES:
        settings[name] = str(form.get(name) or "")
    settings["overlay"] = [str(v) for v in form.getlist("overlay")]
    reminder = str(form.get("periodic_reminder") or "off")
    if reminder == "off":
        settings["periodic_reminder"] = None
    elif (minutes := form_int(reminder, 1, max(REMINDER_MINUTES))) is not None:
        settings["periodic_reminder"] = minutes * 60
    else:
        errors.append(SettingError("periodic_reminder", "must be one of the offered intervals"))
    if form.get("pre_buffer_on") == "on":
        length = _seconds(form, "pre_buffer_length", "pre_buffer", errors)
        if length is not None and length < 1:
            errors.append(SettingError("pre_buffer", "the length must be at least 1 second "
                                                     "when the pre-buffer is on"))
        elif length is not None:
            settings["pre_buffer"] = length
    else:
        settings["pre_buffer"] = 0
    clip = _seconds(form, "max_clip_length", "max_clip_length", errors)
    if clip is not None:
        settings["max_clip_length"] = clip
    return settings, errors


@router.get("/profiles")
async def profiles_page(request: Request) -> Response:
    """Camera profiles: every profile, how many users have it, and a new one."""
    return await _list_page(request)


async def _list_page(request: Request, errors: list[SettingError] | None = None,
                     name: str = "", removed: str = "") -> Response:
    views = await run(request).write(service.list_profiles)
    return render(request, "profiles/list.html", {
        "profiles": views, "errors": errors or [], "name": name, "removed": removed,
    }, status_code=400 if errors else 200)


@router.post("/profiles")
async def profile_create(request: Request) -> Response:
    """Create a profile as a copy of another, then open it for editing."""
    form = await request.form()
    name = str(form.get("name") or "")
    copy_raw = str(form.get("copy_of") or "")
    copy_of = form_row_id(copy_raw) if copy_raw else None
    if copy_raw and copy_of is None:
        return await _list_page(request, [SettingError("copy_of", "no such camera profile")],
                                name=name)
    try:
        view = await run(request).write(service.create, name, {}, copy_of=copy_of,
                                        **who(request))
    except service.ProfileRefused as exc:
        return await _list_page(request, exc.errors, name=name)
    return RedirectResponse(f"/profiles/{view.id}", status_code=303)


async def _edit(request: Request, profile_id: int, errors: list[SettingError] | None = None,
                saved: bool = False, submitted: dict[str, Any] | None = None,
                status_code: int | None = None) -> Response:
    view = await run(request, NO_PROFILE).write(service.get, profile_id)
    values = dict(view.settings)
    values.update(submitted or {})
    return render(request, "profiles/edit.html", {
        "p": view, "v": values, "name": (submitted or {}).get("name", view.profile.name),
        "errors": {e.field: e.message for e in errors or []}, "error_list": errors or [],
        "saved": saved, "reminders": REMINDER_MINUTES,
    }, status_code=status_code or (400 if errors else 200))


@router.get("/profiles/{profile_id}")
async def profile_page(request: Request, profile_id: RowIdPath) -> Response:
    """One camera profile with every camera and recording setting."""
    return await _edit(request, profile_id)


@router.post("/profiles/{profile_id}")
async def profile_save(request: Request, profile_id: RowIdPath) -> Response:
    """Save the name and settings; cameras get them the next time they dock."""
    form = await request.form()
    settings, errors = settings_from_form(form)
    name = str(form.get("name") or "")
    make_default = True if form.get("is_default") == "on" else None
    submitted = dict(settings, name=name)
    if errors:
        return await _edit(request, profile_id, errors, submitted=submitted)
    try:
        await run(request, NO_PROFILE).write(service.update, profile_id, name=name,
                                             settings=settings, make_default=make_default,
                                             **who(request))
    except service.ProfileRefused as exc:
        return await _edit(request, profile_id, exc.errors, submitted=submitted)
    return await _edit(request, profile_id, saved=True)


@router.post("/profiles/{profile_id}/remove")
async def profile_remove(request: Request, profile_id: RowIdPath) -> Response:
    """Remove a profile no user has (the default profile stays)."""
    try:
        name = await run(request, NO_PROFILE).write(service.remove, profile_id,
                                                    **who(request))
    except service.ProfileRefused as exc:
        return await _edit(request, profile_id, exc.errors, status_code=exc.status)
    return await _list_page(request, removed=name)
