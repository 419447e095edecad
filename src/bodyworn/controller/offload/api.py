"""JSON twin of the transfer status page."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from bodyworn.controller.context import ctx_of
from bodyworn.controller.offload import service
from bodyworn.controller.web.routes import run

router = APIRouter(prefix="/api/v1/transfers", tags=["transfers"])


@router.get("")
async def list_transfers(request: Request, camera: str | None = None) -> dict[str, Any]:
    """Transfer state per camera, recording and clip (optionally of one camera)."""
    cameras = await run(request).read(service.transfers, camera, ctx_of(request).clock.now())
    return {"cameras": [_camera(c) for c in cameras],
            "cd_storage_full": ctx_of(request).health.cd_storage_full}


def _camera(found: service.CameraTransfers) -> dict[str, Any]:
    """A camera's transfers, each recording with its size in bytes and its progress 0..100."""
    data = asdict(found)
    for rec, view in zip(data["recordings"], found.recordings, strict=True):
        rec.update(size=view.size, progress=view.progress)
    return data
