"""Dock reader taps (dock port token) and the JSON twin of the equipment and settings pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema
from starlette.responses import JSONResponse, Response

from bodyworn.controller.assignment import service
from bodyworn.controller.cameras.api import CameraOut, out
from bodyworn.controller.docks.api import require_dock_token
from bodyworn.controller.web.params import RowIdPath
from bodyworn.controller.web.routes import run, who
from bodyworn.docklink import wire as proto
from bodyworn.domain import strict_json
from bodyworn.domain.assignment import MAX_SHIFT_HOURS

machine = APIRouter(tags=["machines"])
router = APIRouter(prefix="/api/v1", tags=["assignment"])
TAPS_PATH = proto.TAPS_PATH
NO_USER = "no such user"


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
        body = TapBody.model_validate(strict_json.load_object(await request.body()))
    except strict_json.JsonRefused as exc:
        return JSONResponse({"result": "bad_request", "detail": str(exc)}, status_code=400)
    except ValidationError as exc:
        return JSONResponse({"result": "bad_request", "detail": str(exc)}, status_code=422)
    # The reader speaks its own answers: a result code for each refusal.
    try:
        result = await run(request).call(service.dock_tap, body.tag, reader=body.reader)
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
    # The document shows the range; the domain enforces it (its refusal says it in words).
    shift_hours: Annotated[float, WithJsonSchema(
        {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_SHIFT_HOURS})]
    firmware: str | None = Field(default=None, max_length=32)


@router.get("/users/{user_uuid}/equipment", response_model=EquipmentOut)
async def get_equipment(request: Request, user_uuid: str) -> dict[str, Any]:
    """The user's self-assign tag and holster sensors."""
    data = await run(request, NO_USER).call(service.equipment, user_uuid)
    return {"tag": data.tag, "holsters": [h.__dict__ for h in data.holsters]}


@router.post("/users/{user_uuid}/tag/taps", response_model=ProgressOut)
async def api_tag_tap(request: Request, user_uuid: str, body: TapBody) -> dict[str, Any]:
    """A tap on the administrator's reader while pairing; repeat until done."""
    progress = await run(request, NO_USER).call(service.pairing_tap, user_uuid, body.tag,
                                                **who(request))
    return progress.__dict__


@router.delete("/users/{user_uuid}/tag", status_code=204)
async def api_tag_remove(request: Request, user_uuid: str) -> Response:
    """Unpair the user's self-assign tag."""
    await run(request, "no tag paired").write(service.remove_tag, user_uuid, **who(request))
    return Response(status_code=204)


@router.post("/users/{user_uuid}/holsters", response_model=HolsterOut, status_code=201)
async def api_holster_pair(request: Request, user_uuid: str,
                           body: HolsterBody) -> dict[str, Any]:
    """Pair a holster sensor with the user's docked camera (state pending)."""
    view = await run(request, NO_USER).call(service.pair_holster, user_uuid, body.sensor_serial,
                                            **who(request))
    return view.__dict__


@router.delete("/users/{user_uuid}/holsters/{pairing_id}", status_code=204)
async def api_holster_remove(request: Request, user_uuid: str,
                             pairing_id: RowIdPath) -> Response:
    """Remove a paired holster sensor."""
    await run(request, "no such holster sensor").call(service.remove_holster, user_uuid,
                                                      pairing_id, **who(request))
    return Response(status_code=204)


def _policy_out(p: Any) -> dict[str, Any]:
    return {"shift_hours": p.shift_hours, "firmware": p.firmware}


@router.get("/assignment/settings")
async def get_policy(request: Request) -> dict[str, Any]:
    """Self-assign readiness: hours a shift needs, the firmware a camera must run."""
    return _policy_out(await run(request).read(service.policy))


@router.put("/assignment/settings", response_model=None)
async def put_policy(request: Request, body: PolicyBody) -> dict[str, Any]:
    """Change self-assign readiness (firmware null: the newest among the cameras)."""
    return _policy_out(await run(request).write(service.set_policy, body.shift_hours,
                                                body.firmware, **who(request)))


class AssignBody(BaseModel):
    """Who gets the camera (null: nobody)."""

    model_config = ConfigDict(extra="forbid")
    user_uuid: str | None = Field(default=None, max_length=36)


@router.put("/cameras/{serial}/user", response_model=CameraOut, tags=["cameras"])
async def assign_camera(request: Request, serial: str, body: AssignBody) -> dict[str, Any]:
    """Assign the camera to a user (fixed assignment); answers a notice when relevant."""
    view, notice = await run(request, f"no camera {serial}").call(
        service.assign, serial, body.user_uuid, **who(request))
    return out(view, notice)
