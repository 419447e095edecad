"""The user's paired equipment (self-assign tag, holster sensors), dock reader taps, API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from bodyworn.controller.assignment import service
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.context import ControllerContext, ctx_of, render, source_of
from bodyworn.controller.docks.pages import require_dock_token
from bodyworn.controller.users import service as users
from bodyworn.controller.web.params import RowIdPath
from bodyworn.docklink import wire as proto

router = APIRouter(include_in_schema=False)
machine = APIRouter(tags=["machines"])
api = APIRouter(prefix="/api/v1", tags=["assignment"])
TAPS_PATH = proto.TAPS_PATH


def _actor(request: Request) -> str:
    return str(request.state.account.username)


def equipment(ctx: ControllerContext, user_uuid: str) -> dict[str, Any]:
    """What the equipment section shows (LookupError: no such user)."""
    with ctx.factory() as session:
        user = users.get(session, user_uuid)
        tag = service.tag_of(session, user_uuid)
        mode = cameras.assignment_mode(session).value
    return {"user": user, "tag": tag, "mode": mode,
            "holsters": service.refresh_holsters(ctx, user_uuid),
            "progress": service.pairing_progress(ctx, user_uuid)}


async def _partial(request: Request, user_uuid: str, *, error: str = "", notice: str = "",
                   status_code: int = 200, last_tag: str = "") -> Response:
    ctx = ctx_of(request)
    try:
        data = await run_in_threadpool(equipment, ctx, user_uuid)
    except LookupError:
        return render(request, "error.html", {"status_code": 404, "message": "No such user."},
                      404)
    return render(request, "assignment/equipment.html",
                  {**data, "error": error, "notice": notice, "last_tag": last_tag},
                  status_code=status_code)


@router.get("/users/{user_uuid}/equipment")
async def equipment_page(request: Request, user_uuid: str) -> Response:
    """The user's paired equipment (loaded into the user's page)."""
    return await _partial(request, user_uuid)


@router.post("/users/{user_uuid}/equipment/tag-taps")
async def tag_tap(request: Request, user_uuid: str) -> Response:
    """A tap on the administrator's (simulated) reader while pairing a self-assign tag."""
    ctx = ctx_of(request)
    form = await request.form()
    try:
        progress = await run_in_threadpool(lambda: service.pairing_tap(
            ctx, user_uuid, str(form.get("tag") or ""), actor=_actor(request),
            source=source_of(request)))
    except LookupError:
        return await _partial(request, user_uuid)
    except service.AssignmentRefused as exc:
        return await _partial(request, user_uuid, error=exc.message)
    if progress.done:
        return await _partial(request, user_uuid, notice="The self-assign tag is paired.")
    return await _partial(request, user_uuid, last_tag=str(form.get("tag") or ""))


@router.post("/users/{user_uuid}/equipment/tag/remove")
async def tag_remove(request: Request, user_uuid: str) -> Response:
    """Unpair the user's self-assign tag."""
    try:
        await ctx_of(request).transact(service.remove_tag, user_uuid, actor=_actor(request),
                                       source=source_of(request))
    except LookupError:
        return await _partial(request, user_uuid, error="No tag is paired.")
    return await _partial(request, user_uuid, notice="The self-assign tag is removed.")


@router.post("/users/{user_uuid}/equipment/holsters")
async def holster_pair(request: Request, user_uuid: str) -> Response:
    """Pair a holster sensor by its 6-digit serial number."""
    ctx = ctx_of(request)
    form = await request.form()
    try:
        await run_in_threadpool(lambda: service.pair_holster(
            ctx, user_uuid, str(form.get("sensor_serial") or ""), actor=_actor(request),
            source=source_of(request)))
    except LookupError:
        return await _partial(request, user_uuid)
    except service.AssignmentRefused as exc:
        return await _partial(request, user_uuid, error=exc.message)
    return await _partial(request, user_uuid, notice="Undock the camera, wait for it to start,"
                          " then connect power to the holster sensor.")


