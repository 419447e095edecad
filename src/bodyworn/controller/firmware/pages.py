"""Settings → Firmware: the system's version, each controller's and camera's, upload and
install a signed firmware file."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.firmware import service
from bodyworn.controller.firmware.service import FirmwareRefused
from bodyworn.controller.web.routes import run, who
from bodyworn.firmware.bundle import MAX_BUNDLE_BYTES, MAX_UPLOAD_BYTES, SUFFIX

router = APIRouter(include_in_schema=False)


async def _page(request: Request, *, installed: str | None = None, refusal: str | None = None,
                status_code: int = 200) -> Response:
    ctx = ctx_of(request)
    versions = await run(request).read(service.versions, ctx.system_name)
    return render(request, "firmware/firmware.html", {
        "v": versions, "installed": installed, "refusal": refusal, "suffix": SUFFIX,
    }, status_code=status_code)


@router.get("/settings/firmware")
async def firmware_page(request: Request) -> Response:
    """Settings → Firmware."""
    return await _page(request)


async def read_upload(upload: object) -> bytes | None:
    """The uploaded file's bytes (one more than the limit, so a larger one is seen)."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return await upload.read(MAX_BUNDLE_BYTES + 1)


@router.post("/settings/firmware", max_body_size=MAX_UPLOAD_BYTES)
async def firmware_install(request: Request) -> Response:
    """Upload and install: verify, install, restart the controller's services."""
    data = await read_upload((await request.form()).get("firmware"))
    if data is None:
        return await _page(request, refusal="Select the firmware file.", status_code=400)
    try:
        version = await run(request).call(service.install, data, **who(request))
    except FirmwareRefused as exc:
        return await _page(request, refusal=exc.message, status_code=exc.status)
    services = ctx_of(request).services
    if services is not None:
        await services.restart(f"firmware {version} installed")
    return await _page(request, installed=version)
