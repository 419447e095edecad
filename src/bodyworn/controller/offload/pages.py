"""Transfer status page: per camera, recording and clip; download of what was not transferred."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from bodyworn.controller.context import ctx_of, render
from bodyworn.controller.offload import service

router = APIRouter(include_in_schema=False)


@router.get("/transfers")
async def transfers_page(request: Request) -> Response:
    """Every camera's recordings: on the camera, in the controller, at the CD."""
    ctx = ctx_of(request)

    def load() -> list[service.CameraTransfers]:
        with ctx.factory() as session:
            return service.transfers(session)

    cameras = await run_in_threadpool(load)
    engine = getattr(ctx, "offload", None)
    return render(request, "offload/transfers.html", {
        "cameras": cameras,
        "cd_storage_full": getattr(engine, "cd_storage_full", None),
    })


@router.get("/transfers/clips/{clip_id}/download")
async def download_clip(request: Request, clip_id: int) -> Response:
    """A clip the CD can never take, straight from the spool."""
    ctx = ctx_of(request)

    def find() -> tuple[str, str] | None:
        with ctx.factory() as session:
            row = service.downloadable_clip(session, clip_id)
            return (row.camera_serial, row.name) if row is not None else None

    found = await run_in_threadpool(find)
    engine = getattr(ctx, "offload", None)
    if found is None or engine is None or not engine.spool.held(*found):
        raise HTTPException(404, "no such clip waiting for download")
    return FileResponse(engine.spool.path(*found), filename=found[1],
                        media_type="application/octet-stream")
