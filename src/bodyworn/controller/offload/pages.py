"""Transfer status page: per camera, recording and clip; download of what was not transferred."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import FileResponse, Response

from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.offload import service
from bodyworn.controller.web.routes import run

router = APIRouter(include_in_schema=False)


@router.get("/transfers")
async def transfers_page(request: Request) -> Response:
    """Every camera's recordings: on the camera, in the controller, at the CD."""
    cameras = await run(request).read(service.transfers, None, ctx_of(request).clock.now())
    recordings = sorted((r for c in cameras for r in c.recordings), reverse=True,
                        key=lambda r: (r.started_at or r.updated_at, r.recording_id))
    return render(request, "offload/transfers.html", {
        "recordings": recordings,
        "cd_storage_full": ctx_of(request).health.cd_storage_full,
    })


@router.get("/transfers/clips/{clip_id}/download")
async def download_clip(request: Request, clip_id: int) -> Response:
    """A clip the CD can never take, straight from the spool."""
    row = await run(request).read(service.downloadable_clip, clip_id)
    spool = ctx_of(request).spool
    found = (row.camera_serial, row.name) if row is not None else None
    if found is None or not spool.held(*found):
        raise HTTPException(404, "no such clip waiting for download")
    return FileResponse(spool.path(*found), filename=found[1],
                        media_type="application/octet-stream")
