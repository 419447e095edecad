"""Support → System report: download the zip support asks for."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from bodyworn.controller.context import render
from bodyworn.controller.support import service
from bodyworn.controller.web.routes import run, who

router = APIRouter(include_in_schema=False)


def zip_download(name: str, data: bytes) -> Response:
    """A zip file as a download that no cache keeps."""
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/support")
async def support_home(request: Request) -> Response:
    """Support opens on the system report."""
    return await report_page(request)


@router.get("/support/system-report")
async def report_page(request: Request) -> Response:
    """Support → System report."""
    return render(request, "support/report.html", {})


@router.post("/support/system-report")
async def report_download(request: Request) -> Response:
    """Build the report now and download it."""
    name, data = await run(request).call(service.build_report, **who(request))
    return zip_download(name, data)
