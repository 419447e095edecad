"""JSON twin of Settings → Content destination."""

from __future__ import annotations

from fastapi import APIRouter, Request

from bodyworn.controller.destinations import service
from bodyworn.controller.web.routes import read_body, run, who

router = APIRouter(prefix="/api/v1/destination", tags=["content destination"])


@router.get("")
async def api_destination(request: Request) -> dict[str, object]:
    """What the system is locked to (the key and password are never shown)."""
    return await run(request).read(service.current_summary)


@router.put("/connection-file")
async def api_replace(request: Request) -> dict[str, object]:
    """Replace the connection file (body: the file's JSON) within what the lock allows."""
    raw = await read_body(request, service.MAX_FILE)
    return service.summary(await run(request).write(service.replace, raw, **who(request)))
