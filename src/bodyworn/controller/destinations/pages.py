"""Settings → Content destination: what the system is locked to, and a new connection file."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from bodyworn.controller.context import render
from bodyworn.controller.destinations import service
from bodyworn.controller.web.routes import run, who
from bodyworn.domain.connection_file import FieldError

router = APIRouter(include_in_schema=False)


@router.get("/settings/destination")
async def destination_page(request: Request, errors: list[FieldError] | None = None,
                           saved: bool = False) -> Response:
    """What the system is locked to, and a form for a new connection file."""
    cf = await run(request).read(service.current_summary)
    return render(request, "destinations/destination.html",
                  {"cf": cf, "errors": errors or [], "saved": saved},
                  status_code=400 if errors else 200)


@router.post("/settings/destination")
async def destination_submit(request: Request) -> Response:
    """Replace the connection file within what the lock allows."""
    form = await request.form()
    upload = form.get("connection_file")
    if not isinstance(upload, UploadFile):
        return await destination_page(request, [FieldError("connection_file", "is required")])
    raw = await upload.read(service.MAX_FILE + 1)
    try:
        await run(request).write(service.replace, raw, **who(request))
    except service.UpdateRefused as exc:
        return await destination_page(request, exc.errors)
    return await destination_page(request, saved=True)
