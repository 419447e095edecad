"""Devices pages: the camera list, New (add), camera detail with assign, remove, unlock."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from bodyworn.controller.assignment import service as assignment
from bodyworn.controller.cameras import service
from bodyworn.controller.context import ControllerContext, ctx_of, render, source_of
from bodyworn.controller.users import service as users
from bodyworn.domain import assignment as rules

router = APIRouter(include_in_schema=False)
USER_CHOICES = 2000


def _actor(request: Request) -> str:
    return str(request.state.account.username)


def _not_found(request: Request) -> Response:
    return render(request, "error.html", {"status_code": 404, "message": "No such camera."}, 404)


@router.get("/devices")
async def devices(request: Request) -> Response:
    """Devices opens on the camera list."""
    return RedirectResponse("/cameras", status_code=303)


@router.get("/cameras")
async def cameras_page(request: Request) -> Response:
    """Devices: every added camera with its user and where it is docked."""
    ctx = ctx_of(request)

    def work() -> tuple[list[service.CameraView], int]:
        with ctx.factory() as session:
            return ([c for c in service.list_cameras(session) if c.state != "new"],
                    len([c for c in service.list_cameras(session, "new") if c.docked]))

    cams, new = await run_in_threadpool(work)
    return render(request, "cameras/list.html", {"cameras": cams, "new_count": new})


@router.get("/devices/new")
async def new_page(request: Request, error: str = "", added: str = "") -> Response:
    """Devices → New: docked cameras not added to this system yet."""
    ctx = ctx_of(request)

    def work() -> list[service.CameraView]:
        with ctx.factory() as session:
            return [c for c in service.list_cameras(session, "new") if c.docked]

    cams = await run_in_threadpool(work)
    return render(request, "cameras/new.html", {"cameras": cams, "error": error,
                                                "added": added},
                  status_code=409 if error else 200)


@router.post("/devices/new")
async def add_selected(request: Request) -> Response:
    """Add the selected new cameras."""
    ctx = ctx_of(request)
    form = await request.form()
    serials = [str(v) for v in form.getlist("serial")]
    if not serials:
        return await new_page(request, error="Select the cameras to add.")
    added: list[str] = []
    errors: list[str] = []
    for serial in serials:
        try:
            await run_in_threadpool(service.add, ctx, serial, actor=_actor(request),
                                    source=source_of(request))
            added.append(serial)
        except LookupError:
            errors.append(f"{serial}: no such camera")
        except service.CameraRefused as exc:
            errors.append(f"{serial}: {exc.message}")
    if errors:
        return await new_page(request, error="; ".join(errors), added=", ".join(added))
    return RedirectResponse("/cameras?added=" + quote(",".join(added)), status_code=303)


def _detail(ctx: ControllerContext, serial: str) -> dict[str, Any]:
    assignment.expire_windows(ctx)  # a self-assignment past its 15 s shows as lapsed
    view = service.refresh(ctx, serial)
    with ctx.factory() as session:
        mode = service.assignment_mode(session)
        choices, _total = users.list_users(session, "", USER_CHOICES, 0)
    return {"c": view, "mode": mode.value, "users": choices,
            "assign_refusal": rules.fixed_assign_refusal(mode, view.facts())}


async def camera_page(request: Request, serial: str, *, notice: str = "", error: str = "",
                      status_code: int = 200) -> Response:
    """The camera detail page with its forms."""
    ctx = ctx_of(request)
    try:
        data = await run_in_threadpool(_detail, ctx, serial)
    except LookupError:
        return _not_found(request)
    return render(request, "cameras/detail.html", {**data, "notice": notice, "error": error},
                  status_code=status_code)


@router.get("/cameras/{serial}")
async def camera_detail(request: Request, serial: str) -> Response:
    """A camera: serial, model, firmware, user, profile, battery, storage, dock, lock."""
    notice = {"removing": "The camera will be removed when it is docked and everything on it"
                          " is offloaded."}.get(request.query_params.get("notice", ""), "")
    return await camera_page(request, serial, notice=notice)


@router.post("/cameras/{serial}/assign")
async def camera_assign(request: Request, serial: str) -> Response:
    """Assign the camera to a user (fixed assignment); empty takes the user away."""
    ctx = ctx_of(request)
    form = await request.form()
    user_uuid = str(form.get("user_uuid") or "") or None
    try:
        _view, notice = await run_in_threadpool(lambda: service.assign(
            ctx, serial, user_uuid, actor=_actor(request), source=source_of(request)))
    except LookupError:
        return _not_found(request)
    except service.CameraRefused as exc:
        return await camera_page(request, serial, error=exc.message, status_code=exc.status)
    return await camera_page(request, serial, notice=("Saved. " + notice).strip())


@router.post("/cameras/{serial}/remove")
async def camera_remove(request: Request, serial: str) -> Response:
    """Remove the camera: now if docked and offloaded, else at its next docking."""
    ctx = ctx_of(request)
    form = await request.form()
    if form.get("confirm") != "on":
        return await camera_page(request, serial, error="Tick the box to confirm the removal.",
                                 status_code=400)
    try:
        outcome = await run_in_threadpool(lambda: service.remove(
            ctx, serial, actor=_actor(request), source=source_of(request)))
    except LookupError:
        return _not_found(request)
    except service.CameraRefused as exc:
        return await camera_page(request, serial, error=exc.message, status_code=exc.status)
    if outcome == "removed":
        return RedirectResponse(f"/cameras?removed={quote(serial)}", status_code=303)
    return RedirectResponse(f"/cameras/{quote(serial)}?notice=removing", status_code=303)


@router.post("/cameras/{serial}/unlock")
async def camera_unlock(request: Request, serial: str) -> Response:
    """Unlock a locked camera (super admin passphrase required)."""
    ctx = ctx_of(request)
    form = await request.form()
    passphrase = str(form.get("passphrase") or "")
    try:
        await run_in_threadpool(lambda: service.unlock(
            ctx, serial, passphrase, actor=_actor(request), source=source_of(request)))
    except LookupError:
        return _not_found(request)
    except service.CameraRefused as exc:
        return await camera_page(request, serial, error=exc.message, status_code=exc.status)
    return await camera_page(request, serial, notice="The camera is unlocked.")
