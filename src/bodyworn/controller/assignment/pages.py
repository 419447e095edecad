"""The user's paired equipment (self-assign tag, holster sensors) and Settings → Self-assign."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from bodyworn.controller.assignment import service
from bodyworn.controller.assistant_pairing import service as assistant_pairing
from bodyworn.controller.cameras.pages import NO_CAMERA, camera_page
from bodyworn.controller.cameras.service import CameraRefused
from bodyworn.controller.context import render
from bodyworn.controller.web.params import RowIdPath
from bodyworn.controller.web.routes import run, who

router = APIRouter(include_in_schema=False)
NO_USER = "No such user."


async def _partial(request: Request, user_uuid: str, *, error: str = "", notice: str = "",
                   last_tag: str = "") -> Response:
    data = await run(request, NO_USER).call(service.equipment, user_uuid)
    return render(request, "assignment/equipment.html",
                  {**vars(data), "error": error, "notice": notice, "last_tag": last_tag})


@router.get("/users/{user_uuid}/equipment")
async def equipment_page(request: Request, user_uuid: str) -> Response:
    """The user's paired equipment (loaded into the user's page)."""
    return await _partial(request, user_uuid)


@router.post("/users/{user_uuid}/equipment/tag-taps")
async def tag_tap(request: Request, user_uuid: str) -> Response:
    """A tap on the administrator's (simulated) reader while pairing a self-assign tag."""
    tag = str((await request.form()).get("tag") or "")
    try:
        progress = await run(request, NO_USER).call(service.pairing_tap, user_uuid, tag,
                                                     **who(request))
    except service.AssignmentRefused as exc:
        return await _partial(request, user_uuid, error=exc.message)
    if progress.done:
        return await _partial(request, user_uuid, notice="The self-assign tag is paired.")
    return await _partial(request, user_uuid, last_tag=tag)


@router.post("/users/{user_uuid}/equipment/tag/remove")
async def tag_remove(request: Request, user_uuid: str) -> Response:
    """Unpair the user's self-assign tag."""
    try:
        await run(request).write(service.remove_tag, user_uuid, **who(request))
    except LookupError:
        return await _partial(request, user_uuid, error="No tag is paired.")
    return await _partial(request, user_uuid, notice="The self-assign tag is removed.")


@router.post("/users/{user_uuid}/equipment/holsters")
async def holster_pair(request: Request, user_uuid: str) -> Response:
    """Pair a holster sensor by its 6-digit serial number."""
    sensor = str((await request.form()).get("sensor_serial") or "")
    try:
        await run(request, NO_USER).call(service.pair_holster, user_uuid, sensor,
                                         **who(request))
    except service.AssignmentRefused as exc:
        return await _partial(request, user_uuid, error=exc.message)
    return await _partial(request, user_uuid, notice="Undock the camera, wait for it to start,"
                          " then connect power to the holster sensor.")


@router.post("/users/{user_uuid}/equipment/holsters/{pairing_id}/remove")
async def holster_remove(request: Request, user_uuid: str,
                         pairing_id: RowIdPath) -> Response:
    """Remove a paired holster sensor."""
    try:
        await run(request).call(service.remove_holster, user_uuid, pairing_id, **who(request))
    except LookupError:
        return await _partial(request, user_uuid, error="No such holster sensor.")
    return await _partial(request, user_uuid, notice="The holster sensor is removed.")


@router.post("/users/{user_uuid}/equipment/assistant/{pairing_id}/remove")
async def assistant_remove(request: Request, user_uuid: str, pairing_id: str) -> Response:
    """Remove an Assistant pairing: it ends on the system side (cameras at their docking)."""
    try:
        await run(request).write(assistant_pairing.remove, user_uuid, pairing_id,
                                 **who(request))
    except LookupError:
        return await _partial(request, user_uuid, error="No such pairing.")
    await run(request).call(assistant_pairing.push_to_user, user_uuid)
    return await _partial(request, user_uuid, notice="The pairing is removed. The mobile"
                          " device keeps it until the user replaces it in the Assistant.")


@router.get("/settings/self-assign")
async def policy_page(request: Request, error: str = "", saved: bool = False) -> Response:
    """Settings → Self-assign: what a camera needs to be handed out by a tap."""
    policy, mode = await run(request).read(service.readiness)
    return render(request, "assignment/settings.html", {
        "p": policy, "mode": mode, "error": error, "saved": saved,
    }, status_code=422 if error else 200)


@router.post("/settings/self-assign")
async def policy_submit(request: Request) -> Response:
    """Change the self-assign readiness settings."""
    form = await request.form()
    try:
        hours = float(str(form.get("shift_hours") or ""))
    except ValueError:
        return await policy_page(request, error="Hours per shift must be a number.")
    firmware = str(form.get("firmware") or "").strip() or None
    try:
        await run(request).write(service.set_policy, hours, firmware, **who(request))
    except service.AssignmentRefused as exc:
        return await policy_page(request, error=exc.message)
    return await policy_page(request, saved=True)


@router.post("/cameras/{serial}/assign")
async def camera_assign(request: Request, serial: str) -> Response:
    """Assign the camera to a user (fixed assignment); empty takes the user away."""
    form = await request.form()
    user_uuid = str(form.get("user_uuid") or "") or None
    try:
        _view, notice = await run(request, NO_CAMERA).call(service.assign, serial, user_uuid,
                                                           **who(request))
    except CameraRefused as exc:
        return await camera_page(request, serial, error=exc.message, status_code=exc.status)
    return await camera_page(request, serial, notice=("Saved. " + notice).strip())
