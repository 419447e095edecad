"""Devices pages: the camera list, New (add), camera detail with assign, remove, unlock."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from bodyworn import __version__
from bodyworn.controller.cameras import service
from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.web.routes import run, who
from bodyworn.domain import assignment as rules
from bodyworn.firmware.bundle import SHIPPED_VERSION

router = APIRouter(include_in_schema=False)
USER_CHOICES = 2000
NO_CAMERA = "No such camera."


@router.get("/devices")
async def devices(request: Request) -> Response:
    """Devices opens on the camera list."""
    return RedirectResponse("/cameras", status_code=303)


@router.get("/cameras")
async def cameras_page(request: Request) -> Response:
    """Devices: every added camera with its user and where it is docked."""
    cams = await run(request).read(service.registered)
    new = await run(request).read(service.docked_new)
    mode = await run(request).read(service.assignment_mode)
    ctx = ctx_of(request)
    controllers = [{"name": ctx.system_name, "role": "primary",
                    "firmware": ctx.firmware_installed or SHIPPED_VERSION,
                    "software": __version__}]
    return render(request, "cameras/list.html", {
        "cameras": cams, "new_count": len(new), "mode": mode.value,
        "controllers": controllers, "system_firmware": ctx.firmware_installed,
        "added": request.query_params.get("added", "").replace(",", ", ")[:400],
        "removed": request.query_params.get("removed", "")[:64]})


@router.get("/devices/new")
async def new_page(request: Request, error: str = "", added: str = "") -> Response:
    """Devices → New: docked cameras not added to this system yet."""
    cams = await run(request).read(service.docked_new)
    return render(request, "cameras/new.html", {"cameras": cams, "error": error,
                                                "added": added},
                  status_code=409 if error else 200)


@router.post("/devices/new")
async def add_selected(request: Request) -> Response:
    """Add the selected new cameras."""
    form = await request.form()
    serials = [str(v) for v in form.getlist("serial")]
    if not serials:
        return await new_page(request, error="Select the cameras to add.")
    added: list[str] = []
    errors: list[str] = []
    for serial in serials:
        try:
            await run(request).call(service.add, serial, **who(request))
            added.append(serial)
        except LookupError:
            errors.append(f"{serial}: no such camera")
        except service.CameraRefused as exc:
            errors.append(f"{serial}: {exc.message}")
    if errors:
        return await new_page(request, error="; ".join(errors), added=", ".join(added))
    return RedirectResponse("/cameras?added=" + quote(",".join(added)), status_code=303)


async def camera_page(request: Request, serial: str, *, notice: str = "", error: str = "",
                      status_code: int = 200) -> Response:
    """The camera detail page with its forms."""
    view = await run(request, NO_CAMERA).call(service.refresh, serial)
    mode, choices = await run(request).read(service.assign_choices, USER_CHOICES)
    # Docked in a station that does not answer (docks/ checks them): where it is now,
    # nobody can tell.
    checked = ctx_of(request).health.station(view.station_serial or "") if view.docked else None
    silent = checked if checked is not None and not checked.answering else None
    return render(request, "cameras/detail.html", {
        "c": view, "mode": mode.value, "users": choices, "station_silent": silent,
        "assign_refusal": rules.fixed_assign_refusal(mode, view.facts()),
        "notice": notice, "error": error}, status_code=status_code)


@router.get("/cameras/{serial}")
async def camera_detail(request: Request, serial: str) -> Response:
    """A camera: serial, model, firmware, user, profile, battery, storage, dock, lock."""
    notice = {"removing": "The camera will be removed when it is docked and everything on it"
                          " is offloaded."}.get(request.query_params.get("notice", ""), "")
    return await camera_page(request, serial, notice=notice)


@router.post("/cameras/{serial}/remove")
async def camera_remove(request: Request, serial: str) -> Response:
    """Remove the camera: now if docked and offloaded, else at its next docking."""
    form = await request.form()
    if form.get("confirm") != "on":
        return await camera_page(request, serial, error="Tick the box to confirm the removal.",
                                 status_code=400)
    try:
        outcome = await run(request, NO_CAMERA).call(service.remove, serial, **who(request))
    except service.CameraRefused as exc:
        return await camera_page(request, serial, error=exc.message, status_code=exc.status)
    if outcome == "removed":
        return RedirectResponse(f"/cameras?removed={quote(serial)}", status_code=303)
    return RedirectResponse(f"/cameras/{quote(serial)}?notice=removing", status_code=303)


@router.post("/cameras/{serial}/unlock")
async def camera_unlock(request: Request, serial: str) -> Response:
    """Unlock a locked camera (super admin passphrase required)."""
    form = await request.form()
    passphrase = str(form.get("passphrase") or "")
    try:
        await run(request, NO_CAMERA).call(service.unlock, serial, passphrase, **who(request))
    except service.CameraRefused as exc:
        return await camera_page(request, serial, error=exc.message, status_code=exc.status)
    return await camera_page(request, serial, notice="The camera is unlocked.")
