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
    return {"cameras": [asdict(c) for c in cameras],
            "cd_storage_full": ctx_of(request).health.cd_storage_full}
