"""The JSON twin of Support → System report (the answer is the zip itself)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from bodyworn.controller.support import service
from bodyworn.controller.support.pages import zip_download
from bodyworn.controller.web.routes import run, who

router = APIRouter(prefix="/api/v1/support", tags=["support"])


@router.post("/system-report", response_class=Response,
             responses={200: {"content": {"application/zip": {}}}})
async def post_system_report(request: Request) -> Response:
    """Build the system report now: a zip (versions, settings without secrets, devices,
    issues, transfers, audit tail, logs, the cameras' logs). Audited."""
    name, data = await run(request).call(service.build_report, **who(request))
    return zip_download(name, data)