@router.post("/users/{user_uuid}/equipment/holsters/{pairing_id}/remove")
async def holster_remove(request: Request, user_uuid: str,
                         pairing_id: RowIdPath) -> Response:
    """Remove a paired holster sensor."""
    ctx = ctx_of(request)
    try:
        await run_in_threadpool(lambda: service.remove_holster(
            ctx, user_uuid, pairing_id, actor=_actor(request), source=source_of(request)))
    except LookupError:
        return await _partial(request, user_uuid, error="No such holster sensor.")
    return await _partial(request, user_uuid, notice="The holster sensor is removed.")


def _policy(ctx: ControllerContext) -> tuple[Any, str]:
    with ctx.factory() as session:
        return service.policy(session), cameras.assignment_mode(session).value


@router.get("/settings/self-assign")
async def policy_page(request: Request, error: str = "", saved: bool = False) -> Response:
    """Settings → Self-assign: what a camera needs to be handed out by a tap."""
    policy, mode = await run_in_threadpool(_policy, ctx_of(request))
    return render(request, "assignment/settings.html", {
        "p": policy, "mode": mode, "error": error, "saved": saved,
    }, status_code=422 if error else 200)


@router.post("/settings/self-assign")
async def policy_submit(request: Request) -> Response:
    """Change the self-assign readiness settings."""
    ctx = ctx_of(request)
    form = await request.form()
    try:
        hours = float(str(form.get("shift_hours") or ""))
    except ValueError:
        return await policy_page(request, error="Hours per shift must be a number.")
    firmware = str(form.get("firmware") or "").strip() or None
    try:
        await ctx.transact(service.set_policy, hours, firmware, actor=_actor(request),
                           source=source_of(request))
    except service.AssignmentRefused as exc:
        return await policy_page(request, error=exc.message)
    return await policy_page(request, saved=True)


class TapBody(BaseModel):
    """One tap: the tag ("125kHz:0123456789", or bare hex) and the reader's serial."""

    model_config = ConfigDict(extra="forbid")
    tag: str = Field(max_length=64)
    reader: str = Field(default="", max_length=64)


@machine.post(TAPS_PATH)
async def reader_tap(request: Request) -> Response:
    """The dock RFID reader reports a tap: `{"tag", "reader"}` (needs the dock port token)."""
    # The token is checked before the body is even read, so the body is parsed here.
    require_dock_token(request)
    try:
        body = TapBody.model_validate_json(await request.body())
    except ValidationError as exc:
        return JSONResponse({"result": "bad_request", "detail": str(exc)}, status_code=422)
    try:
        result = await run_in_threadpool(lambda: service.dock_tap(
            ctx_of(request), body.tag, reader=body.reader))
    except service.AssignmentRefused as exc:
        return JSONResponse({"result": exc.reason, "detail": exc.message},
                            status_code=exc.status)
    except LookupError as exc:
        return JSONResponse({"result": "unknown_tag", "detail": str(exc)}, status_code=404)
    return JSONResponse({"result": "assigned", "camera_serial": result.camera_serial,
                         "user_uuid": result.user_uuid, "user_name": result.user_name,
                         "undock_before": result.expires.isoformat()})


class ProgressOut(BaseModel):
    """A tag registration: taps so far of those needed."""

    taps: int
    needed: int
    done: bool
    tag: str | None


class HolsterOut(BaseModel):
    """A paired holster sensor."""

    id: int
    sensor_serial: str
    camera_serial: str
    state: str
    updated_at: datetime


class EquipmentOut(BaseModel):
    """A user's paired equipment."""

    tag: str | None
    holsters: list[HolsterOut]


class HolsterBody(BaseModel):
    """A holster sensor's serial number."""

    model_config = ConfigDict(extra="forbid")
    sensor_serial: str = Field(max_length=16)


class PolicyBody(BaseModel):
    """Self-assign readiness."""

    model_config = ConfigDict(extra="forbid")
    shift_hours: float
    firmware: str | None = Field(default=None, max_length=32)


