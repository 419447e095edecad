"""The JSON twin of the Assistant pairing pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from bodyworn.controller.assistant_pairing import service
from bodyworn.controller.assistant_pairing.pages import sheet_renderer
from bodyworn.controller.context import ctx_of
from bodyworn.controller.users import service as users
from bodyworn.controller.web.routes import run, who

router = APIRouter(prefix="/api/v1", tags=["assistant"])
NO_USER = "no such user"
NO_PAIRING = "no such pairing"
PairingId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


class PairingOut(BaseModel):
    """An Assistant pairing of a user."""

    pairing_id: str
    mode: str
    state: str
    blocked_reason: str | None
    issued_at: datetime
    expires_at: datetime
    expired: bool
    device: str | None
    paired_at: datetime | None
    paired_camera: str | None
    mailed_to: str | None = None


class NewPairingOut(PairingOut):
    """A new pairing with its QR code's text and its PIN (valid 24 hours)."""

    qr_text: str
    pin: str


class PairingBody(BaseModel):
    """How the QR code reaches the user: "local" or "remote"; a Remote pairing with an
    `email` is mailed there (QR code and instructions, never the PIN)."""

    model_config = ConfigDict(extra="forbid")
    mode: str = "local"
    email: str | None = Field(default=None, max_length=254)


def _out(view: service.PairingView) -> dict[str, object]:
    return {"pairing_id": view.pairing_id, "mode": view.mode.value, "state": view.state.value,
            "blocked_reason": view.blocked_reason.value if view.blocked_reason else None,
            "issued_at": view.issued_at, "expires_at": view.expires_at,
            "expired": view.expired, "device": view.device, "paired_at": view.paired_at,
            "paired_camera": view.paired_camera, "mailed_to": view.mailed_to}


@router.get("/users/{user_uuid}/assistant-pairings")
async def list_pairings(request: Request, user_uuid: str) -> list[PairingOut]:
    """The user's Assistant pairings, newest first."""
    clock = ctx_of(request).clock
    await run(request, NO_USER).read(users.get, user_uuid)
    views = await run(request).read(service.pairings, clock, user_uuid)
    return [PairingOut.model_validate(_out(v)) for v in views]


@router.post("/users/{user_uuid}/assistant-pairings", status_code=201)
async def create_pairing(request: Request, user_uuid: str, body: PairingBody) -> NewPairingOut:
    """Issue a pairing; the answer holds its QR code's text and PIN."""
    ctx = ctx_of(request)
    clock = ctx.clock
    if body.mode == "remote" and body.email:
        pairing_id = await run(request, NO_USER).write(
            service.start_by_mail, user_uuid, body.email, render=sheet_renderer(request),
            system_name=ctx.system_name, language=ctx.language, **who(request))
    else:
        pairing_id = await run(request, NO_USER).write(service.start, user_uuid, body.mode,
                                                       **who(request))
    await run(request).call(service.push_to_user, user_uuid)
    code = await run(request, NO_PAIRING).read(service.code_of, clock, user_uuid, pairing_id)
    assert code is not None
    return NewPairingOut.model_validate({**_out(code.pairing), "qr_text": code.text,
                                         "pin": code.pin})


@router.delete("/users/{user_uuid}/assistant-pairings/{pairing_id}", status_code=204)
async def delete_pairing(request: Request, user_uuid: str, pairing_id: PairingId) -> Response:
    """End a pairing on the system side."""
    await run(request, NO_PAIRING).write(service.remove, user_uuid, pairing_id, **who(request))
    await run(request).call(service.push_to_user, user_uuid)
    return Response(status_code=204)