def _refused(exc: service.AssignmentRefused) -> JSONResponse:
    return JSONResponse({"detail": exc.message, "reason": exc.reason}, status_code=exc.status)


def _no_user() -> JSONResponse:
    return JSONResponse({"detail": "no such user"}, status_code=404)


@api.get("/users/{user_uuid}/equipment", response_model=EquipmentOut)
async def get_equipment(request: Request, user_uuid: str) -> Response | dict[str, Any]:
    """The user's self-assign tag and holster sensors."""
    try:
        data = await run_in_threadpool(equipment, ctx_of(request), user_uuid)
    except LookupError:
        return _no_user()
    return {"tag": data["tag"], "holsters": [h.__dict__ for h in data["holsters"]]}


@api.post("/users/{user_uuid}/tag/taps", response_model=ProgressOut)
async def api_tag_tap(request: Request, user_uuid: str,
                      body: TapBody) -> Response | dict[str, Any]:
    """A tap on the administrator's reader while pairing; repeat until done."""
    ctx = ctx_of(request)
    try:
        progress = await run_in_threadpool(lambda: service.pairing_tap(
            ctx, user_uuid, body.tag, actor=_actor(request), source=source_of(request)))
    except LookupError:
        return _no_user()
    except service.AssignmentRefused as exc:
        return _refused(exc)
    return progress.__dict__


@api.delete("/users/{user_uuid}/tag", status_code=204)
async def api_tag_remove(request: Request, user_uuid: str) -> Response:
    """Unpair the user's self-assign tag."""
    try:
        await ctx_of(request).transact(service.remove_tag, user_uuid, actor=_actor(request),
                                       source=source_of(request))
    except LookupError:
        return JSONResponse({"detail": "no tag paired"}, status_code=404)
    return Response(status_code=204)


@api.post("/users/{user_uuid}/holsters", response_model=HolsterOut, status_code=201)
async def api_holster_pair(request: Request, user_uuid: str,
                           body: HolsterBody) -> Response | dict[str, Any]:
    """Pair a holster sensor with the user's docked camera (state pending)."""
    ctx = ctx_of(request)
    try:
        view = await run_in_threadpool(lambda: service.pair_holster(
            ctx, user_uuid, body.sensor_serial, actor=_actor(request),
            source=source_of(request)))
    except LookupError:
        return _no_user()
    except service.AssignmentRefused as exc:
        return _refused(exc)
    return view.__dict__


@api.delete("/users/{user_uuid}/holsters/{pairing_id}", status_code=204)
async def api_holster_remove(request: Request, user_uuid: str,
                             pairing_id: RowIdPath) -> Response:
    """Remove a paired holster sensor."""
    ctx = ctx_of(request)
    try:
        await run_in_threadpool(lambda: service.remove_holster(
            ctx, user_uuid, pairing_id, actor=_actor(request), source=source_of(request)))
    except LookupError:
        return JSONResponse({"detail": "no such holster sensor"}, status_code=404)
    return Response(status_code=204)


@api.get("/assignment/settings")
async def get_policy(request: Request) -> dict[str, Any]:
    """Self-assign readiness: hours a shift needs, the firmware a camera must run."""
    ctx = ctx_of(request)

    def work() -> dict[str, Any]:
        with ctx.factory() as session:
            p = service.policy(session)
            return {"shift_hours": p.shift_hours, "firmware": p.firmware}

    return await run_in_threadpool(work)


@api.put("/assignment/settings", response_model=None)
async def put_policy(request: Request, body: PolicyBody) -> Response | dict[str, Any]:
    """Change self-assign readiness (firmware null: the newest among the cameras)."""
    try:
        p = await ctx_of(request).transact(service.set_policy, body.shift_hours, body.firmware,
                                           actor=_actor(request), source=source_of(request))
    except service.AssignmentRefused as exc:
        return _refused(exc)
    return {"shift_hours": p.shift_hours, "firmware": p.firmware}
